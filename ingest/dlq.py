"""Dead letters: messages ingest cannot store, sent to turnout.dlq with the reason.

The letter keeps the original topic, partition, offset, key and raw value, so an operator
can fix and replay it; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

DLQ_VERSION = 1
_ENCODER = msgspec.json.Encoder()


class DeadLetter(msgspec.Struct, kw_only=True, omit_defaults=True):
    v: int = DLQ_VERSION
    reason: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0  # of the original message
    key: str | None = None
    value: str | None = None  # the raw value when it is UTF-8
    value_base64: str | None = None  # otherwise the raw bytes, base64
    failed_at_ms: int


class Record(Protocol):
    """A consumed Kafka record, as ingest reads it (aiokafka's ConsumerRecord fits)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


def _text(raw: bytes | None) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    try:
        return raw.decode(), None
    except UnicodeDecodeError:
        return None, base64.b64encode(raw).decode()


def letter(record: Record, reason: str, now_ms: int) -> DeadLetter:
    value, value_base64 = _text(record.value)
    key, key_base64 = _text(record.key)
    return DeadLetter(
        reason=reason,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp or 0,
        key=key if key_base64 is None else f"base64:{key_base64}",
        value=value,
        value_base64=value_base64,
        failed_at_ms=now_ms,
    )


def encode(letter: DeadLetter) -> bytes:
    return _ENCODER.encode(letter)


class Producer(Protocol):
    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None
                   ) -> Any: ...


async def send_letters(producer: Producer, topic: str, letters: Sequence[DeadLetter]) -> None:
    """Send and wait for every acknowledgement; raises if any was not stored."""
    futures = [
        await producer.send(topic, encode(item), key=item.key.encode() if item.key else None)
        for item in letters
    ]
    await asyncio.gather(*futures)
