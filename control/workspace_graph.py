"""One workspace's part of the graph: export, import (or only plan it: a dry run), its
state at a published version, and what changed in it between two versions. The API's
/export, /import and /versions routes and the CLI's graph verbs are callers of these.

The graph is one for every workspace, but a key sees and changes its own workspace only:
an import holds exactly that workspace's entities, a rollback brings back that workspace's
entities as a version had them (the others stay as they are), a diff shows that
workspace's changes. Problems are reported at the paths of the imported document; one
that arises only against other workspaces (a tracking code on the shared default domain, a
domain or secret already in use) names them as "another workspace", never by id.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import psycopg

from turnout.config.diff import graph_diff
from turnout.config.errors import Problem
from turnout.config.manifest import SECTION_NAMES, Manifest, decode_entity
from turnout.config.model import Entity, Graph
from turnout.config.validate import validate
from turnout.control import audit, versions
from turnout.control.errors import ControlError
from turnout.control.graph_patch import replaced, workspace_of
from turnout.control.graph_read import read_graph
from turnout.control.graph_rows import tables_of
from turnout.control.graph_write import RowsRefused, import_graph

_INDEXED: Final = re.compile(r"\b(" + "|".join(SECTION_NAMES) + r")\[(\d+)\]((?:\.\w+|\[\d+\])*)")
ANOTHER: Final = "another workspace"


class ImportRefused(ControlError):
    """The graph cannot be imported: every problem is in `problems` (422 in the API)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(map(str, problems[:5])))
        self.problems = problems


class NothingAtVersion(ControlError):
    """The workspace had no entities in that version (404 in the API)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """An import worked out: the graph to store, what is wrong with it, what it changes."""

    workspace_id: str
    graph: Graph
    current: Graph
    problems: list[Problem]
    diff: list[str]


async def export(conn: psycopg.AsyncConnection[Any], workspace_id: str) -> Graph:
    """The workspace's entities as stored (what `GET /api/v1/export` writes out)."""
    return await read_graph(conn, [workspace_id])


def ownership_problems(graph: Graph, workspace_id: str) -> list[Problem]:
    """An import holds the workspace itself and its own entities, nothing else."""
    problems = []
    if not any(w.id == workspace_id for w in graph.workspaces):
        problems.append(Problem("workspaces", f"must hold this key's workspace "
                                              f"{workspace_id!r}"))
    for section in SECTION_NAMES:
        field = "id" if section == "workspaces" else "workspace"
        for i, entity in enumerate(getattr(graph, section)):
            if workspace_of(entity) != workspace_id:
                problems.append(Problem(f"{section}[{i}].{field}",
                                        f"must be this key's workspace {workspace_id!r}"))
    return problems


async def taken_ids(conn: psycopg.AsyncConnection[Any], graph: Graph, workspace_id: str
                    ) -> list[Problem]:
    """Ids of the import that another workspace's entities already have (ids are unique
    per kind across the control plane)."""
    problems = []
    for section in SECTION_NAMES:
        entities = getattr(graph, section)
        if section == "workspaces" or not entities:
            continue
        cursor = await conn.execute(
            f"SELECT id FROM {tables_of(section)[0].name} "
            "WHERE id = ANY(%s::text[]) AND workspace_id <> %s",
            ([e.id for e in entities], workspace_id))
        taken = {row[0] for row in await cursor.fetchall()}
        problems += [Problem(f"{section}[{i}].id", f"{e.id!r} is used by {ANOTHER}")
                     for i, e in enumerate(entities) if e.id in taken]
    return problems


def _relative(text: str, combined: Graph, positions: dict[tuple[str, str], int],
              workspace_id: str) -> str:
    """Paths into the combined graph as paths into the import (another workspace's:
    `another workspace`)."""
    def local(match: re.Match[str]) -> str:
        section, index = match.group(1), int(match.group(2))
        entity = getattr(combined, section)[index]
        if workspace_of(entity) != workspace_id:
            return ANOTHER
        return f"{section}[{positions[section, entity.id]}]{match.group(3)}"

    return _INDEXED.sub(local, text)


def cross_problems(published: Graph, graph: Graph, workspace_id: str) -> list[Problem]:
    """What is wrong with the workspace's part `graph` (valid on its own) next to the
    other workspaces of the `published` graph (a valid one)."""
    combined = replaced(published, workspace_id, graph)
    changed = {section: {e.id for e in getattr(published, section)
                         if workspace_of(e) == workspace_id}
               | {e.id for e in getattr(graph, section)} for section in SECTION_NAMES}
    positions = {(section, e.id): i for section in SECTION_NAMES
                 for i, e in enumerate(getattr(graph, section))}
    found = []
    for problem in validate(combined, changed):
        match = _INDEXED.match(problem.path)
        path = ""
        if match is not None:
            entity = getattr(combined, match.group(1))[int(match.group(2))]
            if workspace_of(entity) == workspace_id:
                path = _relative(problem.path, combined, positions, workspace_id)
        message = _relative(problem.message, combined, positions, workspace_id)
        found.append(Problem(path, message if path else f"conflicts with {ANOTHER}: "
                                                        f"{message}"))
    return found


async def plan(conn: psycopg.AsyncConnection[Any], workspace_id: str, graph: Graph,
               published: Graph) -> Plan:
    """Everything wrong with importing `graph` into the workspace, and the diff from what
    is stored; `published`: the graph edges serve now (the other workspaces)."""
    problems = ownership_problems(graph, workspace_id) or validate(graph)
    if not problems:
        problems = await taken_ids(conn, graph, workspace_id)
    if not problems:
        problems = cross_problems(published, graph, workspace_id)
    current = await read_graph(conn, [workspace_id])
    return Plan(workspace_id, graph, current, problems, graph_diff(current, graph))


def _documents(graph: Graph) -> dict[tuple[str, str], Any]:
    return {(section, e.id): msgspec.to_builtins(e) for section in SECTION_NAMES
            for e in getattr(graph, section)}


async def apply(conn: psycopg.AsyncConnection[Any], chosen: Plan, *, actor: str,
                action: str, request_id: str | None) -> dict[str, list[str]]:
    """Store a plan without problems (in the caller's transaction), one audit row per
    entity it creates, changes or deletes; the changed ids by section."""
    if chosen.problems:
        raise ImportRefused(chosen.problems)
    try:
        changes = await import_graph(conn, chosen.graph, [chosen.workspace_id])
    except RowsRefused as exc:
        raise ImportRefused([Problem("", str(exc))]) from exc
    before, after = _documents(chosen.current), _documents(chosen.graph)
    changed = changes.ids()
    for section, ids in changed.items():
        for entity_id in ids:
            await audit.record(conn, workspace_id=chosen.workspace_id, actor=actor,
                               action=action, entity_kind=section, entity_id=entity_id,
                               before=before.get((section, entity_id)),
                               after=after.get((section, entity_id)), request_id=request_id)
    return changed


def _part(manifest: Manifest, documents: dict[str, bytes],
          sections: Collection[str] = SECTION_NAMES) -> Graph:
    """The graph of the manifest's entities whose documents are given, in its order."""
    out: dict[str, tuple[Entity, ...]] = {}
    for section in sections:
        out[section] = tuple(decode_entity(section, documents[d])
                             for _, d in manifest.entries(section) if d in documents)
    return Graph(**out)


async def at_version(conn: psycopg.AsyncConnection[Any], workspace_id: str, version: int
                     ) -> Graph:
    """The workspace's entities as the version had them (VersionNotFound: not recorded;
    NothingAtVersion: the workspace was not in it)."""
    manifest, _ = await versions.manifest(conn, version)
    documents = await versions.documents(conn, set(manifest.digests()), workspace_id)
    graph = _part(manifest, documents)
    if not any(w.id == workspace_id for w in graph.workspaces):
        raise NothingAtVersion(f"workspace {workspace_id} is not in graph version {version}")
    return graph


async def version_diff(conn: psycopg.AsyncConnection[Any], workspace_id: str, old: int,
                       new: int) -> list[str]:
    """What changed in the workspace from version `old` to version `new`, one line per
    changed path (config/diff.py); only the entities that differ are read."""
    (a, _), (b, _) = await versions.manifest(conn, old), await versions.manifest(conn, new)
    differing: set[str] = set()
    for section in SECTION_NAMES:
        before, after = a.by_id(section), b.by_id(section)
        for entity_id in before.keys() | after.keys():
            if before.get(entity_id) != after.get(entity_id):
                differing.update(d for d in (before.get(entity_id), after.get(entity_id)) if d)
    documents = await versions.documents(conn, differing, workspace_id)
    return graph_diff(_part(a, documents), _part(b, documents))
