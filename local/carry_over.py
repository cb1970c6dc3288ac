"""Carry what tansu holds over to the next `turnout dev` run, through the edge's spool.

tansu's PyPI wheel stores topics in memory only (no persistent storage engine is compiled
in: see docs/decisions.md), so at stop dev copies every record ingest has not committed
(past its consumer groups' offsets) and the whole dead-letter topic (nobody consumes it)
into one sealed spool segment tagged with the stack's cluster name. The next run's edge
replays the segment into the new tansu like any spooled events; ingest dedupes by event
id, so a record it had stored but not yet committed is harmless.

Run it after the edge stopped (its buffer drained into tansu) and after ingest stopped
(its offsets are final), before tansu stops.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from turnout.edge.sink.spool import SpoolWriter
from turnout.ingest.settings import IngestSettings

_BATCH = 10_000
# A fetch that long without a record, past tansu's end offset, ends a partition's copy.
_IDLE_S = 0.3


@dataclass(frozen=True, slots=True)
class Carried:
    records: int
    seconds: float


async def _starts(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer,
                  settings: IngestSettings) -> dict[TopicPartition, int]:
    """Where to copy from, per partition: ingest's committed offset (or the log start) for
    the stored topics, the log start for the dead letters."""
    await consumer.topics()  # refreshes the partition metadata
    starts: dict[TopicPartition, int] = {}
    stored = (settings.topic_clicks, settings.topic_conversions, settings.topic_events)
    for topic in (*stored, settings.topic_dlq):
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            continue
        beginnings = await consumer.beginning_offsets(partitions)
        committed = {}
        if topic in stored:
            committed = await admin.list_consumer_group_offsets(
                f"{settings.group_id}.{topic}", partitions=partitions)
        for partition in partitions:
            done = committed.get(partition)
            position = done.offset if done is not None and done.offset >= 0 else -1
            starts[partition] = max(position, beginnings[partition])
    return starts


async def carry_over(bootstrap: str, settings: IngestSettings, spool_dir: Path, tag: str,
                     timeout: float = 60.0) -> Carried:
    """Copy the records past ingest's offsets (and the DLQ) into a sealed segment of
    `spool_dir` tagged `tag`; raises TimeoutError if tansu stops answering."""
    started = time.monotonic()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    writer: SpoolWriter | None = None
    records = 0
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(consumer.start(), timeout)
        starts = await asyncio.wait_for(_starts(admin, consumer, settings), timeout)
        # tansu's end offsets run behind what it holds (ListOffsets answered 24,092 for a
        # partition holding 33,403 records), so they are only a floor: a partition is done
        # once past it and a fetch of all returned nothing more. Nobody produces any more.
        ends = await consumer.end_offsets(list(starts))
        if starts:
            consumer.assign(sorted(starts))
            for tp, start in starts.items():
                consumer.seek(tp, start)
        pending = set(starts)
        deadline = started + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"carry-over still had {len(pending)} partitions to copy")
            batches = await consumer.getmany(*pending, timeout_ms=int(min(left, _IDLE_S) * 1000),
                                             max_records=_BATCH)
            for tp, messages in batches.items():
                if writer is None:
                    # fsync on close: it is all that is left of these events once tansu stops.
                    writer = SpoolWriter(spool_dir, tag=tag, fsync="never")
                writer.append((tp.topic, m.key or b"", m.value or b"") for m in messages)
                records += len(messages)
            if not batches:  # a fetch in flight for one partition may not be back yet
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
    finally:
        await consumer.stop()
        await admin.close()
        if writer is not None:
            writer.close(fsync=True)
    return Carried(records, time.monotonic() - started)
