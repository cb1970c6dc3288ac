"""A graph brought up to date entity by entity: what lets the publisher re-read only the
entities a change touched instead of all 10,000 campaigns (read_graph takes seconds).

`patched(graph, ids, fresh)` equals the graph as stored when `graph` was and only the
entities of `ids` changed since, and `fresh` holds those as stored now: changed ones keep
their place, removed ones go, new ones come last in `fresh`'s order (the order they were
stored in). `differing` finds the ids two graphs disagree on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import msgspec

from turnout.config.manifest import SECTION_NAMES
from turnout.config.model import Entity, Graph


def workspace_of(entity: Entity) -> str:
    """The workspace an entity belongs to (a workspace: itself)."""
    return str(getattr(entity, "workspace", None) or entity.id)  # type: ignore[attr-defined]


def patched(graph: Graph, ids: Mapping[str, Collection[str]], fresh: Graph) -> Graph:
    changes: dict[str, tuple[Entity, ...]] = {}
    for section in SECTION_NAMES:
        wanted = ids.get(section)
        if not wanted:
            continue
        now = {e.id: e for e in getattr(fresh, section)}  # type: ignore[attr-defined]
        wanted = frozenset(wanted)
        kept: list[Entity] = []
        for entity in getattr(graph, section):
            if entity.id not in wanted:  # type: ignore[attr-defined]
                kept.append(entity)
            elif entity.id in now:  # type: ignore[attr-defined]
                kept.append(now.pop(entity.id))  # type: ignore[attr-defined]
        kept.extend(e for i, e in now.items() if i in wanted)
        changes[section] = tuple(kept)
    return msgspec.structs.replace(graph, **changes) if changes else graph


def differing(old: Graph, new: Graph) -> dict[str, set[str]]:
    """The ids, by section, of entities added, removed or changed from `old` to `new`."""
    out: dict[str, set[str]] = {}
    for section in SECTION_NAMES:
        before = {e.id: e for e in getattr(old, section)}  # type: ignore[attr-defined]
        after = {e.id: e for e in getattr(new, section)}  # type: ignore[attr-defined]
        found = {i for i in before.keys() | after.keys() if before.get(i) != after.get(i)}
        if found:
            out[section] = found
    return out


def only(graph: Graph, workspace_id: str) -> Graph:
    """The entities of one workspace."""
    return Graph(**{section: tuple(e for e in getattr(graph, section)
                                   if workspace_of(e) == workspace_id)
                    for section in SECTION_NAMES})


def replaced(graph: Graph, workspace_id: str, part: Graph) -> Graph:
    """`graph` with the workspace's entities replaced by `part`'s (kept in place where an
    id stays, new ones last)."""
    ids = {section: {e.id for e in getattr(graph, section) if workspace_of(e) == workspace_id}
           | {e.id for e in getattr(part, section)}  # type: ignore[attr-defined]
           for section in SECTION_NAMES}
    return patched(graph, ids, part)
