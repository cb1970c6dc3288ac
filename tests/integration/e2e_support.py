"""Helpers for the end-to-end test: an isolated copy of the example graph, ingest caught-up
checks, the report API on a free port, and report rows in a comparable form."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import clickhouse_connect
import httpx
import msgspec

from tests.integration.edge_support import EXAMPLE
from turnout.api.keys import key_line, parse_keys
from turnout.api.server import serve
from turnout.api.settings import ApiSettings
from turnout.config.io import load_graph
from turnout.config.model import Graph
from turnout.local.services import free_port
from turnout.reports.workspaces import FactsCache

METRICS = ("clicks", "unique_clicks", "bot_clicks", "lp_clicks", "conversions", "revenue",
           "cost", "profit", "roi")
COUNTS = ("clicks", "unique_clicks", "bot_clicks", "lp_clicks", "conversions")
Key = tuple[str, str, str]


def example_in_workspace(workspace_id: str) -> Graph:
    """examples/graph.yaml with its workspace renamed, so this test's rows are its own
    although other tests send the same example graph's traffic through the same topics."""
    graph = load_graph(EXAMPLE)
    renamed: dict[str, Any] = {}
    for section in ("traffic_sources", "networks", "offers", "landers", "funnels",
                    "campaigns"):
        renamed[section] = tuple(msgspec.structs.replace(entity, workspace=workspace_id)
                                 for entity in getattr(graph, section))
    (workspace,) = graph.workspaces
    return msgspec.structs.replace(
        graph, workspaces=(msgspec.structs.replace(workspace, id=workspace_id),), **renamed)


def ingest_counts(dsn: str, database: str, workspace: str) -> Callable[[], dict[str, Any]]:
    """A probe of what ingest stored for `workspace`, shaped like Result.expected_ingest."""
    client = clickhouse_connect.get_client(dsn=dsn, database=database)

    def probe() -> dict[str, Any]:
        parameters = {"w": workspace}
        clicks, lp_clicks = client.query(
            "SELECT countIf(kind = 'click'), countIf(kind = 'lp_click') FROM clicks FINAL"
            " WHERE workspace_id = {w:String}", parameters=parameters).result_rows[0]
        statuses = client.query(
            "SELECT status, count() FROM conversions FINAL WHERE workspace_id = {w:String}"
            " GROUP BY status ORDER BY status", parameters=parameters).result_rows
        return {"clicks": clicks, "lp_clicks": lp_clicks,
                "conversions": {status: count for status, count in statuses}}

    return probe


async def caught_up(probe: Callable[[], dict[str, Any]], expected: dict[str, Any],
                    timeout: float, check: Callable[[], None]) -> float:
    """Poll until the stored counts equal `expected`; the seconds it took."""
    started = time.monotonic()
    seen: dict[str, Any] = {}
    while time.monotonic() - started < timeout:
        seen = await asyncio.to_thread(probe)
        if seen == expected:
            return time.monotonic() - started
        check()
        await asyncio.sleep(0.5)
    raise AssertionError(f"ingest not caught up after {timeout}s: stored {seen}, "
                         f"expected {expected}")


@contextlib.asynccontextmanager
async def serving(settings: ApiSettings, clients: Any, facts: Any) -> AsyncIterator[str]:
    """`turnout api` (real uvicorn) on a free port until the block ends; its URL."""
    port = free_port()
    task = asyncio.create_task(serve(settings, clients, "127.0.0.1", port, facts))
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                if task.done():
                    task.result()
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield url
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def report_api(dsn: str, database: str, redis_url: str, prefix: str, workspace: str,
                     token: str) -> AsyncIterator[str]:
    """The report API (real uvicorn) on a free port, reading this process's chdb; its URL."""
    settings = ApiSettings(clickhouse_dsn=dsn, database=database, redis_url=redis_url,
                           graph_prefix=prefix, api_keys=parse_keys(key_line(workspace, token)),
                           pool_size=2)

    def clients() -> Any:
        return clickhouse_connect.get_client(dsn=dsn, database=database)

    facts = FactsCache(redis_url, prefix, 30.0)
    try:
        async with serving(settings, clients, facts) as url:
            yield url
    finally:
        await facts.aclose()


def _value(name: str, raw: Any) -> Any:
    if name in COUNTS:
        return int(raw)
    return None if raw in (None, "") else Decimal(str(raw))


def comparable(rows: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Report or truth rows as {(campaign, country, device): {metric: int | Decimal | None}}."""
    out: dict[Key, dict[str, Any]] = {}
    for row in rows:
        key = (row["campaign"], row["country"], row["device"])
        assert key not in out, f"two rows for {key}"
        out[key] = {name: _value(name, row[name]) for name in METRICS}
    return out


def csv_rows(text: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(text)))


def differences(got: dict[Key, dict[str, Any]], want: dict[Key, dict[str, Any]]
                ) -> list[str]:
    problems = [f"{key}: missing from the report" for key in sorted(want.keys() - got.keys())]
    problems += [f"{key}: not in the ground truth: {got[key]}"
                 for key in sorted(got.keys() - want.keys())]
    for key in sorted(want.keys() & got.keys()):
        for name in METRICS:
            if got[key][name] != want[key][name]:
                problems.append(f"{key} {name}: report {got[key][name]}, "
                                f"truth {want[key][name]}")
    return problems
