"""A governor in process on the session's real services: its own control database (the
example graph imported), its own graph prefix in Valkey, a migrated ClickHouse database,
passes run by the test with the time it wants (`Governor.run_pass(now_ms)`)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import clickhouse_connect
import psycopg

from tests.integration.control_support import control_database
from tests.integration.publish_support import eventually
from turnout.config.model import Graph
from turnout.control.graph_write import import_graph
from turnout.governor.service import Governor
from turnout.governor.settings import GovernorSettings
from turnout.governor.tick import Task


async def control_with(postgres_url: str, graph: Graph) -> str:
    """A migrated control database holding `graph`; its URL."""
    url = control_database(postgres_url)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await import_graph(conn, graph)
    return url


def governor_settings(url: str, redis_url: str, clickhouse_dsn: str, database: str,
                      prefix: str | None = None, **changes: Any) -> GovernorSettings:
    return GovernorSettings(
        clickhouse_dsn=clickhouse_dsn, database=database, redis_url=redis_url,
        graph_prefix=prefix or f"gov-test-{uuid.uuid4().hex[:8]}", postgres_url=url,
        **changes)


@contextlib.asynccontextmanager
async def governing(settings: GovernorSettings, tasks: Sequence[Task]) -> AsyncIterator[Governor]:
    """A started governor (no loop of its own) whose graph follower holds the published
    graph: the publisher puts the stored graph into Redis at start."""

    def make() -> Any:
        return clickhouse_connect.get_client(dsn=settings.clickhouse_dsn,
                                             database=settings.database)

    governor = Governor(settings, tasks, make)
    await governor.start(run_loop=False)
    try:
        await eventually(_loaded(governor), timeout=20)
        yield governor
    finally:
        await governor.stop()


def _loaded(governor: Governor) -> Any:
    async def check() -> bool:
        return governor.graph.snapshot is not None

    return check


async def rows(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(query, args)
        return await cursor.fetchall()
