"""The history of automation rules (automation_runs) and their cooldowns.

The governor records every evaluation of a rule here (what it saw, what it did or would
do, what failed, how long it took) and claims each action's cooldown in the transaction
that acts; the admin API reads the history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

MAX_PAGE: Final = 500


class Run(msgspec.Struct, kw_only=True, frozen=True):
    """One evaluation of a rule."""

    id: int
    rule: str
    at: dt.datetime
    rule_revision: int
    dry_run: bool
    window_start: dt.datetime
    window_end: dt.datetime
    evaluated: list[dict[str, Any]]
    """Trigger data per target: `item`, `clicks`, `value` (the metric), `outcome`
    (matched | not matched | too few clicks | no value)."""
    actions: list[dict[str, Any]]
    """Per matched target: `item`, `action`, `outcome` (done | would (dry run) | cooling
    down | unchanged | failed) and what changed."""
    errors: list[dict[str, Any]]
    """`{item?, message}` for what failed."""
    duration_ms: int


class RunPage(msgspec.Struct, kw_only=True):
    items: list[Run]
    next_cursor: str | None
    """Pass as `cursor` for the older runs; null on the last page."""


def _ms(instant_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(instant_ms / 1000, dt.UTC)


async def record(conn: psycopg.AsyncConnection[Any], *, workspace_id: str, rule_id: str,
                 rule_revision: int, at_ms: int, dry_run: bool, window_start_ms: int,
                 evaluated: list[dict[str, Any]], actions: list[dict[str, Any]],
                 errors: list[dict[str, Any]], duration_ms: int) -> int:
    """Append one run; its id."""
    cursor = await conn.execute(
        "INSERT INTO automation_runs (workspace_id, automation_rule_id, at, rule_revision, "
        "dry_run, window_start, window_end, evaluated, actions, errors, duration_ms) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (workspace_id, rule_id, _ms(at_ms), rule_revision, dry_run, _ms(window_start_ms),
         _ms(at_ms), Jsonb(evaluated), Jsonb(actions), Jsonb(errors), max(0, duration_ms)))
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def runs(conn: psycopg.AsyncConnection[Any], workspace_id: str, *,
               rule_id: str | None = None, before_id: int | None = None,
               limit: int = 100) -> list[Run]:
    """The workspace's runs, newest first: of `rule_id` when given, with `id < before_id`."""
    where, args = ["workspace_id = %s"], [workspace_id]
    for clause, value in (("automation_rule_id = %s", rule_id), ("id < %s", before_id)):
        if value is not None:
            where.append(clause)
            args.append(value)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, automation_rule_id AS rule, at, rule_revision, dry_run, window_start, "
            "window_end, evaluated, actions, errors, duration_ms FROM automation_runs "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s",
            (*args, max(1, min(limit, MAX_PAGE))))
        return [Run(**row) async for row in cur]


async def last_runs(conn: psycopg.AsyncConnection[Any]) -> dict[tuple[str, str], dt.datetime]:
    """(workspace, rule) -> the time of its newest run, for every rule that ran."""
    cursor = await conn.execute(
        "SELECT workspace_id, automation_rule_id, max(at) FROM automation_runs "
        "GROUP BY workspace_id, automation_rule_id")
    return {(ws, rule): at for ws, rule, at in await cursor.fetchall()}


async def cooling(conn: psycopg.AsyncConnection[Any], workspace_id: str, rule_id: str,
                  now_ms: int, cooldown_minutes: int) -> set[str]:
    """The items the rule acted on less than its cooldown before `now_ms`."""
    cursor = await conn.execute(
        "SELECT item FROM automation_cooldowns WHERE workspace_id = %s AND "
        "automation_rule_id = %s AND acted_at > %s - make_interval(mins => %s)",
        (workspace_id, rule_id, _ms(now_ms), cooldown_minutes))
    return {row[0] for row in await cursor.fetchall()}


async def claim(conn: psycopg.AsyncConnection[Any], workspace_id: str, rule_id: str,
                item: str, now_ms: int, cooldown_minutes: int) -> bool:
    """Claim acting on `item` at `now_ms`, inside the caller's transaction: True when its
    cooldown has passed (it is restarted now), False while it runs (do nothing). The row
    lock makes two governors' claims of one item wait for each other."""
    cursor = await conn.execute(
        "INSERT INTO automation_cooldowns AS c (workspace_id, automation_rule_id, item, "
        "acted_at) VALUES (%s, %s, %s, %s) ON CONFLICT (workspace_id, automation_rule_id, "
        "item) DO UPDATE SET acted_at = EXCLUDED.acted_at "
        "WHERE c.acted_at <= EXCLUDED.acted_at - make_interval(mins => %s) RETURNING item",
        (workspace_id, rule_id, item, _ms(now_ms), cooldown_minutes))
    return await cursor.fetchone() is not None
