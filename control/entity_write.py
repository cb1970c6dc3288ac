"""The write of one entity the admin API makes: its row upserted, its parts rewritten.

control/merge.py writes any number of entities through staging tables and finds what
changed in SQL; for one entity that machinery (temporary tables created and analysed in
every transaction) costs ~70 ms, over the API's budget. Here the caller already knows the
entity changed (it compared the model structs), so the write is the entity's row — one
INSERT … ON CONFLICT, each value cast to its column's type — and its parts deleted and
inserted again in one pipelined round trip. The rows come from graph_rows, as the
merge's do, so both paths store an entity identically.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from turnout.config.model import Entity
from turnout.control.graph_rows import Rows, Table, kind_of, tables_of
from turnout.control.merge import refused

_INSERTS: dict[str, str] = {}
_COLUMN_TYPES: Final = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""


async def _insert_sql(conn: psycopg.AsyncConnection[Any], table: Table) -> str:
    """INSERT of one row of `table`, every value cast to its column's type (a text list to
    cidr[], a JSON text to jsonb); an entity row is upserted and returns its revision."""
    statement = _INSERTS.get(table.name)
    if statement is None:
        cursor = await conn.execute(_COLUMN_TYPES, (table.name,))
        types = dict(await cursor.fetchall())
        values = ", ".join(f"%s::{types[c]}" for c in table.columns)
        statement = f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({values})"
        if table.is_entity:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in table.columns if c != "id")
            statement += f" ON CONFLICT (id) DO UPDATE SET {updates} RETURNING revision"
        _INSERTS[table.name] = statement
    return statement


async def write_entity(conn: psycopg.AsyncConnection[Any], entity: Entity,
                       timezone: str) -> int:
    """Store `entity` (created or replaced, parts included); its revision after.
    `timezone`: the workspace's, which campaign schedules are read in. RowsRefused when
    the schema refuses it. The caller holds merge.lock_graph (control/entities.py)."""
    rows = Rows()
    rows.add(entity, lambda _: timezone)
    table, *parts = tables_of(kind_of(entity))
    (row,) = rows[table.name]
    statements = {t.name: await _insert_sql(conn, t) for t in (table, *parts)}
    try:
        async with conn.transaction():
            cursor = await conn.execute(statements[table.name], row)
            written = await cursor.fetchone()
            assert written is not None
            # One round trip for the parts: deleted, then inserted in dependency order.
            async with conn.pipeline(), conn.cursor() as cur:
                for part in reversed(parts):
                    await cur.execute(f"DELETE FROM {part.name} WHERE {part.owner} = %s",
                                      (entity.id,))
                for part in parts:
                    if rows[part.name]:
                        await cur.executemany(statements[part.name], rows[part.name])
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        raise refused(exc) from exc
    return int(written[0])
