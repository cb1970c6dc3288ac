"""Publishers on real PostgreSQL and Valkey for the tests: each on a control database and
a Redis prefix of its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import clickhouse_connect
import psycopg
import redis.asyncio as aioredis

from tests.integration.e2e_support import serving
from turnout.api.settings import ApiSettings
from turnout.config.manifest import manifest_of
from turnout.config.model import Graph
from turnout.config.store import GraphStore, VersionInfo
from turnout.control import db, versions
from turnout.control.graph_patch import workspace_of
from turnout.control.publisher import Publisher


def prefix() -> str:
    return f"test:graph:{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def publisher(url: str, redis_url: str, graph_prefix: str, **options: Any
                    ) -> AsyncIterator[Publisher]:
    pool = await db.open_pool(url, max_size=4)
    client = aioredis.from_url(redis_url)
    made = Publisher(lambda: db.connection(pool), GraphStore(client, graph_prefix), **options)
    try:
        yield made
    finally:
        await made.stop()
        await client.aclose()
        await pool.close()


async def eventually(check: Callable[[], Any], timeout: float = 10.0,
                     step: float = 0.02) -> float:
    """Seconds until `await check()` is truthy; AssertionError after `timeout`."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(step)


async def record_version(url: str, graph: Graph, version: int = 1, actor: str = "test"
                         ) -> None:
    """A whole version in graph_versions, as the publisher records a first one."""
    manifest, documents = manifest_of(graph)
    owner = {d: workspace_of(e) for section in manifest.sections
             for e, (_, d) in zip(getattr(graph, section), manifest.entries(section),
                                  strict=True)}
    info = VersionInfo(version=version, published_at_ms=int(time.time() * 1000), actor=actor)
    part = versions.WorkspacePart(actors=[actor], notes=[], changed={})
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await versions.record(conn, versions.NewVersion(
            info=info, manifest=manifest, changed={}, workspaces={
                w.id: part for w in graph.workspaces},
            documents=versions.documents_of(manifest, documents, owner)))


@contextlib.asynccontextmanager
async def api_server(settings: ApiSettings) -> AsyncIterator[str]:
    """`turnout api` (real uvicorn, the publisher started, report facts read from the
    published graph) on a free port; its URL."""
    dsn, database = settings.clickhouse_dsn, settings.database
    async with serving(settings, lambda: clickhouse_connect.get_client(dsn=dsn,
                                                                       database=database),
                       None) as url:
        yield url
