"""Validation scoped to a change (validate(graph, changed)) answers as a full validation.

The scope is the manifest diff against a valid graph; the answer must be the same list of
problems, in the same order, whatever the change did: every one-mistake case of
test_validate, and random chains of edits of random graphs, the ones an editor makes and
ones that break references, codes, secrets, cycles and workspaces.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.big_graph import generate
from tests.unit.config.test_incremental import EDITS, _pick, _replace, apply_edit
from tests.unit.config.test_validate import BASE, CASES, Data
from turnout.config import model
from turnout.config.io import graph_from_builtins
from turnout.config.manifest import changes_between, manifest_of
from turnout.config.validate import affected, validate

Edit = Callable[[random.Random, model.Graph], model.Graph]


def changed_ids(before: model.Graph, after: model.Graph) -> dict[str, set[str]]:
    changes = changes_between(manifest_of(before)[0], manifest_of(after)[0])
    return {section: set(changes.ids(section))
            for section in (*changes.upserted, *changes.removed)}


def assert_scoped_equals_full(before: model.Graph, after: model.Graph) -> None:
    assert validate(before) == []
    assert validate(after, changed_ids(before, after)) == validate(after)


@pytest.mark.parametrize("mutate", [m for _, m, _ in CASES], ids=[n for n, _, _ in CASES])
def test_every_single_mistake_is_found_by_the_scoped_check(mutate: Callable[[Data], object]):
    before = graph_from_builtins(copy.deepcopy(BASE))
    data = copy.deepcopy(BASE)
    mutate(data)
    assert_scoped_equals_full(before, graph_from_builtins(data))


# Edits that may break what other entities rely on.

def drop_offer(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "offers")
    return msgspec.structs.replace(graph, offers=graph.offers[:i] + graph.offers[i + 1:])


def drop_lander(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "landers")
    return msgspec.structs.replace(graph, landers=graph.landers[:i] + graph.landers[i + 1:])


def drop_workspace(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "workspaces")
    kept = graph.workspaces[:i] + graph.workspaces[i + 1:]
    return msgspec.structs.replace(graph, workspaces=kept)


def recount_lander(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "landers")
    return _replace(graph, "landers", i, cta_count=rng.randint(1, 3))


def move_offer(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "offers")
    other = graph.workspaces[_pick(rng, graph, "workspaces")].id
    return _replace(graph, "offers", i, workspace=other)


def move_source(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "traffic_sources")
    return _replace(graph, "traffic_sources", i, workspace="nowhere")


def copy_code(rng: random.Random, graph: model.Graph) -> model.Graph:
    i, j = _pick(rng, graph, "campaigns"), _pick(rng, graph, "campaigns")
    return _replace(graph, "campaigns", i, code=graph.campaigns[j].code)


def copy_secret(rng: random.Random, graph: model.Graph) -> model.Graph:
    i, j = _pick(rng, graph, "networks"), _pick(rng, graph, "networks")
    return _replace(graph, "networks", i, secret=graph.networks[j].secret)


def loop_parent(rng: random.Random, graph: model.Graph) -> model.Graph:
    i, j = _pick(rng, graph, "campaigns"), _pick(rng, graph, "campaigns")
    graph = _replace(graph, "campaigns", i, parent=graph.campaigns[j].id)
    return _replace(graph, "campaigns", j, parent=graph.campaigns[i].id)


def strand_funnel(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "funnels")
    return _replace(graph, "funnels", i, landers=("nope",), workspace="ws00")


def retime_to_nowhere(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "workspaces")
    return _replace(graph, "workspaces", i, timezone="Mars/Base")


def repeat_workspace(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "workspaces")
    copy_ = msgspec.structs.replace(graph.workspaces[i], timezone="Asia/Tokyo")
    return msgspec.structs.replace(graph, workspaces=(copy_, *graph.workspaces))


BREAKING: tuple[Edit, ...] = (drop_offer, drop_lander, drop_workspace, recount_lander,
                              move_offer, move_source, copy_code, copy_secret, loop_parent,
                              strand_funnel, retime_to_nowhere, repeat_workspace)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.integers(4, 40),
       edits=st.lists(st.sampled_from(EDITS + BREAKING), min_size=1, max_size=4))
def test_scoped_validation_equals_a_full_one(seed: int, size: int, edits: list[Edit]):
    rng = random.Random(seed)
    before = generate(size, seed=seed, workspaces=3)
    after = before
    for edit in edits:
        after = apply_edit(edit, rng, after)
    assert_scoped_equals_full(before, after)


def test_a_one_campaign_change_checks_that_campaign_only():
    graph = generate(200, seed=3, workspaces=3)
    campaign = graph.campaigns[17]
    changed = _replace(graph, "campaigns", 17, name="renamed")
    chosen = affected(changed, {"campaigns": {campaign.id}})
    children = {i for i, c in enumerate(graph.campaigns) if c.parent == campaign.id}
    assert chosen["campaigns"] == {17} | children
    assert all(not chosen[s] for s in chosen if s != "campaigns")


def test_an_offer_change_checks_what_refers_to_it():
    graph = generate(100, seed=5, workspaces=2)
    offer = graph.offers[3].id
    chosen = affected(graph, {"offers": {offer}})
    users = {i for i, c in enumerate(graph.campaigns)
             if any(offer in (d.ref, *d.offers)
                    for d in (*c.default, *(d for r in c.rules for d in r.destinations)))}
    assert users and chosen["campaigns"] == users
    assert 3 in chosen["offers"]
