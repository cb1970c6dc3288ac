"""At most once per occasion: a governor action claims its occasion in PostgreSQL in the
transaction that performs it, so a leader killed halfway, a retried pass or a second
governor never performs it twice.

An occasion is a key such as `budget:WS:CAMPAIGN:total:5000000:100`, `cap:WS:OFFER:2026-12-02` or
`schedule:WS:CAMPAIGN:end:1767225600000`. The claim commits or rolls back with the action:
if the transaction fails, the occasion is free again for the next pass.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


async def once(conn: psycopg.AsyncConnection[Any], key: str, *, workspace_id: str, kind: str,
               detail: dict[str, Any] | None = None) -> bool:
    """Claim `key` inside the caller's transaction: True the first time (go ahead and act),
    False when it was claimed before (the action has been done; do nothing)."""
    cursor = await conn.execute(
        "INSERT INTO governor_actions (key, workspace_id, kind, detail) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (key) DO NOTHING RETURNING key",
        (key, workspace_id, kind, Jsonb(detail or {})))
    return await cursor.fetchone() is not None

