"""schemathesis against the API's own OpenAPI document: the whole app (report and admin
routes) served by uvicorn in a thread on real PostgreSQL, Valkey and chdb, every operation
of the document called with generated cases, each answer checked against the document.

`TURNOUT_FUZZ_EXAMPLES` scales the examples per operation (a hundredth of it, at least 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import clickhouse_connect
import httpx
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.fuzz_support import EXAMPLES
from turnout.api.admin.ratelimit import RateLimiter
from turnout.api.app import close_app, create_app
from turnout.api.settings import ApiSettings
from turnout.local.services import free_port
from turnout.reports.workspaces import StaticFacts

CHECKS: Final = [not_a_server_error, response_schema_conformance, status_code_conformance,
                 content_type_conformance]
OPERATION_EXAMPLES: Final = max(3, EXAMPLES // 100)


@dataclass
class ServedApi:
    base_url: str
    document: dict[str, Any]


@contextlib.contextmanager
def served_api(postgres: str, redis_url: str, clickhouse: tuple[str, str],
               facts: StaticFacts) -> Iterator[ServedApi]:
    """The API app on a free port, served from its own thread and event loop (its pools
    open on first use, in that loop); closed with the app afterwards."""
    dsn, database = clickhouse
    config = ApiSettings(postgres_url=postgres, redis_url=redis_url, clickhouse_dsn=dsn,
                         database=database, pool_size=2,
                         graph_prefix=f"test:graph:{uuid.uuid4().hex[:8]}")
    limiter = RateLimiter(redis_url, prefix=f"test:ratelimit:{uuid.uuid4().hex[:8]}:")
    app = create_app(config, lambda: clickhouse_connect.get_client(dsn=dsn, database=database),
                     facts, limiter=limiter)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            await close_app(app)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield ServedApi(base_url, httpx.get(f"{base_url}/openapi.json", timeout=10).json())
    finally:
        server.should_exit = True
        thread.join(30)


def schema_findings(api: ServedApi, headers: dict[str, str],
                    wanted: Callable[[str, str], bool] = lambda method, path: True,
                    checks: list[Any] = CHECKS) -> dict[str, str]:
    """Every operation of the document (those `wanted`) called with generated cases and
    checked with `checks`: operation -> its failures (empty: none failed)."""
    schema = schemathesis.openapi.from_dict(api.document)
    findings: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wanted(operation.method.upper(), operation.path):
            continue

        @settings(max_examples=OPERATION_EXAMPLES, derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=api.base_url, headers=headers, checks=checks)

        try:
            conforms()
        except (AssertionError, Exception, BaseExceptionGroup) as exc:  # each finding is told
            findings[operation.label] = str(exc)[:4000]
    return findings
