"""Published graph versions in PostgreSQL: the durable history Redis only caches.

Each version row names who and why, the ids it changed, and its manifest, whole or as a
delta from the version before (control/version_delta.py; control/migrations/0003); the
entity documents are stored once each by digest. One graph serves every workspace, so
each version also has a row per workspace it changed: that workspace's actors, notes and
ids, all a key of that workspace may see of it.

Publishing is serialised across API processes by one advisory lock held for the
transaction that reads the changed entities, publishes and records the version (`lock`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import psycopg
from psycopg.types.json import Jsonb

from turnout.config.errors import VersionNotFound
from turnout.config.manifest import Manifest
from turnout.config.store import VersionInfo, decode_manifest
from turnout.control import version_delta
from turnout.control.version_delta import Delta

# pg_advisory_xact_lock key of publishing ("turnout:publish" as an int64).
LOCK: Final = 0x7475726E_6F757450
MAX_DEPTH: Final = 100  # deltas in a row before a version's manifest is stored whole
_ENCODER: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Document:
    digest: str
    section: str
    workspace_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class WorkspacePart:
    """What a version did in one workspace."""

    actors: list[str]
    notes: list[str]
    changed: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to record. `base`: the recorded version its manifest is a delta from
    (None: store it whole), with that version's manifest and depth."""

    info: VersionInfo
    manifest: Manifest
    changed: dict[str, list[str]]
    workspaces: dict[str, WorkspacePart]
    base: tuple[int, Manifest, int] | None = None
    documents: Sequence[Document] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: int
    published_at: dt.datetime
    actor: str
    note: str
    changed: dict[str, list[str]]
    base: int | None
    delta: Delta

    def info(self) -> VersionInfo:
        return VersionInfo(version=self.version,
                           published_at_ms=int(self.published_at.timestamp() * 1000),
                           note=self.note, actor=self.actor, base=self.base,
                           changes=self.delta.changes())


@dataclass(frozen=True, slots=True)
class WorkspaceVersion:
    """A version as one workspace sees it."""

    version: int
    published_at: dt.datetime
    actors: list[str]
    notes: list[str]
    changed: dict[str, list[str]]


async def lock(conn: psycopg.AsyncConnection[Any]) -> None:
    """Hold the publish lock until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))


async def latest(conn: psycopg.AsyncConnection[Any]) -> int | None:
    row = await (await conn.execute("SELECT max(version) FROM graph_versions")).fetchone()
    return None if row is None or row[0] is None else int(row[0])


async def changed_since(conn: psycopg.AsyncConnection[Any], version: int
                        ) -> dict[str, set[str]]:
    """Every id the versions after `version` changed, by section."""
    cursor = await conn.execute(
        "SELECT changed FROM graph_versions WHERE version > %s", (version,))
    out: dict[str, set[str]] = {}
    for (changed,) in await cursor.fetchall():
        for section, ids in changed.items():
            out.setdefault(section, set()).update(ids)
    return out


_CHAIN: Final = """
WITH RECURSIVE chain AS (
    SELECT version, base, manifest, delta FROM graph_versions WHERE version = %s
    UNION ALL
    SELECT g.version, g.base, g.manifest, g.delta
    FROM graph_versions g JOIN chain c ON g.version = c.base
    WHERE c.manifest IS NULL
)
SELECT version, manifest::text, delta::text FROM chain ORDER BY version
"""


async def manifest(conn: psycopg.AsyncConnection[Any], version: int) -> tuple[Manifest, int]:
    """The version's manifest, rebuilt from the last whole one before it, and its depth
    (the deltas that took); VersionNotFound when it is not recorded."""
    rows = await (await conn.execute(_CHAIN, (version,))).fetchall()
    if not rows or rows[0][1] is None:
        raise VersionNotFound(version)
    built = decode_manifest(rows[0][1].encode())
    for _, _, delta in rows[1:]:
        built = version_delta.apply(built, version_delta.DECODER.decode(delta))
    return built, len(rows) - 1


async def row(conn: psycopg.AsyncConnection[Any], version: int) -> VersionRow | None:
    found = await (await conn.execute(
        "SELECT version, published_at, actor, note, changed, base, delta::text "
        "FROM graph_versions WHERE version = %s", (version,))).fetchone()
    if found is None:
        return None
    number, at, actor, note, changed, base, delta = found
    return VersionRow(int(number), at, actor, note, changed, base,
                      version_delta.DECODER.decode(delta))


async def record(conn: psycopg.AsyncConnection[Any], new: NewVersion) -> int:
    """Insert the version, its workspace rows and the documents not stored yet; the
    version's depth (0: its manifest is stored whole)."""
    info = new.info
    whole: Manifest | None = new.manifest
    delta = Delta()
    base = depth = None
    if new.base is not None:
        base, base_manifest, base_depth = new.base
        delta = version_delta.between(base_manifest, new.manifest)
        if base_depth + 1 < MAX_DEPTH and version_delta.exact(base_manifest, delta,
                                                               new.manifest):
            whole, depth = None, base_depth + 1
    await add_documents(conn, new.documents)
    await conn.execute(
        "INSERT INTO graph_versions (version, published_at, actor, note, changed, base, "
        "depth, manifest, delta) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)",
        (info.version, dt.datetime.fromtimestamp(info.published_at_ms / 1000, dt.UTC),
         info.actor, info.note, Jsonb(new.changed), base if whole is None else None,
         depth or 0, None if whole is None else _ENCODER.encode(whole).decode(),
         _ENCODER.encode(delta).decode()))
    if new.workspaces:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO graph_version_workspaces (version, workspace_id, actors, notes, "
                "changed) VALUES (%s, %s, %s, %s, %s)",
                [(info.version, workspace, part.actors, part.notes, Jsonb(part.changed))
                 for workspace, part in new.workspaces.items()])
    return depth or 0


async def parts(conn: psycopg.AsyncConnection[Any], version: int
                ) -> dict[str, tuple[list[str], list[str]]]:
    """workspace -> (actors, notes) of a recorded version, by workspace id."""
    cursor = await conn.execute(
        "SELECT workspace_id, actors, notes FROM graph_version_workspaces WHERE version = %s "
        "ORDER BY workspace_id", (version,))
    return {workspace: (list(actors), list(notes))
            for workspace, actors, notes in await cursor.fetchall()}


async def amend(conn: psycopg.AsyncConnection[Any], version: int, actor: str, note: str,
                named: Mapping[str, tuple[list[str], list[str]]]) -> None:
    """Rewrite who and why of a recorded version: its actor and note, and the (actors,
    notes) of the workspaces in `named` (one it had no row for gets a row that changed
    nothing). What it changed stays as recorded."""
    await conn.execute("UPDATE graph_versions SET actor = %s, note = %s WHERE version = %s",
                       (actor, note, version))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO graph_version_workspaces (version, workspace_id, actors, notes) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (workspace_id, version) DO UPDATE "
            "SET actors = EXCLUDED.actors, notes = EXCLUDED.notes",
            [(version, workspace, actors, notes)
             for workspace, (actors, notes) in named.items()])


async def add_documents(conn: psycopg.AsyncConnection[Any], documents: Sequence[Document]
                        ) -> None:
    if not documents:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO graph_documents (digest, section, workspace_id, document) "
            "VALUES (%s, %s, %s, %s::json) ON CONFLICT (digest) DO NOTHING",
            [(d.digest, d.section, d.workspace_id, d.body.decode()) for d in documents])


async def absent_documents(conn: psycopg.AsyncConnection[Any], digests: Collection[str]
                           ) -> set[str]:
    """The digests with no stored document."""
    cursor = await conn.execute(
        "SELECT d FROM unnest(%s::text[]) d WHERE NOT EXISTS "
        "(SELECT 1 FROM graph_documents g WHERE g.digest = d)", (list(digests),))
    return {r[0] for r in await cursor.fetchall()}


async def documents(conn: psycopg.AsyncConnection[Any], digests: Collection[str],
                    workspace_id: str | None = None) -> dict[str, bytes]:
    """Documents by digest (of one workspace's entities only, when named)."""
    query = ("SELECT digest, document::text FROM graph_documents "
             "WHERE digest = ANY(%(digests)s::text[])")
    params: dict[str, Any] = {"digests": list(digests)}
    if workspace_id is not None:
        query += " AND workspace_id = %(workspace)s"
        params["workspace"] = workspace_id
    cursor = await conn.execute(query, params)
    return {digest: text.encode() for digest, text in await cursor.fetchall()}


async def listing(conn: psycopg.AsyncConnection[Any], workspace_id: str, *,
                  before: int | None = None, limit: int = 100) -> list[WorkspaceVersion]:
    """The versions that changed the workspace, newest first, `limit` of them below
    `before` (the cursor)."""
    cursor = await conn.execute(
        "SELECT w.version, g.published_at, w.actors, w.notes, w.changed "
        "FROM graph_version_workspaces w JOIN graph_versions g USING (version) "
        "WHERE w.workspace_id = %s AND (%s::bigint IS NULL OR w.version < %s) "
        "ORDER BY w.version DESC LIMIT %s", (workspace_id, before, before, limit))
    return [WorkspaceVersion(int(v), at, list(actors), list(notes), changed)
            for v, at, actors, notes, changed in await cursor.fetchall()]


def documents_of(manifest: Manifest, bodies: Mapping[str, bytes],
                 workspaces: Mapping[str, str]) -> list[Document]:
    """Documents to store for the digests in `bodies`: their section from the manifest,
    their workspace from `workspaces` (digest -> workspace id)."""
    section_of = {d: s for s, entries in manifest.sections.items() for _, d in entries}
    return [Document(d, section_of[d], workspaces[d], body) for d, body in bodies.items()
            if d in section_of]
