"""Make the tables of some entity kinds equal to given rows, set-based, reporting what
changed: the one write path of import_graph and of the single-entity writers.

The rows go by COPY into temporary staging tables; each comparison and change is then one
statement per table, whatever the number of entities. PostgreSQL compares the staged rows
with the stored ones in the column types (so 12.5 and 12.50, or a JSON object's key
order, are no change). An entity changed when its own row or any row of its parts did;
it is then upserted (a new revision, by trigger) and its parts are rewritten. Entities
within the scope that the rows lack are deleted; archived campaigns are left alone.
Deferrable constraints are checked once, at the end, so codes or secrets may move between
entities in one merge.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg

from turnout.control.errors import ControlError
from turnout.control.graph_rows import Rows, Table, owners, tables_of


class RowsRefused(ControlError, ValueError):
    """PostgreSQL refused the rows: a constraint (`constraint`, on `table`) or a value's
    type. Graph validation catches these first; this is the schema's last word."""

    def __init__(self, message: str, constraint: str | None = None,
                 table: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint
        self.table = table


@dataclass(frozen=True, slots=True)
class Scope:
    """Which stored entities the rows stand for: everything, some workspaces' entities, or
    one entity. Stored entities in scope that the rows lack are deleted."""

    workspace_ids: tuple[str, ...] | None = None
    entity: tuple[str, str] | None = None  # (kind, id)

    def where(self, table: Table) -> tuple[str, dict[str, Any]]:
        """SQL condition on stored rows of `table` (alias t) in scope, and its parameters."""
        if self.entity is not None:
            return f"t.{table.owner} = %(entity)s", {"entity": self.entity[1]}
        if self.workspace_ids is None:
            return "true", {}
        column = "t.id" if table.kind == "workspaces" else "t.workspace_id"
        entity = f"{column} = ANY(%(workspaces)s::text[])"
        params = {"workspaces": list(self.workspace_ids)}
        if table.is_entity:
            return entity, params
        return f"t.{table.owner} IN (SELECT t.id FROM {table.kind} t WHERE {entity})", params

    def staged_where(self, table: Table) -> tuple[str, dict[str, Any]]:
        """A condition on the stored rows a staged row may equal: for one entity, its own
        rows (an index look-up), so tiny stagings are never planned as table scans."""
        return self.where(table) if self.entity is not None else ("true", {})


@dataclass(slots=True)
class Changes:
    """Entity ids by section (`campaigns`, ...), and the new revision of each written."""

    created: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    revisions: dict[str, dict[str, int]] = field(default_factory=dict)

    def ids(self) -> dict[str, list[str]]:
        """Every changed id by section, sorted; sections without a change left out."""
        out: dict[str, set[str]] = {}
        for found in (self.created, self.updated, self.deleted):
            for kind, ids in found.items():
                out.setdefault(kind, set()).update(ids)
        return {kind: sorted(ids) for kind, ids in out.items() if ids}

    def __bool__(self) -> bool:
        return bool(self.ids())


_ORD: Final = "ord"  # staging column of entity tables: the rows' order, kept as `seq`
_ANALYZE_AFTER: Final = 1000  # rows (staged, or entities written) that call for statistics
# pg_advisory_xact_lock key of graph writes ("graph" in ASCII): single-entity writes share
# it, so they run side by side; a graph import holds it alone, so no write lands between
# its comparison and its changes.
_GRAPH_LOCK: Final = 0x6772617068


def _stage_name(table: Table) -> str:
    return f"stage_{table.name}"


def _same(table: Table) -> str:
    """The staged row s and the stored row t are the same row, column for column."""
    keys = " AND ".join(f"t.{c} = s.{c}" for c in table.key)
    rest = [c for c in table.columns if c not in table.key]
    if not rest:
        return keys
    row = ", ".join(f"t.{c}" for c in rest), ", ".join(f"s.{c}" for c in rest)
    return f"{keys} AND ROW({row[0]}) IS NOT DISTINCT FROM ROW({row[1]})"


async def _prepare(conn: psycopg.AsyncConnection[Any], tables: Iterable[Table]) -> None:
    """Deferred constraints, and empty staging tables for `tables`, in one round trip. The
    tables live as long as the connection (a pooled one serves many writes) and empty
    themselves at each commit."""
    statements, stages = ["SET CONSTRAINTS ALL DEFERRED"], []
    for table in tables:
        extra = f", 0::bigint AS {_ORD}" if table.is_entity else ""
        statements.append(
            f"CREATE TEMP TABLE IF NOT EXISTS {_stage_name(table)} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(table.columns)}{extra} FROM {table.name} WITH NO DATA")
        stages.append(_stage_name(table))
    # Empty already, unless this is the second merge of a transaction (TRUNCATE would cost
    # new files and catalog rows on every write).
    statements.extend(f"DELETE FROM {stage}" for stage in stages)
    await conn.execute(";\n".join(statements).encode())


async def _stage(conn: psycopg.AsyncConnection[Any], table: Table, rows: list[Any]) -> None:
    if not rows:
        return
    columns = ", ".join(table.columns)
    copied = f"{columns}, {_ORD}" if table.is_entity else columns
    async with conn.cursor().copy(f"COPY {_stage_name(table)} ({copied}) FROM STDIN") as copy:
        if table.is_entity:
            for i, row in enumerate(rows):
                await copy.write_row((*row, i))
        else:
            for row in rows:
                await copy.write_row(row)
    if len(rows) >= _ANALYZE_AFTER:  # the diffs of a bulk merge are planned on these
        await conn.execute(f"ANALYZE {_stage_name(table)}")


def _touched_sql(kind: str, scope: Scope) -> tuple[str, dict[str, Any]]:
    """Ids of the `kind` entities whose rows differ between staging and the tables."""
    branches, params = [], {}
    for table in tables_of(kind):
        stage, owner = _stage_name(table), table.owner
        stored, found = scope.where(table)
        near, also = scope.staged_where(table)
        params.update(found, **also)
        branches.append(f"SELECT s.{owner} FROM {stage} s WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {table.name} t WHERE {near} AND {_same(table)})")
        branches.append(f"SELECT t.{owner} FROM {table.name} t WHERE {stored} AND NOT EXISTS "
                        f"(SELECT 1 FROM {stage} s WHERE {_same(table)})")
    return "\nUNION\n".join(branches), params


async def _ids(conn: psycopg.AsyncConnection[Any], query: str, params: dict[str, Any]
               ) -> set[str]:
    cursor = await conn.execute(query, params)
    return {row[0] for row in await cursor.fetchall()}


async def _classify(conn: psycopg.AsyncConnection[Any], kind: str, scope: Scope,
                    staged: set[str], changes: Changes) -> None:
    entity = tables_of(kind)[0]
    query, params = _touched_sql(kind, scope)
    touched = await _ids(conn, query, params)
    if not touched:
        return
    live = "archived_at IS NULL" if kind == "campaigns" else "true"
    cursor = await conn.execute(
        f"SELECT id, {live} FROM {entity.name} WHERE id = ANY(%(ids)s::text[])",
        {"ids": sorted(touched)})
    stored = {row[0]: row[1] for row in await cursor.fetchall()}  # id -> live
    changes.created[kind] = sorted(i for i in touched & staged if i not in stored)
    changes.updated[kind] = sorted(i for i in touched & staged if i in stored)
    changes.deleted[kind] = sorted(i for i in touched - staged if stored.get(i))


async def _refuse_foreign(conn: psycopg.AsyncConnection[Any], kind: str, scope: Scope,
                          staged: set[str]) -> None:
    """A scoped merge may not take over an entity stored outside its scope (ids are
    unique per kind across workspaces)."""
    if scope.workspace_ids is None or not staged:
        return
    where, params = scope.where(tables_of(kind)[0])
    cursor = await conn.execute(
        f"SELECT t.id FROM {tables_of(kind)[0].name} t "
        f"WHERE t.id = ANY(%(staged)s::text[]) AND NOT ({where})",
        {**params, "staged": sorted(staged)})
    taken = sorted(row[0] for row in await cursor.fetchall())
    if taken:
        raise RowsRefused(f"{kind} {', '.join(taken)}: the ids belong to another workspace",
                          table=kind)


async def _write(conn: psycopg.AsyncConnection[Any], kind: str, ids: list[str],
                 changes: Changes) -> None:
    entity, *parts = tables_of(kind)
    if not ids:
        return
    params = {"ids": ids}
    columns = ", ".join(entity.columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in entity.columns if c != "id")
    cursor = await conn.execute(
        f"INSERT INTO {entity.name} ({columns}) "
        f"SELECT {columns} FROM {_stage_name(entity)} WHERE id = ANY(%(ids)s::text[]) "
        f"ORDER BY {_ORD} ON CONFLICT (id) DO UPDATE SET {updates} RETURNING id, revision",
        params)
    changes.revisions[kind] = {row[0]: int(row[1]) for row in await cursor.fetchall()}
    if not parts:
        return
    async with conn.pipeline():  # the parts' statements in one round trip
        for table in reversed(parts):
            await conn.execute(
                f"DELETE FROM {table.name} WHERE {table.owner} = ANY(%(ids)s::text[])", params)
        for table in parts:
            columns = ", ".join(table.columns)
            await conn.execute(
                f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM "
                f"{_stage_name(table)} WHERE {table.owner} = ANY(%(ids)s::text[])", params)


async def _analyze(conn: psycopg.AsyncConnection[Any], kinds: tuple[str, ...], rows: Rows,
                   changes: Changes) -> None:
    """Fresh planner statistics after a bulk change, so the next statements (and the
    constraint checks of later writes) are planned for the tables as they now are."""
    written = sum(len(changes.created.get(kind, ())) + len(changes.updated.get(kind, ()))
                  for kind in kinds)
    if written < _ANALYZE_AFTER:
        return
    for kind in kinds:
        for table in tables_of(kind):
            if rows[table.name]:
                await conn.execute(f"ANALYZE {table.name}")


async def lock_graph(conn: psycopg.AsyncConnection[Any], exclusive: bool) -> None:
    """Until the transaction ends: alone (an import) or beside other single writes."""
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await conn.execute(f"SELECT {function}(%s)", (_GRAPH_LOCK,))


def refused(exc: psycopg.Error) -> RowsRefused:
    diag = exc.diag
    message = diag.message_primary or str(exc)
    if diag.message_detail:
        message = f"{message} ({diag.message_detail})"
    return RowsRefused(message, diag.constraint_name, diag.table_name)


async def merge(conn: psycopg.AsyncConnection[Any], rows: Rows, kinds: Iterable[str],
                scope: Scope = Scope()) -> Changes:
    """Make the stored `kinds` entities within `scope` equal to `rows`; in one transaction
    (a savepoint inside the caller's). Raises RowsRefused when the schema refuses."""
    kinds = tuple(kinds)
    changes = Changes()
    try:
        async with conn.transaction():
            await lock_graph(conn, exclusive=scope.entity is None)
            tables = [table for kind in kinds for table in tables_of(kind)]
            await _prepare(conn, tables)
            for table in tables:
                await _stage(conn, table, rows[table.name])
            staged = {kind: set(owners(rows, kind)) for kind in kinds}
            for kind in kinds:
                await _refuse_foreign(conn, kind, scope, staged[kind])
                await _classify(conn, kind, scope, staged[kind], changes)
            for kind in kinds:
                await _write(conn, kind, changes.created.get(kind, []) +
                             changes.updated.get(kind, []), changes)
            for kind in reversed(kinds):
                if changes.deleted.get(kind):
                    await conn.execute(
                        f"DELETE FROM {tables_of(kind)[0].name} WHERE id = ANY(%(ids)s::text[])",
                        {"ids": changes.deleted[kind]})
            await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
            await _analyze(conn, kinds, rows, changes)
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        raise refused(exc) from exc
    return changes


def scope_of(workspace_ids: Collection[str] | None) -> Scope:
    return Scope(workspace_ids=None if workspace_ids is None else tuple(workspace_ids))
