"""Kafka -> ClickHouse ingest rate against a direct insert of the same rows.

    python -m benchmarks.ingest [--rows 50000] [--batch 5000] [--rounds 3] [--merges-running]
                                [--json]

With --json the figures go to stdout as one JSON object (the progress lines to stderr).

Starts tansu and an on-disk chdb under a temp dir. The baseline inserts the already
decoded, already column-built rows straight into `clicks` through the same Store (same
client, table, batch size and insert context). The ingest run consumes the same clicks,
pre-produced to a topic, through the real consumer and ClickPipeline: fetch, decode,
validate, the stored-id look-up, column building, insert, commit. Its clock starts when
the first batch reaches the pipeline (consumer-group join time is not counted) and stops
when the write holding the last row returns (every earlier batch's commit is inside).
Both runs start after ingest.consumer.tune_gc, as `turnout ingest` does. CPU seconds are
the whole process's (chdb's threads, background merges included) inside each clock.

Background merges are held during both timed runs (SYSTEM STOP MERGES on `clicks` and its
rollups) and finish in between; each run starts once no merge has run for a second. Left
running, they land almost only in the Kafka runs, whichever side goes first (0.3-0.8 CPU s
per 50,000 rows, against about none in the direct runs): a burst of ten inserts ends
before ClickHouse starts merging its parts, while the same parts trickling in over a
longer run get merged, and re-merged, inside it. That measures the merge scheduler, not
the two insert paths; `--merges-running` shows it (docs/ingest-performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import clickhouse_connect
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from clickhouse_connect.driver.client import Client

from turnout.clickid import ClickIds
from turnout.events import ENCODER, Click
from turnout.ingest import records
from turnout.ingest.batch import Partition, Span, dedup_token
from turnout.ingest.click_pipeline import ClickPipeline
from turnout.ingest.consumer import clickhouse_factory, run_ingest, tune_gc
from turnout.ingest.dlq import Record
from turnout.ingest.migrate import migrate
from turnout.ingest.pipelines import Prepared
from turnout.ingest.settings import IngestSettings
from turnout.ingest.store import Store
from turnout.local.services import local_stack
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


def direct(store: Store, clicks: list[Click], batch: int) -> tuple[float, float]:
    """Wall and process CPU seconds (chdb's threads included) of the inserts alone."""
    chunks = [clicks[i : i + batch] for i in range(0, len(clicks), batch)]
    prepared = [
        (records.click_columns(chunk), dedup_token("bench", {("d", 0): (i, i)}, ["x"]))
        for i, chunk in enumerate(chunks)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    for columns, token in prepared:
        store.insert("clicks", columns, token)
    return time.perf_counter() - started, time.process_time() - cpu


async def through_kafka(
    bootstrap: str, dsn: str, settings: IngestSettings, clicks: list[Click]
) -> tuple[float, float]:
    """Wall and process CPU seconds from the first batch to the last row stored."""
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

    # The clock runs from the first batch reaching the pipeline to the return of the write
    # that stored the last row: no polling query competes with the run it measures.
    first: list[float] = []
    cpu: list[float] = []
    written = [0]
    done = asyncio.Event()
    prepare, write = ClickPipeline.prepare, ClickPipeline.write

    def timed_prepare(self: ClickPipeline, batch: Sequence[Record], span: Span) -> Prepared[Click]:
        if batch and not first:
            first.append(time.perf_counter())
            cpu.append(time.process_time())
        return prepare(self, batch, span)

    async def timed_write(self: ClickPipeline, prepared: Prepared[Click]) -> dict[Partition, int]:
        offsets = await write(self, prepared)
        written[0] += len(prepared.items)
        if written[0] >= len(clicks) and not done.is_set():
            first.append(time.perf_counter())
            cpu.append(time.process_time())
            done.set()
        return offsets

    ClickPipeline.prepare = timed_prepare  # type: ignore[method-assign]
    ClickPipeline.write = timed_write  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(run_ingest(bootstrap, clickhouse_factory(dsn), settings, stop,
                                          ("clicks",)))
    try:
        waiting = asyncio.create_task(done.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():
            task.result()
            raise RuntimeError("ingest stopped before storing every row")
    finally:
        stop.set()
        await task
        ClickPipeline.prepare, ClickPipeline.write = prepare, write  # type: ignore[method-assign]
    client = clickhouse_connect.get_client(dsn=dsn)
    client.database = settings.database
    stored = client.query(
        "SELECT count() FROM clicks WHERE workspace_id = {w:String}",
        parameters={"w": clicks[0].workspace_id},
    ).result_rows[0][0]
    if stored != len(clicks):
        raise RuntimeError(f"stored {stored} rows of {len(clicks)}")
    return first[1] - first[0], cpu[1] - cpu[0]


# Every table an insert into `clicks` writes to (the table and its materialized views).
MERGING_TABLES = ("clicks", "clicks_geo", "clicks_wide", "fixed_cost_terms")


def merges_settled(client: Client, quiet_s: float = 1.0, limit_s: float = 60.0) -> None:
    """Wait until no merge has run for `quiet_s`: each timed run starts without the merges
    the run before it left behind (they would land in the next run's time and CPU)."""
    quiet_needed = round(quiet_s / 0.2)
    quiet = 0
    deadline = time.monotonic() + limit_s
    while quiet < quiet_needed and time.monotonic() < deadline:
        running = client.query("SELECT count() FROM system.merges").result_rows[0][0]
        quiet = quiet + 1 if running == 0 else 0
        time.sleep(0.2)


@contextlib.contextmanager
def merges_held(client: Client, hold: bool) -> Iterator[None]:
    """The block starts once merges have settled; with `hold`, no merge starts inside it
    (they restart after it, and the next block's start waits for them)."""
    merges_settled(client)
    if not hold:
        yield
        return
    for table in MERGING_TABLES:
        client.command(f"SYSTEM STOP MERGES {table}")
    try:
        yield
    finally:
        for table in MERGING_TABLES:
            client.command(f"SYSTEM START MERGES {table}")


async def make_topic(bootstrap: str, name: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1)])
    finally:
        await admin.close()
    return name


def rate(rows: int, run: tuple[float, float]) -> dict[str, float]:
    wall, cpu = run
    return {"rows_per_s": round(rows / wall), "wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}


def figures(rows: int, direct_s: list[tuple[float, float]], kafka_s: list[tuple[float, float]],
            load_start: float, load_end: float) -> dict[str, object]:
    """Everything the run measured, as the --json object."""
    best_direct, best_kafka = min(direct_s), min(kafka_s)
    return {
        "rows": rows,
        "rounds": [
            {"direct": rate(rows, d), "kafka": rate(rows, k), "ratio": round(d[0] / k[0], 4)}
            for d, k in zip(direct_s, kafka_s, strict=True)
        ],
        "direct": rate(rows, best_direct),
        "kafka": rate(rows, best_kafka),
        "ratio": round(best_direct[0] / best_kafka[0], 4),
        "median_round_ratio": round(
            statistics.median(d[0] / k[0] for d, k in zip(direct_s, kafka_s, strict=True)), 4
        ),
        "load_average": {"start": load_start, "end": load_end},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate direct and Kafka runs this often; the best of each "
                             "counts (a shared machine only ever makes a run slower)")
    parser.add_argument("--no-lookup", action="store_true",
                        help="skip the stored-id look-up (rollups no longer replay-proof)")
    parser.add_argument("--merges-running", action="store_true",
                        help="diagnostic: let background merges run inside the timed runs "
                             "(they land in the Kafka runs)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON object (progress to stderr)")
    args = parser.parse_args()
    out = sys.stderr if args.json else sys.stdout
    direct_s: list[tuple[float, float]] = []
    kafka_s: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, local_stack(Path(tmp)) as stack:
        bootstrap = stack.kafka_bootstrap
        asyncio.run(ensure_topics(bootstrap))
        dsn = stack.clickhouse_dsn
        client = clickhouse_connect.get_client(dsn=dsn)
        migrate(client, "bench")
        store = Store(client, "bench")
        inputs = [
            (make_clicks(args.rows, f"direct{r}"), make_clicks(args.rows, f"kafka{r}"))
            for r in range(args.rounds)
        ]
        tune_gc()  # as `turnout ingest` does once started; every run below gets it
        load_start = os.getloadavg()[0]
        print(f"load average at start: {load_start:.2f}", file=out, flush=True)
        for r, (baseline_rows, kafka_rows) in enumerate(inputs):
            with merges_held(client, not args.merges_running):
                direct_s.append(direct(store, baseline_rows, args.batch))
            settings = IngestSettings(
                database="bench", group_id=f"bench{r}", batch_size=args.batch,
                batch_wait_s=1.0, kafka_idempotence=False, click_lookup=not args.no_lookup,
                topic_clicks=asyncio.run(make_topic(bootstrap, f"bench.clicks.{r}")),
            )
            with merges_held(client, not args.merges_running):
                kafka_s.append(asyncio.run(through_kafka(bootstrap, dsn, settings, kafka_rows)))
            (d_wall, d_cpu), (k_wall, k_cpu) = direct_s[-1], kafka_s[-1]
            print(f"round {r + 1}: direct {args.rows / d_wall:>8,.0f} rows/s "
                  f"({d_cpu:.2f} CPU s), kafka {args.rows / k_wall:>8,.0f} rows/s "
                  f"({k_cpu:.2f} CPU s), ratio {d_wall / k_wall:.0%}", file=out, flush=True)
    load_end = os.getloadavg()[0]
    if args.json:
        print(json.dumps(figures(args.rows, direct_s, kafka_s, load_start, load_end)))
        return
    d_wall, d_cpu = min(direct_s)
    k_wall, k_cpu = min(kafka_s)
    print(f"direct insert : {args.rows / d_wall:>10,.0f} rows/s (best {d_wall:.2f}s, "
          f"{d_cpu:.2f} CPU s)")
    print(f"kafka ingest  : {args.rows / k_wall:>10,.0f} rows/s (best {k_wall:.2f}s, "
          f"{k_cpu:.2f} CPU s)")
    paired = statistics.median(d[0] / k[0] for d, k in zip(direct_s, kafka_s, strict=True))
    print(f"ratio         : {d_wall / k_wall:.0%} of direct, best against best (goal >= 70%); "
          f"median of the rounds' own ratios {paired:.0%}; "
          f"load average at end: {load_end:.2f}")


if __name__ == "__main__":
    main()
