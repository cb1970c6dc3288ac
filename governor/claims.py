"""Reading and annotating the governor's claims (governor_actions, governor/once.py) in
batches: a pass checks which occasions are claimed in one query instead of one
transaction per occasion, and a claim records what its action did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


async def claimed_among(conn: psycopg.AsyncConnection[Any], keys: Sequence[str]) -> set[str]:
    """Which of `keys` have been claimed."""
    if not keys:
        return set()
    cursor = await conn.execute("SELECT key FROM governor_actions WHERE key = ANY(%s)",
                                (list(keys),))
    return {row[0] for row in await cursor.fetchall()}


async def record(conn: psycopg.AsyncConnection[Any], key: str, detail: dict[str, Any]) -> None:
    """Add `detail` (what happened) to the claim of `key` made in this transaction."""
    await conn.execute("UPDATE governor_actions SET detail = detail || %s WHERE key = %s",
                       (Jsonb(detail), key))


def days_before(day: str, days: int) -> str:
    """The ISO day `days` before the ISO day `day` (claims name their day in `detail`)."""
    return (dt.date.fromisoformat(day) - dt.timedelta(days=days)).isoformat()
