"""PostgreSQL restarted under a running `turnout api` (issue #15, "PostgreSQL restarted").

`turnout api` (a real process) on a PostgreSQL of the test's own, beside a real edge on the
session's stack. PostgreSQL is stopped: every admin call is answered 503 problem+json with
Retry-After (no 500, no hang), and the edge keeps serving clicks (it never needs
PostgreSQL). PostgreSQL is started again on the same port: the admin API answers again.
Measured: the slowest 503 during the outage, and PostgreSQL ready -> first admin 200.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.admin_support import bearer, make_key, make_workspaces
from tests.integration.edge_support import (
    ROOT,
    assert_safe,
    camp_a_load,
    edge_client,
    fire,
    running_edge,
)
from turnout.control.migrate import migrate
from turnout.local.services import (
    POSTGRES_USER,
    LocalStack,
    Service,
    die_with_parent,
    free_port,
    http_ok,
    postgres,
    stop_process,
)

pytestmark = pytest.mark.slow

OUTAGE_CALLS = 3
ADMIN_PATH = "/api/v1/audit"  # read from PostgreSQL (the key itself may be cached)


@contextlib.contextmanager
def own_postgres(tmp_path: Path) -> Iterator[Service]:
    service = postgres(tmp_path)
    service.start(timeout=60)
    try:
        yield service
    finally:
        service.stop()


def url_of(service: Service) -> str:
    return f"postgresql://{POSTGRES_USER}@127.0.0.1:{service.port}/{POSTGRES_USER}"


@contextlib.asynccontextmanager
async def turnout_api(stack: LocalStack, postgres_url: str, workdir: Path
                      ) -> AsyncIterator[str]:
    """`turnout api` on a free port against `postgres_url` (the rest: the session's stack,
    ClickHouse an embedded one of its own); its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environ = {**os.environ, **stack.environ(), "TURNOUT_POSTGRES_URL": postgres_url,
               "TURNOUT_CLICKHOUSE_DSN": f"chdb://{workdir / 'chdb'}",
               "TURNOUT_GRAPH_PREFIX": f"pg-restart-{port}", "TURNOUT_API_PORT": str(port)}
    with (workdir / "api.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "turnout.cli.main", "api"],
                                   env=environ, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 30
        while not http_ok(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((workdir / "api.log").read_text()[-3000:])
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process, 10)


async def timed_get(client: httpx.AsyncClient, token: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.get(ADMIN_PATH, headers=bearer(token))
    return response, time.monotonic() - started


async def test_admin_api_answers_503_while_postgres_restarts(stack: LocalStack,
                                                             tmp_path: Path) -> None:
    with own_postgres(tmp_path / "pg") as pg:
        url = url_of(pg)
        migrate(url)
        await make_workspaces(url, "acme")
        token = await make_key(url, "acme", "viewer")
        async with (turnout_api(stack, url, tmp_path / "api") as api_url,
                    running_edge(stack, tmp_path / "edge") as edge,
                    edge_client(edge) as clicks,
                    httpx.AsyncClient(base_url=api_url, timeout=15) as admin):
            before, _ = await timed_get(admin, token)
            assert before.status_code == 200, before.text

            pg.stop()
            outage = [await timed_get(admin, token) for _ in range(OUTAGE_CALLS)]
            sent = await fire(clicks, camp_a_load(200, b"pg-restart"), 4)

            pg.start(timeout=60)
            ready = time.monotonic()
            after, _ = await timed_get(admin, token)
            while after.status_code != 200 and time.monotonic() - ready < 20:
                after, _ = await timed_get(admin, token)
            recovered = time.monotonic() - ready
    slowest = max(seconds for _, seconds in outage)
    print("outage calls:", [f"{s:.3f}" for _, s in outage])
    print(f"\npostgres restart: {OUTAGE_CALLS} admin calls during the outage, slowest 503 "
          f"{slowest:.3f} s; PostgreSQL ready -> admin 200 {recovered:.3f} s")
    for response, _ in outage:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) >= 1
        assert "PostgreSQL" in response.json()["detail"]
    assert after.status_code == 200, after.text
    assert_safe(sent)
    assert all(s.status == 302 for s in sent)
