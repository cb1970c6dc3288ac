"""Automation and webhook tasks on the entity world (tests/integration/entities_support.py): a
Tick on its control database, a migrated ClickHouse database of its own, the app's
publisher; and clicks and conversions written through the ingest store."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import clickhouse_connect
import httpx
import redis.asyncio as aioredis

from tests.integration.admin_support import clickhouse_database
from tests.integration.entities_support import World
from tests.integration.ingest_support import click
from turnout.control.db import Pool, open_pool
from turnout.events import Click
from turnout.governor.tick import ClickHouse, Tick
from turnout.ingest import schema
from turnout.ingest.records import click_columns, conversion_columns
from turnout.ingest.store import Store

# 2030-01-01 12:00 UTC: inside every example campaign's schedule.
NOW_MS = int(dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC).timestamp() * 1000)
MINUTE_MS = 60_000


@dataclass
class Governed:
    world: World
    pool: Pool
    clickhouse: ClickHouse
    store: Store
    redis: aioredis.Redis
    http: httpx.AsyncClient

    def tick(self, now_ms: int = NOW_MS) -> Tick:
        return Tick(now_ms=now_ms, epoch=1, pool=self.pool, redis=self.redis,
                    prefix="test:governor", clickhouse=self.clickhouse,
                    publisher=self.world.recorder, http=self.http)

    def clicks(self, campaign: str, count: int, *, at_ms: int, cost_micros: int = 0,
               **fields: Any) -> list[Click]:
        """`count` human clicks on `campaign` of acme at `at_ms`, stored."""
        made = [click("acme", campaign, ts_ms=at_ms, cost_micros=cost_micros,
                      cost_model="cpc", **fields) for _ in range(count)]
        self.store.insert("clicks", click_columns(made), uuid.uuid4().hex)
        return made

    def conversions(self, clicks: Sequence[Click], payout_micros: int) -> None:
        """An approved, attributed conversion of each of `clicks`, stored."""
        rows = []
        for c in clicks:
            row = {name: _zero(type_) for name, type_ in schema.CONVERSIONS}
            row.update({name: getattr(c, name) for name, _ in schema.CLICK_DIMENSIONS
                        if hasattr(c, name) and not name.startswith("sub")})
            ts = dt.datetime.fromtimestamp(c.ts_ms / 1000, dt.UTC)
            row.update(schema_version=1, conversion_id=uuid.uuid4().hex, click_id=c.click_id,
                       visitor_id=c.visitor_id, txid=uuid.uuid4().hex, status="approved",
                       payout_micros=payout_micros, ts=ts + dt.timedelta(minutes=1),
                       source="postback", version=1, attributed=True,
                       attribution="click_id", in_window=True, click_ts=ts,
                       click_kind=c.kind)
            rows.append(row)
        self.store.insert("conversions", conversion_columns(rows), uuid.uuid4().hex)


def _zero(type_: str) -> Any:
    if type_.startswith(("UInt", "Int")):
        return 0
    if type_ == "Bool":
        return False
    if type_.startswith("DateTime"):
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return ""


@contextlib.asynccontextmanager
async def governed(world: World, clickhouse_dsn: str, redis_url: str
                   ) -> AsyncIterator[Governed]:
    with clickhouse_database(clickhouse_dsn, "governor") as (dsn, database):
        pool = await open_pool(world.url, max_size=4, wait=True)
        reader = ClickHouse(lambda: clickhouse_connect.get_client(dsn=dsn, database=database),
                            database)
        store = Store(clickhouse_connect.get_client(dsn=dsn), database)
        redis = aioredis.Redis.from_url(redis_url)
        try:
            async with httpx.AsyncClient() as http:
                yield Governed(world, pool, reader, store, redis, http)
        finally:
            reader.close()
            store.client.close()
            await redis.aclose()
            await pool.close()
