"""Writers of the campaign graph: import a whole graph, upsert or delete one entity,
archive a campaign. All go through control/merge.py, so one entity and ten thousand are
written, compared and revisioned alike.

`expected` is the revision a write was based on (If-Match): a stale one raises
StaleRevision and changes nothing. A write that changes nothing keeps the revision.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psycopg

from turnout.config.model import Entity, Graph
from turnout.control.errors import ControlError
from turnout.control.graph_rows import KINDS, Rows, graph_rows, instant, kind_of, tables_of
from turnout.control.merge import (
    Changes,
    RowsRefused,
    Scope,
    lock_graph,
    merge,
    refused,
    scope_of,
)
from turnout.gc_pause import paused_gc

__all__ = ["Changes", "RowsRefused", "StaleRevision", "archive_campaign", "delete_entity",
           "import_graph", "upsert_entity"]


class StaleRevision(ControlError):
    """The entity's revision is not the one the write was based on (412 in the API)."""

    def __init__(self, kind: str, entity_id: str, current: int | None) -> None:
        state = "does not exist" if current is None else f"is at revision {current}"
        super().__init__(f"{kind} {entity_id} {state}")
        self.kind, self.entity_id, self.current = kind, entity_id, current


async def import_graph(conn: psycopg.AsyncConnection[Any], graph: Graph,
                       workspace_ids: Collection[str] | None = None) -> Changes:
    """Make the tables equal `graph` (a validated one): within `workspace_ids` when named
    (the graph must then hold only their entities), else the whole control plane."""
    if workspace_ids is not None:
        allowed = set(workspace_ids)
        outside = sorted({getattr(e, "workspace", getattr(e, "id", "")) for kind in KINDS
                          for e in getattr(graph, kind)} - allowed)
        if outside:
            raise RowsRefused(f"the graph has entities of workspaces {', '.join(outside)}, "
                              "outside the import's")
    with paused_gc():
        rows = graph_rows(graph)
    return await merge(conn, rows, KINDS, scope_of(workspace_ids))


async def _revision(conn: psycopg.AsyncConnection[Any], kind: str, entity_id: str,
                    expected: int | None) -> int | None:
    """The stored revision, locked for this transaction; StaleRevision if not `expected`."""
    cursor = await conn.execute(
        f"SELECT revision FROM {tables_of(kind)[0].name} WHERE id = %s FOR UPDATE", (entity_id,))
    row = await cursor.fetchone()
    current = None if row is None else int(row[0])
    if expected is not None and current != expected:
        raise StaleRevision(kind, entity_id, current)
    return current


async def _timezone(conn: psycopg.AsyncConnection[Any], workspace_id: str) -> str:
    cursor = await conn.execute("SELECT timezone FROM workspaces WHERE id = %s",
                                (workspace_id,))
    row = await cursor.fetchone()
    return "UTC" if row is None else str(row[0])  # no workspace: the foreign key refuses


async def upsert_entity(conn: psycopg.AsyncConnection[Any], entity: Entity,
                        expected: int | None = None) -> int:
    """Create or replace one entity (any kind, parts included); its revision after."""
    kind = kind_of(entity)
    async with conn.transaction():
        await lock_graph(conn, exclusive=False)
        current = await _revision(conn, kind, entity.id, expected)
        zone = await _timezone(conn, entity.workspace) if kind == "campaigns" else "UTC"
        rows = Rows()
        rows.add(entity, lambda _: zone)
        changes = await merge(conn, rows, (kind,), Scope(entity=(kind, entity.id)))
        if kind == "workspaces" and changes:
            await _rederive_schedules(conn, entity.id)
    written = changes.revisions.get(kind, {}).get(entity.id)
    revision = written if written is not None else current
    assert revision is not None
    return revision


async def _rederive_schedules(conn: psycopg.AsyncConnection[Any], workspace_id: str) -> None:
    """A workspace's time zone moves the instants of its campaigns' offset-less
    schedules: derive them again (a new revision where they moved)."""
    zone = await _timezone(conn, workspace_id)
    cursor = await conn.execute(
        "SELECT id, schedule_start, schedule_end, starts_at, ends_at FROM campaigns "
        "WHERE workspace_id = %s AND (schedule_start IS NOT NULL OR schedule_end IS NOT NULL)",
        (workspace_id,))
    moved = []
    for campaign_id, start, end, starts_at, ends_at in await cursor.fetchall():
        now = instant(start, zone), instant(end, zone)
        if now != (starts_at, ends_at):
            moved.append((*now, campaign_id))
    if moved:
        try:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "UPDATE campaigns SET starts_at = %s, ends_at = %s WHERE id = %s", moved)
        except psycopg.errors.IntegrityError as exc:
            raise refused(exc) from exc


async def delete_entity(conn: psycopg.AsyncConnection[Any], kind: str, entity_id: str,
                        expected: int | None = None) -> bool:
    """Delete one entity of section `kind` with its parts; False when there was none.
    RowsRefused when something still references it."""
    async with conn.transaction():
        await lock_graph(conn, exclusive=False)
        current = await _revision(conn, kind, entity_id, expected)
        if current is None:
            return False
        try:
            await conn.execute(f"DELETE FROM {tables_of(kind)[0].name} WHERE id = %s",
                               (entity_id,))
            await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        except psycopg.errors.IntegrityError as exc:
            raise refused(exc) from exc
    return True


async def archive_campaign(conn: psycopg.AsyncConnection[Any], campaign_id: str,
                           expected: int | None = None) -> int:
    """Take a campaign out of the graph for good, keeping its row (its clicks name it) and
    its code; its revision after. Archiving an archived campaign changes nothing."""
    async with conn.transaction():
        await lock_graph(conn, exclusive=False)
        current = await _revision(conn, "campaigns", campaign_id, expected)
        if current is None:
            raise StaleRevision("campaigns", campaign_id, None)
        cursor = await conn.execute(
            "UPDATE campaigns SET archived_at = now() WHERE id = %s AND archived_at IS NULL "
            "RETURNING revision", (campaign_id,))
        row = await cursor.fetchone()
    return current if row is None else int(row[0])
