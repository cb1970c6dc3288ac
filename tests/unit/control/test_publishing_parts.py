"""The publisher's pure parts: a patched graph equals the graph as stored, a delta rebuilds
its manifest, a batch names what it gathered."""

from __future__ import annotations

import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.big_graph import generate
from turnout.config.manifest import manifest_of
from turnout.config.model import Graph
from turnout.control import version_delta
from turnout.control.graph_patch import differing, only, patched, replaced, workspace_of
from turnout.control.pending import MAX_NOTES, Batch, Change, Pending

SECTIONS = ("workspaces", "traffic_sources", "networks", "offers", "landers", "funnels",
            "campaigns")


def stored_after(rng: random.Random, graph: Graph) -> Graph:
    """What a read of the tables gives after random writes: entities changed in place,
    some deleted, new ones last (ids are insertion-ordered)."""
    sections = {}
    for section in SECTIONS:
        items = list(getattr(graph, section))
        kept = []
        for item in items:
            roll = rng.random()
            if roll < 0.1 and section == "campaigns":
                continue  # deleted
            if roll < 0.3 and hasattr(item, "name"):
                item = msgspec.structs.replace(item, name=f"{item.name} {rng.randrange(99)}")
            kept.append(item)
        if section == "campaigns" and items:
            for n in range(rng.randrange(3)):
                source = rng.choice(items)
                kept.append(msgspec.structs.replace(source, id=f"new-{n}-{source.id}",
                                                    code=f"NEW{n}{source.code}"))
        sections[section] = tuple(kept)
    return Graph(**sections)


def fresh_of(new: Graph, ids: dict[str, set[str]]) -> Graph:
    """What read_sections answers for `ids`: the stored entities of those ids, in order."""
    return Graph(**{s: tuple(e for e in getattr(new, s) if e.id in ids.get(s, ()))
                    for s in SECTIONS})


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.integers(1, 30))
def test_a_patched_graph_equals_a_full_read(seed: int, size: int) -> None:
    rng = random.Random(seed)
    old = generate(size, seed=seed, workspaces=2)
    new = stored_after(rng, old)
    ids = differing(old, new)
    # Extra ids that did not change (a change another process made and undid) are harmless.
    ids.setdefault("offers", set()).add(old.offers[0].id)
    assert patched(old, ids, fresh_of(new, ids)) == new
    assert patched(old, {}, Graph()) is old


def test_differing_names_every_added_removed_and_changed_id() -> None:
    old = generate(5, seed=2, workspaces=1)
    renamed = msgspec.structs.replace(old.campaigns[0], name="x")
    new = msgspec.structs.replace(old, campaigns=(renamed, *old.campaigns[2:]),
                                  offers=old.offers[1:])
    assert differing(old, new) == {"campaigns": {old.campaigns[0].id, old.campaigns[1].id},
                                   "offers": {old.offers[0].id}}
    assert differing(old, old) == {}


def test_one_workspace_replaced_leaves_the_others() -> None:
    graph = generate(20, seed=4, workspaces=3)
    workspace = graph.workspaces[1].id
    part = only(graph, workspace)
    assert {workspace_of(e) for s in SECTIONS for e in getattr(part, s)} == {workspace}
    emptied = replaced(graph, workspace, Graph(workspaces=part.workspaces))
    assert only(emptied, workspace) == Graph(workspaces=part.workspaces)
    for other in graph.workspaces:
        if other.id != workspace:
            assert only(emptied, other.id) == only(graph, other.id)
    assert replaced(graph, workspace, part) == graph


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.integers(1, 25))
def test_a_delta_rebuilds_the_manifest_it_came_from(seed: int, size: int) -> None:
    rng = random.Random(seed)
    old = generate(size, seed=seed, workspaces=2)
    new = stored_after(rng, old)
    base, manifest = manifest_of(old)[0], manifest_of(new)[0]
    delta = version_delta.between(base, manifest)
    assert version_delta.exact(base, delta, manifest)
    assert version_delta.apply(base, delta) == manifest
    assert version_delta.DECODER.decode(msgspec.json.encode(delta)) == delta
    changed = {s: set(i) for s, i in delta.ids().items()}
    assert changed == differing(old, new)


def test_a_reordered_graph_is_not_rebuilt_by_its_delta() -> None:
    graph = generate(6, seed=1, workspaces=1)
    shuffled = msgspec.structs.replace(graph, campaigns=tuple(reversed(graph.campaigns)))
    base, manifest = manifest_of(graph)[0], manifest_of(shuffled)[0]
    delta = version_delta.between(base, manifest)
    assert delta == version_delta.Delta()  # nothing changed but the order...
    assert not version_delta.exact(base, delta, manifest)  # ...so it is stored whole


def test_a_batch_names_its_actors_notes_and_ids() -> None:
    pending = Pending()
    assert not pending and pending.since is None
    pending.add(Change("a", "k1", "pause x", {"campaigns": ("x",)}), now=10.0)
    pending.add(Change("b", "k2", "edit o", {"offers": ("o",)}), now=10.1)
    pending.add(Change("a", "k1", "pause x", {"campaigns": ("y",)}), now=10.2)
    assert pending.since == 10.0
    batch = pending.take()
    assert not pending and pending.since is None
    assert batch.ids() == {"campaigns": {"x", "y"}, "offers": {"o"}}
    assert (batch.actor(), batch.note()) == ("k1,k2", "pause x; edit o")
    assert batch.actors("b") == ["k2"] and batch.notes("a") == ["pause x"]
    assert batch.workspaces() == ["a", "b"]
    pending.add(Change("c", "k3", "later", {"landers": ("l",)}), now=11.0)
    pending.put_back(batch, now=10.5)
    assert pending.since == 10.5 and pending.take().changes[:3] == batch.changes


def test_a_long_batch_names_the_first_notes_and_counts_the_rest() -> None:
    batch = Batch(tuple(Change("a", "k", f"n{i}", {"campaigns": (str(i),)})
                        for i in range(MAX_NOTES + 5)))
    assert batch.note().endswith("; and 5 more")
    assert batch.note().count(";") == MAX_NOTES
