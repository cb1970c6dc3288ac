"""`turnout dev`'s carry-over at stop: records/s copied from tansu into a spool segment.

    python -m benchmarks.carry_over [--events N]

A local tansu on a free port gets N click records (spread over the topic's partitions,
produced before timing, none committed: the worst case, ingest stored nothing). The
carry-over copies them into a sealed segment; the baseline is a bare consumer reading the
same records from the same offsets without writing them: the ratio is what the spool
writing and the offset look-ups add. The run's wall time is what a stop waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from turnout.edge.sink.spool import SpoolReader, list_segments
from turnout.ingest.settings import IngestSettings
from turnout.local.carry_over import carry_over
from turnout.local.services import tansu
from turnout.topics import ensure_topics

TAG = "bench000"


async def _produce(bootstrap: str, topic: str, events: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type="zstd",
                                linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        value = b'{"id":"%08d","campaign":"camp-a","country":"US","device":"desktop"}'
        pending = [await producer.send(topic, value % n, key=b"%d" % n)
                   for n in range(events)]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _bare_read(bootstrap: str, topic: str, events: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        started = time.perf_counter()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        while seen < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(m) for m in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    settings = IngestSettings()
    with tempfile.TemporaryDirectory() as tmp:
        broker = tansu(Path(tmp))
        broker.start()
        try:
            bootstrap = f"127.0.0.1:{broker.port}"
            asyncio.run(ensure_topics(bootstrap))
            asyncio.run(_produce(bootstrap, settings.topic_clicks, args.events))
            bare = asyncio.run(_bare_read(bootstrap, settings.topic_clicks, args.events))
            spool_dir = Path(tmp) / "spool"
            carried = asyncio.run(carry_over(bootstrap, settings, spool_dir, TAG))
        finally:
            broker.stop()
        (segment,) = list_segments(spool_dir)
        with SpoolReader(segment.path) as reader:
            frames = len(reader.read_all())
        size = segment.path.stat().st_size
    assert carried.records == frames == args.events, (carried.records, frames)
    print(f"carry-over: {carried.records} records in {carried.seconds:.2f} s "
          f"({carried.records / carried.seconds:,.0f}/s), segment {size / 1e6:.1f} MB")
    print(f"bare read:  {args.events} records in {bare:.2f} s "
          f"({args.events / bare:,.0f}/s); carry-over/bare = {carried.seconds / bare:.2f}")


if __name__ == "__main__":
    main()
