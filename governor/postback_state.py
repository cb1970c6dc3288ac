"""The delivery state of postbacks in PostgreSQL (table `postbacks`, migration 0006).

A postback is owed once (`owe`: a row per conversion and status, never rewritten), then
goes through claim -> send -> record: `claim` commits `sending` and the attempt number
before the request leaves, `record` moves it on only if that claim is still the row's.
delivered, failed and skipped rows are final, so no restart sends one again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import psycopg

Key = tuple[str, str, str, str]  # workspace_id, click_id, txid, status

_KEY: Final = "(workspace_id, click_id, txid, status)"
_COLUMNS: Final = ("workspace_id, click_id, txid, status, traffic_source_id, campaign_id, "
                   "attempts, url, created_ms, next_at_ms")


@dataclass(frozen=True, slots=True)
class Owed:
    """A postback to write down: `url` None when postback_percent left it out."""

    key: Key
    traffic_source_id: str
    campaign_id: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """An attempt taken: `attempts` is this attempt's number."""

    key: Key
    traffic_source_id: str
    campaign_id: str
    attempts: int
    url: str
    created_ms: int
    next_at_ms: int  # when the claim expires (sending) or was due (pending)


def _claim(row: Sequence[Any]) -> Claim:
    return Claim((row[0], row[1], row[2], row[3]), row[4], row[5], row[6], row[7], row[8],
                 row[9])


async def known(conn: psycopg.AsyncConnection[Any], keys: Iterable[Key]) -> set[Key]:
    """Which of `keys` are owed already (in any state)."""
    columns: tuple[list[str], ...] = ([], [], [], [])
    for key in keys:
        for column, value in zip(columns, key, strict=True):
            column.append(value)
    if not columns[0]:
        return set()
    cursor = await conn.execute(
        f"SELECT p.workspace_id, p.click_id, p.txid, p.status FROM postbacks p "
        f"JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS k {_KEY} "
        f"USING {_KEY}", columns)
    return {tuple(row) for row in await cursor.fetchall()}  # type: ignore[misc]


async def owe(conn: psycopg.AsyncConnection[Any], owed: Sequence[Owed], now_ms: int) -> int:
    """Write down `owed` (due now; skipped when its url is None); the number new."""
    if not owed:
        return 0
    cursor = await conn.execute(
        "INSERT INTO postbacks (workspace_id, click_id, txid, status, traffic_source_id, "
        "campaign_id, state, url, created_ms, next_at_ms) "
        "SELECT w, c, t, s, src, camp, CASE WHEN u IS NULL THEN 'skipped' ELSE 'pending' END, "
        "u, %s, %s FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
        "%s::text[], %s::text[]) AS o (w, c, t, s, src, camp, u) "
        "ON CONFLICT DO NOTHING",
        (now_ms, now_ms, [o.key[0] for o in owed], [o.key[1] for o in owed],
         [o.key[2] for o in owed], [o.key[3] for o in owed],
         [o.traffic_source_id for o in owed], [o.campaign_id for o in owed],
         [o.url for o in owed]))
    return cursor.rowcount


async def claim(conn: psycopg.AsyncConnection[Any], now_ms: int, limit: int,
                lease_ms: int) -> list[Claim]:
    """Take up to `limit` due postbacks for an attempt each: `sending`, the attempt counted,
    the claim expiring at now + `lease_ms`. Commit before sending."""
    if limit <= 0:
        return []
    cursor = await conn.execute(
        f"WITH due AS (SELECT {_KEY[1:-1]} FROM postbacks WHERE state = 'pending' "
        f"AND next_at_ms <= %(now)s ORDER BY next_at_ms LIMIT %(limit)s "
        f"FOR UPDATE SKIP LOCKED) "
        f"UPDATE postbacks p SET state = 'sending', attempts = p.attempts + 1, "
        f"next_at_ms = %(expiry)s, updated_at = now() FROM due "
        f"WHERE (p.workspace_id, p.click_id, p.txid, p.status) = "
        f"(due.workspace_id, due.click_id, due.txid, due.status) "
        f"RETURNING {', '.join('p.' + c for c in _COLUMNS.split(', '))}",
        {"now": now_ms, "limit": limit, "expiry": now_ms + lease_ms})
    return [_claim(row) for row in await cursor.fetchall()]


async def expired(conn: psycopg.AsyncConnection[Any], now_ms: int, limit: int) -> list[Claim]:
    """Claims whose holder never recorded an answer before they expired (it stopped)."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM postbacks WHERE state = 'sending' AND next_at_ms <= %s "
        f"ORDER BY next_at_ms LIMIT %s", (now_ms, limit))
    return [_claim(row) for row in await cursor.fetchall()]


async def record(conn: psycopg.AsyncConnection[Any], claim: Claim, *, state: str,
                 next_at_ms: int, http_status: int | None, error: str) -> bool:
    """The outcome of `claim`'s attempt; False when the claim is no longer the row's (it
    expired and was taken over), and nothing is changed."""
    cursor = await conn.execute(
        "UPDATE postbacks SET state = %s, next_at_ms = %s, http_status = %s, error = %s, "
        "updated_at = now() WHERE (workspace_id, click_id, txid, status) = (%s, %s, %s, %s) "
        "AND state = 'sending' AND attempts = %s",
        (state, next_at_ms, http_status, error, *claim.key, claim.attempts))
    return cursor.rowcount == 1
