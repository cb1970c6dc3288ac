"""Parent and fallback chains: which entities lie on a cycle, found in linear time.

Walking every entity's chain until it repeats costs the chain's length squared per
entity; a 10,000-campaign graph of nested parents made that minutes. Each id is visited
once here instead, and the answer is the same: the entities whose chain comes back to
themselves, with that chain.
"""

from __future__ import annotations

from collections.abc import Sequence


def cycles(ids: Sequence[str], parents: Sequence[str | None]) -> dict[int, list[str]]:
    """Index -> [id, parent, grandparent, ..., id] for each entity whose chain returns to it.

    An id given twice is taken to be its last entity when a chain passes through it (as a
    dict by id would have it); the earlier ones still start from their own parent.
    """
    last = {entity_id: i for i, entity_id in enumerate(ids)}
    on_cycle: dict[str, tuple[list[str], int]] = {}  # id -> (its cycle, its place in it)
    done: set[str] = set()
    for start in last:
        if start in done:
            continue
        path: list[str] = []
        place: dict[str, int] = {}
        current: str | None = start
        while current is not None and current in last and current not in done:
            if current in place:  # the walk closed a loop: path[place:] is a cycle
                cycle = path[place[current]:]
                for k, entity_id in enumerate(cycle):
                    on_cycle[entity_id] = (cycle, k)
                break
            place[current] = len(path)
            path.append(current)
            current = parents[last[current]]
        done.update(path)
    found: dict[int, list[str]] = {}
    for i, entity_id in enumerate(ids):
        if last[entity_id] != i:
            chain = _walk(entity_id, parents[i], last, parents)
            if chain is not None:
                found[i] = chain
        elif entity_id in on_cycle:
            cycle, k = on_cycle[entity_id]
            found[i] = [*cycle[k:], *cycle[:k], entity_id]
    return found


def _walk(entity_id: str, parent: str | None, last: dict[str, int],
          parents: Sequence[str | None]) -> list[str] | None:
    """The chain of one entity that is not the one its id names, when it returns to it."""
    chain, seen = [entity_id], {entity_id}
    current = parent
    while current is not None and current in last and current not in seen:
        chain.append(current)
        seen.add(current)
        current = parents[last[current]]
    return [*chain, entity_id] if current == entity_id else None
