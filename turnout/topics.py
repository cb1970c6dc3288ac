"""Create the Kafka topics of the event contract when they are missing."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from turnout.events import TOPICS


async def ensure_topics(
    bootstrap: str, partitions: int = 3, replication: int = 1, timeout: float = 30.0
) -> list[str]:
    """Create the missing turnout topics; return the names that were created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in TOPICS if name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, partitions, replication) for name in missing]
                )
            except TopicAlreadyExistsError:
                pass  # a concurrent creator won the race; the topics exist either way
            except KafkaError as exc:
                if "already exists" not in str(exc).lower():
                    raise
        return missing
    finally:
        await admin.close()
