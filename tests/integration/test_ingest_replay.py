"""A clicks batch stored in `clicks` but not in every rollup is repaired by its replay.

ClickHouse writes an insert into `clicks` as the table's part, then one part per
materialized view; ingest killed in between leaves the batch uncommitted. Detaching the
views while the batch is written is that crash made deterministic: `clicks` has the rows,
no rollup has them. The batch is written by the real consumer and pipeline, stopped before
the commit that would follow the write. More clicks are produced before the replay, so a
replay that did not cut the batch at the span its rows were stored under would be another,
larger batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import clickhouse_connect
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.integration.ingest_support import (
    TARGETS,
    VIEWS,
    click,
    ingesting,
    make_database,
    make_topics,
    produce,
    settings_for,
    totals,
    unique,
    views_detached,
    wait_for,
)
from turnout.ingest.click_pipeline import ClickPipeline
from turnout.ingest.consumer import TopicConsumer, clickhouse_factory
from turnout.ingest.store import Store

FIRST, LATER = 300, 200
PARTITIONS = 3


async def write_uncommitted(consumer: TopicConsumer, bootstrap: str, expected: int) -> None:
    """One batch through the real consumer and pipeline; stopped before its commit. Its
    Kafka consumer is assigned the partitions, not a group member: it never commits, and a
    group join costs seconds on tansu."""
    await consumer.consumer.stop()  # the group member it was built with, never started
    kafka = consumer.consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await kafka.start()
    kafka.assign([TopicPartition(consumer.topic, p) for p in range(PARTITIONS)])
    try:
        batch, span = await consumer.collect()
        assert len(batch) == expected
        await consumer.pipeline.write(consumer.pipeline.prepare(batch, span))
    finally:
        await consumer.consumer.stop()


@pytest.mark.parametrize("lost_views", [True, False], ids=["views-lost", "all-parts-written"])
async def test_a_replayed_batch_repairs_the_rollups_and_duplicates_nothing(
    kafka_bootstrap: str, clickhouse_dsn: str, lost_views: bool
) -> None:
    database = make_database(clickhouse_dsn)
    ch = clickhouse_connect.get_client(dsn=clickhouse_dsn)
    ch.database = database
    topics = await make_topics(kafka_bootstrap, PARTITIONS)
    settings = settings_for(database, topics, batch_size=FIRST, batch_wait_s=5.0)
    ws = unique("ws")
    tables = {
        str(name): (str(engine), str(create)) for name, engine, create in ch.query(
            "SELECT name, engine, create_table_query FROM system.tables "
            "WHERE database = {d:String}", parameters={"d": database}
        ).result_rows
    }
    # Every view is detached below (a new one must join VIEWS), and every view's table
    # drops a replayed block it already has only within its deduplication window.
    assert sorted(n for n, (engine, _q) in tables.items() if engine == "MaterializedView") == [
        *VIEWS
    ]
    for target in TARGETS:
        assert "non_replicated_deduplication_window = 10000" in tables[target][1], target

    def clicks(n: int) -> list[Any]:  # every click counts in all three rollups
        return [click(ws, cost_model="fixed_total", cost_rate_micros=1_000) for _ in range(n)]

    await produce(kafka_bootstrap, topics["clicks"], clicks(FIRST))
    store = Store(clickhouse_factory(clickhouse_dsn)(), database,
                  reader=clickhouse_factory(clickhouse_dsn)())
    group = f"{settings.group_id}.{topics['clicks']}"
    pipeline = ClickPipeline(store, None, settings, asyncio.Event())  # type: ignore[arg-type]
    consumer = TopicConsumer(pipeline, topics["clicks"], kafka_bootstrap, group, settings)
    with views_detached(ch, database) if lost_views else contextlib.nullcontext():
        await write_uncommitted(consumer, kafka_bootstrap, FIRST)
    stored = totals(ch, ws)
    assert stored["clicks"] == FIRST
    assert (stored["geo"], stored["wide"], stored["fixed"]) == (
        (0, 0, 0) if lost_views else (FIRST, FIRST, FIRST)
    )

    await produce(kafka_bootstrap, topics["clicks"], clicks(LATER))
    everything = FIRST + LATER
    replay = settings_for(database, topics, group_id=settings.group_id, batch_size=2_000)
    async with ingesting(
        kafka_bootstrap, clickhouse_factory(clickhouse_dsn), replay, ("clicks",)
    ) as running:
        await wait_for(lambda: totals(ch, ws)["wide"], everything, running=running)
        await asyncio.sleep(0.5)  # anything more would show up as a total past `everything`
    assert totals(ch, ws) == dict.fromkeys(("clicks", "ids", "geo", "wide", "fixed"), everything)
