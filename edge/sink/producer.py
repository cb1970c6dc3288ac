"""The aiokafka producer the sink uses, configured from SinkSettings.

aiokafka has no `retries` setting: it re-sends a batch on retriable errors only while
the batch is younger than `request_timeout_ms`, then fails its futures and forgets it.
The sink spools an event only after its future failed, so the client never still holds
a copy of something we spooled (close() with a timeout shorter than the request timeout
is the one exception, documented there). What remains is Kafka's at-least-once: a batch
the broker wrote but whose acknowledgement was lost (timeout, dropped connection) is
written again, by the client's retry or by our replay. Ingest dedupes by click id; with
Apache Kafka, TURNOUT_KAFKA_IDEMPOTENCE=1 removes the client-retry duplicates.
Its zstd batches are compressed by zstd_codec (the same bytes, with a reused context).
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from turnout.edge.sink import zstd_codec
from turnout.edge.sink.settings import SinkSettings

# Records are ~0.5-1 KiB of JSON; 1 MiB batches hold a full sink batch per partition
# while staying under the broker's default message.max.bytes once compressed.
MAX_BATCH_BYTES = 1024 * 1024


def make_producer(settings: SinkSettings) -> AIOKafkaProducer:
    """Build (not start) a producer; must be called with the event loop running."""
    zstd_codec.install()  # one zstd context per thread, not one per batch
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="turnout-edge",
        acks="all" if settings.acks == "all" else 1,
        compression_type=None if settings.compression == "none" else settings.compression,
        linger_ms=settings.linger_ms,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=settings.request_timeout_ms,
        retry_backoff_ms=settings.retry_backoff_ms,
        enable_idempotence=settings.idempotence,
        # Spot a broker that went away between batches without waiting for a request.
        metadata_max_age_ms=30_000,
    )
