"""carry_over against the session's real tansu: exactly the records past ingest's committed
offsets of each stored topic, and every dead letter, land in one sealed spool segment."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from tests.integration.ingest_support import make_topics, produce, settings_for
from turnout.edge.sink.spool import SpoolReader, list_segments
from turnout.local.carry_over import carry_over

TAG = "c0ffee00"


async def _commit(bootstrap: str, group: str, topic: str, upto: int) -> int:
    """Commit partition 0 of `topic` at `upto` for `group` as ingest would; the records
    of that partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.commit({partition: OffsetAndMetadata(upto, "")})
        consumer.seek(partition, 0)
        held = 0
        while batch := await consumer.getmany(partition, timeout_ms=500):
            held += sum(len(records) for records in batch.values())
        return held
    finally:
        await consumer.stop()


def test_the_records_ingest_has_not_committed_and_the_dead_letters_are_carried(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    topics = asyncio.run(make_topics(kafka_bootstrap))
    settings = settings_for("unused", topics)
    clicks = [b'{"n":%d}' % n for n in range(40)]
    asyncio.run(produce(kafka_bootstrap, topics["clicks"], clicks))
    asyncio.run(produce(kafka_bootstrap, topics["dlq"], [b"bad-1", b"bad-2", b"bad-3"]))
    in_first = asyncio.run(_commit(kafka_bootstrap, f"{settings.group_id}.{topics['clicks']}",
                                   topics["clicks"], 5))
    assert in_first > 5  # the keyless records spread over the partitions

    carried = asyncio.run(carry_over(kafka_bootstrap, settings, tmp_path, TAG))

    (segment,) = list_segments(tmp_path)
    assert segment.sealed and segment.tag == TAG
    with SpoolReader(segment.path) as reader:
        frames = reader.read_all()
    by_topic = {topic: [f.value for f in frames if f.topic == topic] for topic in topics.values()}
    assert carried.records == len(frames) == 40 - 5 + 3
    assert sorted(by_topic[topics["dlq"]]) == [b"bad-1", b"bad-2", b"bad-3"]
    assert len(by_topic[topics["clicks"]]) == 35 and set(by_topic[topics["clicks"]]) <= set(clicks)


def test_nothing_to_carry_writes_no_segment(kafka_bootstrap: str, tmp_path: Path) -> None:
    topics = asyncio.run(make_topics(kafka_bootstrap))
    carried = asyncio.run(carry_over(kafka_bootstrap, settings_for("unused", topics),
                                     tmp_path, TAG))
    assert carried.records == 0 and list_segments(tmp_path) == []
