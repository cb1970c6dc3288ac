"""`turnout ingest`: one consumer group per topic, batches to ClickHouse, commit after insert.

Batches close on size (batch_size records) or time (batch_wait_s after the poll started).
While one batch is written (in a worker thread, mostly inside ClickHouse), the next is
fetched and prepared (decoded, validated) on the event loop, so both cores work.
Offsets are committed only after the pipeline says the rows are stored; a stop request
(SIGTERM) finishes the batch being stored, or abandons it uncommitted while ClickHouse is
failing, and exits.

For a pipeline whose replays must be exact (clicks: materialized views), the first batch
after an assignment asks the pipeline whether its first records were stored under some
batch's span, and if so is cut at that span, record for record (ingest/batch.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import clickhouse_connect
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from turnout.connections import Connections
from turnout.ingest.batch import Partition, Ranges, Span, cut, reached
from turnout.ingest.click_pipeline import ClickPipeline
from turnout.ingest.conversion_pipeline import ConversionPipeline
from turnout.ingest.dlq import Record
from turnout.ingest.event_pipeline import EventPipeline
from turnout.ingest.pipelines import Abandoned, Pipeline, Prepared
from turnout.ingest.settings import IngestSettings
from turnout.ingest.store import Store

log = logging.getLogger(__name__)


# How long the first batch after an assignment waits for the rest of the span its first
# records were stored under, before it is written as far as it got (then the replay is
# not exact, and the rollups may stay short: see ingest/batch.py).
REPLAY_WAIT_S = 30.0


class _Revocations(ConsumerRebalanceListener):
    def __init__(self, owner: TopicConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.owner.pipeline.forget({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.owner.assigned_anew = self.owner.pipeline.exact_replay
        self.owner.pipeline.assigned({(tp.topic, tp.partition) for tp in assigned})


class TopicConsumer:
    """Feeds one pipeline from one topic in one consumer group."""

    def __init__(
        self, pipeline: Pipeline[Any, Any], topic: str, bootstrap: str, group_id: str,
        settings: IngestSettings,
    ) -> None:
        self.pipeline = pipeline
        self.topic = topic
        self.settings = settings
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.batch_size,
            # Room for a whole batch from one partition per fetch (events are well under
            # 1 KiB), so the next batch is already buffered while this one is written.
            max_partition_fetch_bytes=max(1 << 20, settings.batch_size * 1024),
            # A ClickHouse outage stalls the loop between polls; stay in the group.
            max_poll_interval_ms=3_600_000,
            fetch_max_wait_ms=settings.fetch_wait_ms,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
        )
        # Set on every assignment: the next batch may be a replay to cut exactly.
        self.assigned_anew = False
        self.consumer.subscribe([topic], listener=_Revocations(self))

    async def run(self) -> None:
        stop = self.pipeline.stop
        pipeline = self.pipeline
        await self.consumer.start()
        # The batch being written while the next one is fetched and prepared; at most one,
        # so writes and commits keep the order of the batches.
        writing: asyncio.Task[dict[Partition, int]] | None = None
        prepared: Prepared[Any] | None = None
        try:
            while not stop.is_set():
                batch, span = await self.collect()
                if not batch and writing is None and not pipeline.has_pending():
                    continue
                prepared = pipeline.prepare(batch, span)
                if writing is not None:
                    # Commit before the next write starts: a consumer killed in the commit
                    # leaves no insert running behind its back.
                    await self.settle(writing)
                    writing = None
                if batch or pipeline.has_pending():
                    writing = asyncio.create_task(pipeline.write(prepared))
                    # Let the write hand its insert to the worker thread now: the next
                    # fetch often returns without yielding, and prepare never yields, so
                    # the insert would otherwise start only after the next batch is
                    # prepared, and the two would not overlap at all.
                    await asyncio.sleep(0)
                else:
                    prepared.discard()
                prepared = None
            if writing is not None:
                await self.settle(writing)
                writing = None
        except Abandoned:
            log.info("%s: stopping with the current batch uncommitted", self.topic)
        finally:
            if prepared is not None:
                prepared.discard()
            if writing is not None:
                # Only on a failure or a cancellation: the rows may or may not be stored,
                # and either way nothing of them is committed.
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)
            await self.consumer.stop()

    async def settle(self, writing: asyncio.Task[dict[Partition, int]]) -> None:
        """Wait for a batch's write, then commit what it says may be committed."""
        offsets = await writing
        if offsets:
            await self.commit(offsets)

    async def collect(self) -> tuple[list[Record], Span]:
        batch, span = await self.fetch()
        if self.assigned_anew and batch:
            self.assigned_anew = False
            assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
            ranges = await self.pipeline.replay_span(batch, assigned)
            if ranges is not None and ranges != span.ranges:
                return await self.replay(batch, ranges)
        return batch, span

    async def replay(self, batch: list[Record], ranges: Ranges) -> tuple[list[Record], Span]:
        """`batch` completed and cut to `ranges`, record for record; what was fetched past
        them is read again (seek back) for the batches after it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REPLAY_WAIT_S
        while not reached(batch, ranges) and not self.pipeline.stop.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("%s: the batch %s could not be read again in full; its rollups "
                            "may stay short", self.topic, sorted(ranges.items()))
                break
            fetched = await self.consumer.getmany(
                timeout_ms=max(1, int(remaining * 1000)), max_records=self.settings.batch_size
            )
            for chunk in fetched.values():
                batch.extend(chunk)
        kept, rewind = cut(batch, ranges)
        for (topic, partition), offset in rewind.items():
            self.consumer.seek(TopicPartition(topic, partition), offset)
        span = Span()
        for record in kept:
            span.add(record.topic, record.partition, record.offset)
        log.info("%s: replaying the batch %s as it was first written", self.topic,
                 sorted(span.ranges.items()))
        return kept, span

    async def fetch(self) -> tuple[list[Record], Span]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.batch_wait_s
        batch: list[Record] = []
        span = Span()
        while len(batch) < self.settings.batch_size and not self.pipeline.stop.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            fetched = await self.consumer.getmany(
                timeout_ms=max(1, int(remaining * 1000)),
                max_records=self.settings.batch_size - len(batch),
            )
            for tp, chunk in fetched.items():
                batch.extend(chunk)
                span.add(tp.topic, tp.partition, chunk[0].offset)
                span.add(tp.topic, tp.partition, chunk[-1].offset)
        return batch, span

    async def commit(self, offsets: dict[Partition, int]) -> None:
        try:
            await self.consumer.commit(
                {TopicPartition(topic, part): offset for (topic, part), offset in offsets.items()}
            )
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance took the partition away: the rows are stored, the next owner
            # re-reads from the last commit and the look-up/dedup drops what is stored.
            log.warning("%s: commit skipped after a rebalance (%s)", self.topic, exc)
            return
        self.pipeline.committed(offsets)


ClientFactory = Callable[[], clickhouse_connect.driver.client.Client]


def clickhouse_factory(dsn: str) -> ClientFactory:
    def make() -> clickhouse_connect.driver.client.Client:
        return clickhouse_connect.get_client(dsn=dsn)

    return make


async def run_ingest(
    bootstrap: str,
    clients: ClientFactory,
    settings: IngestSettings,
    stop: asyncio.Event,
    kinds: tuple[str, ...] = ("clicks", "conversions", "events"),
) -> None:
    """Run the pipelines until `stop` is set; each has its own ClickHouse client."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=settings.kafka_idempotence
    )
    await producer.start()
    try:
        topics = {
            "clicks": (ClickPipeline, settings.topic_clicks),
            "conversions": (ConversionPipeline, settings.topic_conversions),
            "events": (EventPipeline, settings.topic_events),
        }
        consumers = []
        for kind in kinds:
            cls, topic = topics[kind]
            store = Store(
                await asyncio.to_thread(clients), settings.database,
                reader=await asyncio.to_thread(clients),
            )
            pipeline = cls(store, producer, settings, stop)
            group = f"{settings.group_id}.{topic}"
            consumers.append(TopicConsumer(pipeline, topic, bootstrap, group, settings))
        tasks = [asyncio.create_task(c.run(), name=f"ingest:{c.topic}") for c in consumers]
        try:
            await _first_failure(tasks)
        except asyncio.CancelledError:
            # Cancelled from outside (a kill in tests): no batch in flight gets committed.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            stop.set()
            for task in tasks:
                if not task.done():
                    # Let each loop see the stop flag and close its consumer cleanly.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(task), 30)
                    task.cancel()
    finally:
        await producer.stop()


async def _first_failure(tasks: list[asyncio.Task[None]]) -> None:
    done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    await asyncio.gather(*tasks)


# A batch allocates tens of thousands of short-lived objects; with the default gen0
# threshold (700) the collector runs dozens of times per batch.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Call once start-up is done: what is alive then (modules, clients) is frozen out of
    every later full collection, which would otherwise walk it again and again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _exit_unless_stopped_within(seconds: float) -> None:
    """A daemon timer that ends the process `seconds` from now: a stop that hangs (a broker
    or ClickHouse gone, so a commit or an insert never returns) must not keep ingest alive.
    Nothing is lost: what was not committed is read again by the next consumer."""

    def give_up() -> None:
        log.error("ingest did not stop within %.0f s; exiting without waiting further "
                  "(uncommitted batches are read again by the next consumer)", seconds)
        logging.shutdown()
        os._exit(3)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()


async def serve(connections: Connections, settings: IngestSettings,
                companions: Sequence[Awaitable[None]] = ()) -> None:
    """The `turnout ingest` process until SIGTERM/SIGINT; `companions` (the graph-names
    follower, the report API) run beside the consumers and are cancelled after them."""
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stop_requested() -> None:
        if not stop.is_set():
            stop.set()
            _exit_unless_stopped_within(settings.stop_timeout_s)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested)
    tasks = [asyncio.ensure_future(companion) for companion in companions]
    try:
        await run_ingest(
            connections.kafka_bootstrap, clickhouse_factory(connections.clickhouse_dsn),
            settings, stop,
        )
    except KafkaError:
        log.exception("ingest stopped on a Kafka error")
        raise
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
