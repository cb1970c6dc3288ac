"""Pages of a workspace's entities of one kind: filtered, sorted, keyset-paginated.

Keyset pagination (`after` the last row's sort value and id) keeps a page as cheap at the
10,000th row as at the first and stable while rows are added; the id breaks ties, so the
order is total. The default order is insertion order, the one exports and read_graph use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

import psycopg

from turnout.control.entity_docs import Stored, read_many, table_of

MAX_LIMIT: Final = 1000
# Sort key -> (SQL expression, cast of a cursor value back to its type).
_SORTS: Final = {
    "seq": ("e.seq", "bigint"),
    "id": ("e.id", "text"),
    "name": ("e.name", "text"),
    "created_at": ("e.created_at", "timestamptz"),
    "updated_at": ("e.updated_at", "timestamptz"),
    "code": ("e.code", "text"),
    "status": ("e.status", "text"),
}
CAMPAIGN_ONLY: Final = frozenset({"code", "status", "parent"})
SORT_KEYS: Final = tuple(key for key in _SORTS if key != "seq")


def sort_keys(kind: str) -> tuple[str, ...]:
    return tuple(k for k in SORT_KEYS if kind == "campaigns" or k not in CAMPAIGN_ONLY)


@dataclass(frozen=True, slots=True)
class ListQuery:
    sort: str = "seq"  # a key of _SORTS
    descending: bool = False
    limit: int = 100
    status: tuple[str, ...] = ()  # campaigns only
    parent: str | None = None  # campaigns only
    q: str | None = None  # id, name (or code) contains, case-insensitive
    after: tuple[Any, str] | None = None  # (sort value, id) of the previous page's last row

    def __post_init__(self) -> None:
        if self.sort not in _SORTS:
            raise ValueError(f"unknown sort {self.sort!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Stored]
    after: tuple[Any, str] | None  # where the next page starts; None: this was the last


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def _statement(kind: str, query: ListQuery) -> tuple[str, dict[str, Any]]:
    column, cast = _SORTS[query.sort]
    where = ["e.workspace_id = %(workspace)s"]
    params: dict[str, Any] = {"limit": query.limit + 1}
    if kind == "campaigns":
        where.append("e.archived_at IS NULL")
        if query.status:
            where.append("e.status = ANY(%(status)s::text[])")
            params["status"] = list(query.status)
        if query.parent is not None:
            where.append("e.parent_id = %(parent)s")
            params["parent"] = query.parent
    if query.q:
        fields = ["e.id", "e.name", *(["e.code"] if kind == "campaigns" else [])]
        where.append("(" + " OR ".join(f"{f} ILIKE %(q)s" for f in fields) + ")")
        params["q"] = _like(query.q)
    direction = "DESC" if query.descending else "ASC"
    if query.after is not None:
        where.append(f"({column}, e.id) {'<' if query.descending else '>'} "
                     f"(%(after)s::{cast}, %(after_id)s)")
        params["after"], params["after_id"] = query.after
    statement = (f"SELECT e.id, {column} FROM {table_of(kind)} e WHERE {' AND '.join(where)} "
                 f"ORDER BY {column} {direction}, e.id {direction} LIMIT %(limit)s")
    return statement, params


def _plain(value: Any) -> Any:
    """A sort value as a cursor can carry it (JSON)."""
    return value.isoformat() if isinstance(value, dt.datetime) else value


async def list_page(conn: psycopg.AsyncConnection[Any], workspace_id: str, kind: str,
                    query: ListQuery) -> Page:
    statement, params = _statement(kind, query)
    cursor = await conn.execute(statement, {**params, "workspace": workspace_id})
    rows = await cursor.fetchall()
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    found = await read_many(conn, workspace_id, kind, [row[0] for row in rows])
    items = [found[row[0]] for row in rows if row[0] in found]
    after = (_plain(rows[-1][1]), rows[-1][0]) if more else None
    return Page(items, after)
