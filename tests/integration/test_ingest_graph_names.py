"""ingest follows the graph store and writes every version's names into the dim tables."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import clickhouse_connect
import msgspec
from redis.asyncio import Redis

from tests.integration.ingest_support import make_database
from turnout.cli.dev import EXAMPLE_GRAPH
from turnout.config.io import load_graph
from turnout.config.store import GraphStore
from turnout.ingest.graph_names import follow_graph


def _client(dsn: str, database: str) -> Any:
    client = clickhouse_connect.get_client(dsn=dsn)
    client.database = database
    return client


async def _names(client: Any, version: int) -> dict[str, str]:
    rows = await asyncio.to_thread(
        lambda: client.query(
            "SELECT id, name FROM dim_campaigns FINAL WHERE graph_version = {v:UInt64}",
            parameters={"v": version}).result_rows)
    return dict(rows)


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_every_published_version_gets_its_names(redis_url: str, clickhouse_dsn: str
                                                      ) -> None:
    database = make_database(clickhouse_dsn)
    client = _client(clickhouse_dsn, database)
    prefix = f"test:{uuid.uuid4().hex}"
    redis = Redis.from_url(redis_url)
    store = GraphStore(redis, prefix)
    graph = load_graph(EXAMPLE_GRAPH)
    first = await store.publish(graph)
    follower = asyncio.create_task(
        follow_graph(redis_url, prefix, lambda: _client(clickhouse_dsn, database), database))
    try:
        await _until(lambda: _has(client, first, "camp-a"))
        assert (await _names(client, first))["camp-a"] == "Campaign A"
        renamed = msgspec.structs.replace(graph, campaigns=tuple(
            msgspec.structs.replace(c, name="Campaign A (renamed)") if c.id == "camp-a" else c
            for c in graph.campaigns))
        second = await store.publish(renamed)
        await _until(lambda: _has(client, second, "camp-a"))
        assert (await _names(client, second))["camp-a"] == "Campaign A (renamed)"
        assert (await _names(client, first))["camp-a"] == "Campaign A"  # history kept
        offers = await asyncio.to_thread(lambda: client.query(
            "SELECT id, payout_micros FROM dim_offers FINAL WHERE graph_version = 1"
        ).result_rows)
        assert dict(offers)["vpn-us"] == 12_500_000
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await redis.aclose()


async def _has(client: Any, version: int, campaign: str) -> bool:
    return campaign in await _names(client, version)
