"""What `turnout dev` waits for before it stops ingest: records past the committed offsets
of ingest's consumer groups, on a real broker."""

from __future__ import annotations

import dataclasses
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from turnout.ingest.settings import IngestSettings
from turnout.local.ingest_lag import wait_ingested


async def test_lag_counts_records_until_each_group_commits_past_them(
        kafka_bootstrap: str) -> None:
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        IngestSettings(), group_id=f"lag-{run}", topic_clicks=f"lag-clicks-{run}",
        topic_conversions=f"lag-conversions-{run}", topic_events=f"lag-events-{run}")
    topics = [settings.topic_clicks, settings.topic_conversions, settings.topic_events]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1) for topic in topics])
    finally:
        await admin.close()
    assert await wait_ingested(kafka_bootstrap, settings, timeout=0) == 0

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(settings.topic_clicks, b"c", partition=n % 2)
        await producer.send_and_wait(settings.topic_events, b"e", partition=1)
    finally:
        await producer.stop()
    assert await wait_ingested(kafka_bootstrap, settings, timeout=0) == 4

    # The clicks' group commits both partitions to their ends: only the event is left.
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap,
                                group_id=f"{settings.group_id}.{settings.topic_clicks}",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        clicks = [TopicPartition(settings.topic_clicks, p) for p in (0, 1)]
        consumer.assign(clicks)
        ends = await consumer.end_offsets(clicks)
        await consumer.commit({tp: OffsetAndMetadata(ends[tp], "") for tp in clicks})
    finally:
        await consumer.stop()
    assert await wait_ingested(kafka_bootstrap, settings, timeout=0.5) == 1


async def test_lag_counts_a_whole_batch_to_the_high_watermark(kafka_bootstrap: str) -> None:
    """tansu answers ListOffsets with the last batch's base offset + 1: 5 records sent as
    one batch are 5 behind, not 1 (the regression the faults tests found)."""
    run = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(
        IngestSettings(), group_id=f"lag-{run}", topic_clicks=f"lag-clicks-{run}",
        topic_conversions=f"lag-conversions-{run}", topic_events=f"lag-events-{run}")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topic_clicks, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False,
                                linger_ms=200)
    await producer.start()
    try:
        batch = producer.create_batch()
        for _ in range(5):
            assert batch.append(key=None, value=b"c", timestamp=None) is not None
        await (await producer.send_batch(batch, settings.topic_clicks, partition=0))
    finally:
        await producer.stop()
    assert await wait_ingested(kafka_bootstrap, settings, timeout=0) == 5
