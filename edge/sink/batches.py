"""Records to Kafka record batches: one per (topic, partition), built by us, sent as a whole.

aiokafka's `send()` costs a coroutine, a future and a partitioner call per record; the
sink instead groups a whole sink batch by partition (`partition.partitions_of`, the Java
client's choice, so a click id always lands on the same partition), fills aiokafka's own
batch builders and submits each with `send_batch()`: one future per record batch.

This runs on the event loop between requests, so it yields to them between its steps
(hashing, filling each partition's batch), and the batches are compressed by a `Seal`
(sealer.py, a worker thread) rather than by aiokafka on the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from turnout.edge.sink.partition import partitions_of

Record = tuple[str, bytes, bytes]  # topic, key, value
Submitted = list[tuple[asyncio.Future[Any], list[int]]]  # a batch's future, its record indexes
Seal = Callable[[Sequence[Any]], Awaitable[None]]  # builds closed batches before send_batch


async def submit(producer: Any, records: Sequence[Record], submitted: Submitted,
                 seal: Seal | None = None) -> None:
    """Send `records` as record batches, appending each batch's future as it is handed over.

    `submitted` is the caller's so that it knows what left its hands even when this raises
    or is cancelled halfway: records of no submitted batch were never given to the client.
    `seal`, when given, builds (compresses) every batch before it is handed over.
    """
    for topic, indexes in by_topic(records).items():
        partitions = sorted(await producer.partitions_for(topic))
        chosen = partitions_of([records[i][1] for i in indexes], len(partitions))
        groups: dict[int, list[int]] = {}
        for index, slot in zip(indexes, chosen, strict=True):
            groups.setdefault(slot, []).append(index)
        built: list[tuple[int, Any, list[int]]] = []
        for slot, members in groups.items():
            await asyncio.sleep(0)  # requests that arrived meanwhile go first
            built += [(partitions[slot], batch, batch_indexes)
                      for batch, batch_indexes in build(producer, records, members)]
        if seal is not None:
            await seal([batch for _, batch, _ in built])
        for partition, batch, batch_indexes in built:
            future = await producer.send_batch(batch, topic, partition=partition)
            submitted.append((future, batch_indexes))


def by_topic(records: Sequence[Record]) -> dict[str, list[int]]:
    topics: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        topics.setdefault(record[0], []).append(index)
    return topics


def build(producer: Any, records: Sequence[Record], indexes: list[int]
          ) -> list[tuple[Any, list[int]]]:
    """Closed record batches holding `records[i]` for i in `indexes`, in order.

    A batch that reaches the client's max_batch_size is closed and another one started;
    closing also keeps the client from lingering on a batch we already gathered.
    """
    now_ms = int(time.time() * 1000)  # one timestamp per call saves a clock read per record
    built: list[tuple[Any, list[int]]] = []
    batch, members = producer.create_batch(), []
    for index in indexes:
        _, key, value = records[index]
        if batch.append(key=key, value=value, timestamp=now_ms) is None:
            batch.close()
            built.append((batch, members))
            batch, members = producer.create_batch(), []
            # An empty builder always takes its first record, whatever its size.
            batch.append(key=key, value=value, timestamp=now_ms)
        members.append(index)
    batch.close()
    built.append((batch, members))
    return built
