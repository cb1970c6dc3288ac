"""The governor's tasks on real PostgreSQL, Valkey and chdb: a control database with a
graph imported, a publisher, a ClickHouse database, and Ticks at any time a test names."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import clickhouse_connect
import httpx
import psycopg
import redis.asyncio as aioredis

from tests.integration.admin_support import clickhouse_database
from tests.integration.control_support import control_database
from tests.integration.publish_support import eventually, prefix, publisher
from turnout.config.compile import compile_graph
from turnout.config.decode import graph_from_builtins
from turnout.config.meters import SEEDED, seeded_key
from turnout.config.model import Graph
from turnout.control import db
from turnout.control.graph_write import import_graph
from turnout.control.publisher import Publisher
from turnout.governor.tick import ClickHouse, Tick

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def money_graph(ws: str, *, timezone: str = "UTC", campaigns: dict[str, dict[str, Any]],
                offers: dict[str, dict[str, Any]] | None = None) -> Graph:
    """A workspace with one source and network, `offers` (id -> fields) and `campaigns`
    (id -> fields; each sends its default path to the offer named by `offer`, else the
    first offer)."""
    offers = offers or {f"{ws}-offer": {}}
    first = next(iter(offers))
    return graph_from_builtins({
        "workspaces": [{"id": ws, "name": ws, "timezone": timezone, "currency": "EUR"}],
        "traffic_sources": [{"id": f"{ws}-src", "workspace": ws, "name": "Source"}],
        "networks": [{"id": f"{ws}-net", "workspace": ws, "name": "Net",
                      "secret": "a-postback-secret-0123"}],
        "offers": [{"id": oid, "workspace": ws, "name": oid, "network": f"{ws}-net",
                    "url": "https://offer.example.com/?c={clickid}", "payout": "2.00",
                    **fields} for oid, fields in offers.items()],
        "campaigns": [{"id": cid, "workspace": ws, "name": cid, "code": cid.upper(),
                       "traffic_source": f"{ws}-src", "status": "active",
                       "default": [{"id": "d", "kind": "offer",
                                    "ref": fields.get("offer", first)}],
                       **{k: v for k, v in fields.items() if k != "offer"}}
                      for cid, fields in campaigns.items()],
    })


@dataclass
class Governed:
    url: str  # the control database
    pool: db.Pool
    redis: aioredis.Redis
    prefix: str
    clickhouse: ClickHouse
    ch: Any  # a client of the same ClickHouse database, for the test's inserts and reads
    publisher: Publisher
    http: httpx.AsyncClient
    graph: Graph

    def tick(self, now_ms: int, epoch: int = 1) -> Tick:
        return Tick(now_ms, epoch, self.pool, self.redis, self.prefix, self.clickhouse,
                    self.publisher, self.http, compile_graph(self.graph, 1))

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            cursor = await conn.execute(sql, args)
            return await cursor.fetchall()


@contextlib.asynccontextmanager
async def governed(postgres_url: str, redis_url: str, clickhouse_dsn: str, graph: Graph
                   ) -> AsyncIterator[Governed]:
    url = control_database(postgres_url)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await import_graph(conn, graph)
    graph_prefix = prefix()
    with clickhouse_database(clickhouse_dsn, "governor") as (dsn, database):
        pool = await db.open_pool(url, max_size=4)
        redis = aioredis.from_url(redis_url)
        await redis.set(seeded_key(graph_prefix), SEEDED)  # a ledger the governor seeded
        ch = clickhouse_connect.get_client(dsn=dsn, database=database)
        clickhouse = ClickHouse(lambda: clickhouse_connect.get_client(dsn=dsn,
                                                                      database=database),
                                database)
        try:
            async with publisher(url, redis_url, graph_prefix) as pub, \
                    httpx.AsyncClient() as http:
                await pub.start()
                assert await pub.ready(20)
                await eventually(lambda: _published(pub))  # version 1: the graph as stored
                yield Governed(url, pool, redis, graph_prefix, clickhouse, ch, pub, http, graph)
        finally:
            clickhouse.close()
            ch.close()
            await redis.aclose()
            await pool.close()


async def _published(pub: Publisher) -> bool:
    return await pub.store.current_version() is not None


def unique_ws() -> str:
    return f"gw{uuid.uuid4().hex[:8]}"
