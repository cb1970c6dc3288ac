"""The audit log: one row per accepted write, in the same transaction as the write.

`record` is called by every writer (API handlers, the CLI's bootstrap, the governor) with
the entity before and after; secrets are masked here, once, so no caller can leak one into
the log. `entries` reads a workspace's log newest first, a page at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

# Fields whose values never enter the log, at any depth: network postback secrets and HMAC
# keys, and API key hashes. The field stays (so a reader sees it was there), its value not.
SECRET_FIELDS: Final = frozenset({"secret", "hmac_key", "key_hash"})
MASK: Final = "***"
MAX_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: dt.datetime
    workspace_id: str | None
    actor: str
    """The API key id, `bootstrap` (the command line) or `governor`."""
    action: str
    entity_kind: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


def mask(value: Any) -> Any:
    """`value` with every SECRET_FIELDS value replaced by MASK (None stays None)."""
    if isinstance(value, Mapping):
        return {k: (MASK if v is not None else None) if k in SECRET_FIELDS else mask(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    return value


async def record(conn: psycopg.AsyncConnection, *, workspace_id: str | None, actor: str,
                 action: str, entity_kind: str, entity_id: str,
                 before: dict[str, Any] | None, after: dict[str, Any] | None,
                 request_id: str | None) -> None:
    """Append one audit row on `conn`, inside the caller's transaction: it commits or rolls
    back with the write it describes. `before` None: a creation; `after` None: a deletion."""
    if before is None and after is None:
        raise ValueError("an audit row needs the entity before or after the write")
    await conn.execute(
        "INSERT INTO audit (workspace_id, actor, action, entity_kind, entity_id, before, "
        "after, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (workspace_id, actor, action, entity_kind, entity_id,
         None if before is None else Jsonb(mask(before)),
         None if after is None else Jsonb(mask(after)), request_id))


async def entries(conn: psycopg.AsyncConnection, workspace_id: str, *,
                  entity_kind: str | None = None, entity_id: str | None = None,
                  since: dt.datetime | None = None, until: dt.datetime | None = None,
                  before_id: int | None = None, limit: int = 100,
                  without_kinds: tuple[str, ...] = ()) -> list[AuditEntry]:
    """The workspace's audit rows, newest first: at most `limit`, with `id < before_id`
    (the cursor: the last id of the previous page), `since <= at < until`, none of an
    entity kind in `without_kinds`."""
    where, args = ["workspace_id = %s"], [workspace_id]
    if without_kinds:
        where.append("entity_kind <> ALL(%s)")
        args.append(list(without_kinds))
    for clause, value in (("entity_kind = %s", entity_kind), ("entity_id = %s", entity_id),
                          ("at >= %s", since), ("at < %s", until), ("id < %s", before_id)):
        if value is not None:
            where.append(clause)
            args.append(value)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, at, workspace_id, actor, action, entity_kind, entity_id, before, "
            f"after, request_id FROM audit WHERE {' AND '.join(where)} "
            "ORDER BY id DESC LIMIT %s", (*args, max(1, min(limit, MAX_PAGE))))
        return [AuditEntry(**row) async for row in cur]
