"""Entities of one workspace as the admin API shows them: documents (every field of the
config.model entity, in its JSON shape) with their revision.

The JSON is built by graph_read's per-section SQL, so a document and `read_graph` can
never disagree; archived campaigns are not found.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import orjson
import psycopg

from turnout.config import model
from turnout.config.model import Entity
from turnout.control.entity_errors import EntityNotFound
from turnout.control.graph_read import SECTION_SQL
from turnout.control.graph_rows import tables_of

Document = dict[str, Any]
TYPES: Final[dict[str, type[Entity]]] = dict(model.SECTIONS)
_TUPLES: Final = {kind: msgspec.json.Decoder(tuple[cls, ...]) for kind, cls in TYPES.items()}


@dataclass(frozen=True, slots=True)
class Stored:
    """One entity as stored: the model struct, its document and its revision."""

    kind: str
    entity: Any  # the config.model struct of `kind`
    document: Document
    revision: int

    @property
    def id(self) -> str:
        return str(self.entity.id)

    def shown(self) -> Document:
        """The document with its revision: what a GET answers."""
        return {**self.document, "revision": self.revision}


def table_of(kind: str) -> str:
    return tables_of(kind)[0].name


def _section(kind: str) -> str:
    """The `kind` entities of a workspace among some ids, and their revisions."""
    column = "e.id" if kind == "workspaces" else "e.workspace_id"
    ids = f"%(ids_{kind})s::text[]"
    where = f"e.id = ANY({ids}) AND {column} = %(workspace)s"
    revisions = f"SELECT json_object_agg(id, revision) FROM {table_of(kind)} WHERE id = ANY({ids})"
    return f"({SECTION_SQL[kind].format(where=where)})::text, ({revisions})::text"


_SECTIONS: Final = {kind: _section(kind) for kind in TYPES}


async def read_sets(conn: psycopg.AsyncConnection[Any], workspace_id: str,
                    wanted: Mapping[str, Collection[str]]) -> dict[str, dict[str, Stored]]:
    """The workspace's entities among `wanted` ({section: ids}), by section and id (ids not
    found are left out), in one round trip."""
    kinds = [kind for kind, ids in wanted.items() if ids]
    if not kinds:
        return {}
    params: dict[str, Any] = {"workspace": workspace_id}
    params.update({f"ids_{kind}": list(wanted[kind]) for kind in kinds})
    statement = "SELECT " + ", ".join(_SECTIONS[kind] for kind in kinds)
    row = await (await conn.execute(statement, params)).fetchone()
    assert row is not None
    out = {}
    for i, kind in enumerate(kinds):
        text, revisions = row[2 * i], row[2 * i + 1]
        entities = _TUPLES[kind].decode(text)
        found = orjson.loads(revisions) if revisions else {}
        out[kind] = {e.id: Stored(kind, e, doc, int(found[e.id]))
                     for e, doc in zip(entities, orjson.loads(text), strict=True)}
    return out


async def read_many(conn: psycopg.AsyncConnection[Any], workspace_id: str, kind: str,
                    ids: Collection[str]) -> dict[str, Stored]:
    """The `kind` entities of the workspace among `ids`, by id (missing ones left out)."""
    return (await read_sets(conn, workspace_id, {kind: ids})).get(kind, {})


async def read_one(conn: psycopg.AsyncConnection[Any], workspace_id: str, kind: str,
                   entity_id: str) -> Stored:
    """The entity, or EntityNotFound (also for another workspace's or an archived one)."""
    found = (await read_many(conn, workspace_id, kind, (entity_id,))).get(entity_id)
    if found is None:
        raise EntityNotFound(kind, entity_id)
    return found


async def read_workspace(conn: psycopg.AsyncConnection[Any], workspace_id: str
                         ) -> model.Workspace:
    return (await read_one(conn, workspace_id, "workspaces", workspace_id)).entity


def document_of(entity: Entity) -> Document:
    """An entity's document as a GET shows it (every field, defaults included, as the SQL
    builds them; msgspec's own encoding would leave the defaults out)."""
    document = _full(entity)
    assert isinstance(document, dict)
    return document


def _full(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return {name: _full(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [_full(v) for v in value]
    if isinstance(value, dict):
        return {k: _full(v) for k, v in value.items()}
    return value
