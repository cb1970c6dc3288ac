"""How far `turnout ingest` is behind the topics it stores.

`turnout dev` waits for this to reach zero between stopping the edge and stopping ingest:
tansu keeps events in memory only, so what ingest has not stored and committed when tansu
stops is gone (a production broker keeps it for the next ingest).

A partition's end is the high watermark of a fetch, not ListOffsets' latest offset: tansu
answers ListOffsets with the base offset of the last record batch + 1, short of the end by
the rest of that batch (a committed batch looked unfinished, a partial one finished).
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from turnout.ingest.settings import IngestSettings


class _Lag:
    def __init__(self, bootstrap: str, settings: IngestSettings) -> None:
        self.topics = (settings.topic_clicks, settings.topic_conversions, settings.topic_events)
        self.group_id = settings.group_id
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        # Fetches for the high watermarks; apart, since an assignment narrows a consumer's
        # metadata to the assigned topics.
        self.fetcher = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                        fetch_max_wait_ms=50)

    async def __aenter__(self) -> _Lag:
        await self.admin.start()
        await self.offsets.start()
        await self.fetcher.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.fetcher.stop()
        await self.offsets.stop()
        await self.admin.close()

    async def records(self) -> int:
        """Records of the stored topics past their consumer group's committed offset."""
        await self.offsets.topics()  # refreshes the partition metadata
        behind = 0
        for topic in self.topics:
            partitions = [TopicPartition(topic, p)
                          for p in self.offsets.partitions_for_topic(topic) or ()]
            if not partitions:
                continue
            starts = await self.offsets.beginning_offsets(partitions)
            ends = await self.high_watermarks(partitions)
            committed = await self.admin.list_consumer_group_offsets(
                f"{self.group_id}.{topic}", partitions=partitions)
            for partition in partitions:
                done = committed.get(partition)
                position = done.offset if done is not None else -1
                behind += records_behind(ends[partition], starts[partition], position)
        return behind

    async def high_watermarks(self, partitions: list[TopicPartition]
                              ) -> dict[TopicPartition, int]:
        """Each partition's high watermark, from a fetch at its ListOffsets end (at most
        one record batch before the real end, so each fetch is small)."""
        listed = await self.offsets.end_offsets(partitions)
        self.fetcher.assign(partitions)
        for partition in partitions:
            self.fetcher.seek(partition, listed[partition])
        marks: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + _FETCH_TIMEOUT_S
        while len(marks) < len(partitions) and time.monotonic() < deadline:
            await self.fetcher.getmany(*partitions, timeout_ms=100, max_records=1)
            for partition in partitions:
                mark = self.fetcher.highwater(partition)
                if mark is not None:
                    marks[partition] = mark
        return {p: max(marks.get(p, 0), listed[p]) for p in partitions}


_FETCH_TIMEOUT_S = 5.0


def records_behind(end: int, start: int, committed: int) -> int:
    """Records from a group's committed offset (-1: none; then the partition's start) to
    the partition's `end` (its high watermark)."""
    return max(0, end - max(committed, start))


async def wait_ingested(bootstrap: str, settings: IngestSettings, timeout: float) -> int:
    """Poll until ingest has committed everything in its topics, or `timeout` seconds;
    the records still behind (0: caught up)."""
    deadline = time.monotonic() + timeout
    async with _Lag(bootstrap, settings) as lag:
        while True:
            behind = await lag.records()
            if behind == 0 or time.monotonic() >= deadline:
                return behind
            await asyncio.sleep(0.2)
