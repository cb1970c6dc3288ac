"""How far `turnout ingest` is behind the topics it stores.

`turnout dev` waits for this to reach zero between stopping the edge and stopping ingest:
tansu keeps events in memory only, so what ingest has not stored and committed when tansu
stops is gone (a production broker keeps it for the next ingest).
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

    async def __aenter__(self) -> _Lag:
        await self.admin.start()
        await self.offsets.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
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
            ends = await self.offsets.end_offsets(partitions)
            starts = await self.offsets.beginning_offsets(partitions)
            committed = await self.admin.list_consumer_group_offsets(
                f"{self.group_id}.{topic}", partitions=partitions)
            for partition in partitions:
                done = committed.get(partition)
                position = done.offset if done is not None and done.offset >= 0 else -1
                behind += ends[partition] - max(position, starts[partition])
        return behind


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
