"""Notifications: the events the governor reports to a workspace's webhooks.

`enqueue` writes one row into the `notifications` outbox inside the caller's transaction,
the one that performs the action it reports, so an event is recorded exactly when its action
commits. governor/webhooks.py delivers the outbox, signed and retried.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg
from psycopg.types.json import Jsonb

from turnout.control import webhook_endpoints

EVENTS: Final = webhook_endpoints.EVENTS  # the events an endpoint can subscribe to


async def enqueue(conn: psycopg.AsyncConnection[Any], *, workspace_id: str, event: str,
                  data: dict[str, Any], key: str) -> bool:
    """Record `event` for `workspace_id`'s webhooks, once per `key`: False when an event
    with that key was recorded before (nothing is written)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    cursor = await conn.execute(
        "INSERT INTO notifications (key, workspace_id, event, data) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (key) DO NOTHING RETURNING id", (key, workspace_id, event, Jsonb(data)))
    return await cursor.fetchone() is not None
