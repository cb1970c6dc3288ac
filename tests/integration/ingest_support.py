"""Helpers for the ingest integration tests: unique topics, producing, running ingest."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import clickhouse_connect
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from turnout.clickid import ClickIds
from turnout.events import ENCODER, Click, Conversion
from turnout.ingest.consumer import ClientFactory, run_ingest
from turnout.ingest.migrate import migrate
from turnout.ingest.settings import IngestSettings

IDS = ClickIds()
# The materialized views fed by `clicks`, and their tables.
VIEWS = ("clicks_geo_mv", "clicks_wide_mv", "fixed_cost_terms_mv")
TARGETS = ("clicks_geo", "clicks_wide", "fixed_cost_terms")


def totals(ch: Any, ws: str) -> dict[str, int]:
    """Rows of the workspace in `clicks` (and distinct ids), and what each rollup counts
    (a click counts in all three when its cost model is fixed_total)."""
    sql = {
        "clicks": "SELECT count() FROM clicks WHERE workspace_id = {w:String}",
        "ids": "SELECT uniqExact(click_id) FROM clicks WHERE workspace_id = {w:String}",
        "geo": "SELECT sum(clicks) FROM clicks_geo WHERE workspace_id = {w:String}",
        "wide": "SELECT sum(clicks) FROM clicks_wide WHERE workspace_id = {w:String}",
        "fixed": "SELECT sum(clicks) FROM fixed_cost_terms WHERE workspace_id = {w:String}",
    }
    return {name: int(ch.query(q, parameters={"w": ws}).result_rows[0][0])
            for name, q in sql.items()}


@contextlib.contextmanager
def views_detached(ch: Any, database: str) -> Iterator[None]:
    """`clicks` inserts write no rollup until the block ends: a crash (or a failed try)
    between the table's part and the views' parts, made deterministic."""
    for view in VIEWS:
        ch.command(f"DETACH TABLE {database}.{view}")
    try:
        yield
    finally:
        for view in VIEWS:
            ch.command(f"ATTACH TABLE {database}.{view}")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def make_database(dsn: str) -> str:
    name = unique("ingest_test")
    migrate(clickhouse_connect.get_client(dsn=dsn), name)
    return name


async def make_topics(bootstrap: str, partitions: int = 3) -> dict[str, str]:
    """Fresh topics for one test, so nothing another test produced is consumed."""
    tag = uuid.uuid4().hex[:10]
    names = {kind: f"test.{tag}.{kind}" for kind in ("clicks", "conversions", "events", "dlq")}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names.values()])
    finally:
        await admin.close()
    return names


def settings_for(database: str, topics: dict[str, str], **changes: Any) -> IngestSettings:
    base = IngestSettings(
        database=database,
        group_id=unique("group"),
        batch_size=500,
        batch_wait_s=0.2,
        attribution_grace_s=3.0,
        visitor_settle_s=0.2,
        retry_initial_s=0.05,
        retry_max_s=0.3,
        kafka_idempotence=False,
        # A consumer a test kills or cancels never leaves its group: the next one gets the
        # partitions when the dead member's session ends, 3 s here instead of 10.
        session_timeout_ms=3_000,
        heartbeat_interval_ms=500,
        topic_clicks=topics["clicks"],
        topic_conversions=topics["conversions"],
        topic_events=topics["events"],
        topic_dlq=topics["dlq"],
    )
    return replace(base, **changes)


def click(workspace: str, campaign: str = "c1", **fields: Any) -> Click:
    ts = fields.pop("ts_ms", int(time.time() * 1000))
    values: dict[str, Any] = {
        "click_id": IDS.new(ts),
        "ts_ms": ts,
        "workspace_id": workspace,
        "campaign_id": campaign,
        "campaign_code": campaign.upper(),
        "graph_version": 1,
        "rule_id": "default",
        "visitor_id": unique("v"),
        "country": "US",
        "device": "mobile",
    }
    values.update(fields)
    return Click(**values)


def conversion(**fields: Any) -> Conversion:
    ts = fields.pop("ts_ms", int(time.time() * 1000))
    return Conversion(conversion_id=IDS.new(ts), ts_ms=ts, **fields)


async def produce(bootstrap: str, topic: str, items: Iterable[Any]) -> int:
    """Send structs (encoded) or raw bytes; key = click id where there is one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    count = 0
    try:
        futures = []
        for item in items:
            raw = item if isinstance(item, bytes) else ENCODER.encode(item)
            key = getattr(item, "click_id", "") or getattr(item, "visitor_id", "") or None
            futures.append(await producer.send(topic, raw, key=key.encode() if key else None))
            count += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return count


@dataclass
class Running:
    task: asyncio.Task[None]
    stop: asyncio.Event

    async def close(self, timeout: float = 30) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout)


@contextlib.asynccontextmanager
async def ingesting(
    bootstrap: str, clients: ClientFactory, settings: IngestSettings, kinds: tuple[str, ...]
) -> AsyncIterator[Running]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_ingest(bootstrap, clients, settings, stop, kinds))
    running = Running(task, stop)
    try:
        yield running
    finally:
        if not task.done():
            await running.close()
        elif not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def wait_for(
    probe: Callable[[], Any], expected: Any, timeout: float = 30.0, running: Running | None = None
) -> Any:
    """Poll `probe` (blocking, run in a thread) until it returns `expected`."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(probe)
        if value == expected:
            return value
        if running is not None and running.task.done():
            running.task.result()
            raise AssertionError("ingest stopped early")
        await asyncio.sleep(0.1)
    raise AssertionError(f"waited {timeout}s for {expected!r}, last saw {value!r}")
