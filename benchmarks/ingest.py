"""Kafka -> ClickHouse ingest rate against a direct insert of the same rows.

    python -m benchmarks.ingest [--rows 50000] [--batch 5000]

Starts tansu and an on-disk chdb under a temp dir. The baseline inserts the already
decoded, already column-built rows straight into `clicks` through the same Store (same
client, table, batch size and insert context). The ingest run consumes the same clicks,
pre-produced to a topic, through the real ClickPipeline: fetch, decode, validate, the
stored-id look-up, column building, insert, commit. Its clock starts when the first
batch reaches the pipeline, so consumer-group join time is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import clickhouse_connect

from ingest import records
from ingest.batch import dedup_token
from ingest.consumer import clickhouse_factory, run_ingest
from ingest.migrate import migrate
from ingest.pipelines import ClickPipeline
from ingest.settings import IngestSettings
from ingest.store import Store
from turnout.clickid import ClickIds
from turnout.events import Click
from turnout.services import local_stack
from turnout.topics import ensure_topics


def make_clicks(n: int, workspace: str) -> list[Click]:
    ids = ClickIds(seed=workspace.encode())
    now = int(time.time() * 1000) - n
    countries = ("US", "GB", "DE", "FR", "BR")
    return [
        Click(
            click_id=ids.new(now + i), ts_ms=now + i, workspace_id=workspace,
            campaign_id=f"c{i % 20}", campaign_code=f"C{i % 20}", graph_version=3,
            rule_id=f"r{i % 4}", offer_id=f"o{i % 7}", lander_id=f"l{i % 5}",
            traffic_source_id="ts1", country=countries[i % 5], device="mobile", os="Android",
            browser="Chrome", language="en", ip="10.0.0.0", visitor_id=f"v{i % 9000}",
            user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/126.0", cost_micros=25_000,
            cost_model="cpc", subs=[f"s{i % 50}", "", "", "", "", "", "", "", "", ""],
        )
        for i in range(n)
    ]


def direct(store: Store, clicks: list[Click], batch: int) -> float:
    chunks = [clicks[i : i + batch] for i in range(0, len(clicks), batch)]
    prepared = [
        (records.click_columns(chunk), dedup_token("bench", {("d", 0): (i, i)}, ["x"]))
        for i, chunk in enumerate(chunks)
    ]
    started = time.perf_counter()
    for columns, token in prepared:
        store.insert("clicks", columns, token)
    return time.perf_counter() - started


async def through_kafka(
    bootstrap: str, dsn: str, settings: IngestSettings, clicks: list[Click]
) -> float:
    from aiokafka import AIOKafkaProducer

    from turnout.events import ENCODER

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False,
                                linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        futures = [
            await producer.send(settings.topic_clicks, ENCODER.encode(c), key=c.click_id.encode())
            for c in clicks
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()

    first: list[float] = []
    original = ClickPipeline.process

    async def timed(self: ClickPipeline, batch, span):
        if batch and not first:
            first.append(time.perf_counter())
        return await original(self, batch, span)

    ClickPipeline.process = timed  # type: ignore[method-assign]
    client = clickhouse_connect.get_client(dsn=dsn)
    client.database = settings.database
    workspace = clicks[0].workspace_id
    stop = asyncio.Event()
    task = asyncio.create_task(run_ingest(bootstrap, clickhouse_factory(dsn), settings, stop,
                                          ("clicks",)))
    try:
        while True:
            count = client.query(
                "SELECT count() FROM clicks WHERE workspace_id = {w:String}",
                parameters={"w": workspace},
            ).result_rows[0][0]
            if count >= len(clicks):
                return time.perf_counter() - first[0]
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
        ClickPipeline.process = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--no-lookup", action="store_true",
                        help="skip the stored-id look-up (rollup no longer replay-proof)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, local_stack(Path(tmp)) as stack:
        asyncio.run(ensure_topics(stack.kafka_bootstrap))
        dsn = stack.clickhouse_dsn
        client = clickhouse_connect.get_client(dsn=dsn)
        migrate(client, "bench")
        store = Store(client, "bench")
        baseline_rows = make_clicks(args.rows, "direct")
        kafka_rows = make_clicks(args.rows, "kafka")
        direct_s = direct(store, baseline_rows, args.batch)
        settings = IngestSettings(
            database="bench", group_id="bench", batch_size=args.batch, batch_wait_s=1.0,
            kafka_idempotence=False, click_lookup=not args.no_lookup,
        )
        kafka_s = asyncio.run(through_kafka(stack.kafka_bootstrap, dsn, settings, kafka_rows))
    direct_rate = args.rows / direct_s
    kafka_rate = args.rows / kafka_s
    print(f"direct insert : {direct_rate:>10,.0f} rows/s ({direct_s:.2f}s)")
    print(f"kafka ingest  : {kafka_rate:>10,.0f} rows/s ({kafka_s:.2f}s)")
    print(f"ratio         : {kafka_rate / direct_rate:.0%} of direct (goal >= 70%)")


if __name__ == "__main__":
    main()
