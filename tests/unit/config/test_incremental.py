"""An incremental compile (config.compile.recompile) equals a full compile of the version.

Random graphs (benchmarks.big_graph) take random edits of every kind an editor or the
governor makes; the campaigns the manifest diff says to compile again are compiled, the
rest reused, and the result must make the same decisions as compiling the new graph from
scratch, for every campaign and many visitors, and hold equal entities everywhere else.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.big_graph import generate
from turnout.config import model
from turnout.config.compile import campaigns_affected, compile_graph, compile_version, recompile
from turnout.config.compiled import CompiledCampaign, CompiledGraph
from turnout.config.manifest import CAMPAIGNS, changes_between, manifest_of
from turnout.config.validate import validate
from turnout.splitter import decide
from turnout.splitter.types import Visitor

NOW = 1_760_000_000_000
COUNTRIES = ("US", "DE", "GB", "BR", "JP", "RU", "FR", "IN", "")
DEVICES = ("desktop", "mobile", "tablet", "")
Edit = Callable[[random.Random, model.Graph], model.Graph]


def _replace(graph: model.Graph, section: str, index: int, **changes: object) -> model.Graph:
    items = list(getattr(graph, section))
    items[index] = msgspec.structs.replace(items[index], **changes)
    return msgspec.structs.replace(graph, **{section: tuple(items)})


class NothingToEdit(Exception):
    """The section an edit works on is empty (earlier edits removed all of it)."""


def _pick(rng: random.Random, graph: model.Graph, section: str) -> int:
    items = getattr(graph, section)
    if not items:
        raise NothingToEdit(section)
    return rng.randrange(len(items))


def apply_edit(edit: Edit, rng: random.Random, graph: model.Graph) -> model.Graph:
    """The edited graph, or the graph unchanged when there is nothing left to edit."""
    try:
        return edit(rng, graph)
    except NothingToEdit:
        return graph


def reweigh(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "campaigns")
    campaign = graph.campaigns[i]
    rules = tuple(
        msgspec.structs.replace(rule, destinations=tuple(
            msgspec.structs.replace(d, weight=rng.randrange(0, 100), paused=rng.random() < 0.1)
            for d in rule.destinations))
        for rule in campaign.rules)
    return _replace(graph, "campaigns", i, rules=rules)


def restatus(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "campaigns")
    return _replace(graph, "campaigns", i, status=rng.choice(("active", "paused", "draft")))


def drop_campaign(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "campaigns")
    gone = graph.campaigns[i].id
    kept = tuple(c for j, c in enumerate(graph.campaigns) if j != i)
    kept = tuple(msgspec.structs.replace(c, parent=None) if c.parent == gone else c for c in kept)
    return msgspec.structs.replace(graph, campaigns=kept)


def add_campaign(rng: random.Random, graph: model.Graph) -> model.Graph:
    source = graph.campaigns[_pick(rng, graph, "campaigns")]
    n = rng.randrange(10**9)
    copy = msgspec.structs.replace(source, id=f"new-{n}", code=f"NEW_{n}", parent=None)
    campaigns = list(graph.campaigns)
    campaigns.insert(rng.randrange(len(campaigns) + 1), copy)
    return msgspec.structs.replace(graph, campaigns=tuple(campaigns))


def reprice_offer(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "offers")
    return _replace(graph, "offers", i, payout=f"{rng.randrange(1, 90)}.25",
                    url=f"https://offer.example.com/{rng.randrange(1000)}?c={{clickid}}")


def move_lander(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "landers")
    return _replace(graph, "landers", i, url=f"https://lp{rng.randrange(99)}.example.com/")


def retime_workspace(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "workspaces")
    return _replace(graph, "workspaces", i,
                    timezone=rng.choice(("UTC", "Asia/Tokyo", "America/Denver")),
                    currency=rng.choice(("USD", "EUR", "JPY")))


def retoken_source(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "traffic_sources")
    return _replace(graph, "traffic_sources", i, tokens={"sub1": f"z{rng.randrange(9)}"})


def resecret_network(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "networks")
    return _replace(graph, "networks", i, secret=f"secret-{rng.randrange(10**9)}")


def reorder_funnel(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "funnels")
    funnel = graph.funnels[i]
    return _replace(graph, "funnels", i, landers=tuple(reversed(funnel.landers)))


EDITS: tuple[Edit, ...] = (reweigh, restatus, drop_campaign, add_campaign, reprice_offer,
                           move_lander, retime_workspace, retoken_source, resecret_network,
                           reorder_funnel)


def published(graph: model.Graph, version: int) -> CompiledGraph:
    """What an edge compiles from a version's documents: no models kept."""
    shared = msgspec.structs.replace(graph, campaigns=())
    return compile_version(shared, version, graph.campaigns, [c.id for c in graph.campaigns])


def incremental(before: model.Graph, compiled: CompiledGraph, after: model.Graph,
                version: int) -> tuple[CompiledGraph, set[str]]:
    changes = changes_between(manifest_of(before)[0], manifest_of(after)[0])
    affected = campaigns_affected(compiled, changes)
    chosen = [c for c in after.campaigns if c.id in affected]
    shared = msgspec.structs.replace(after, campaigns=())
    result = recompile(compiled, shared, version, changes, chosen,
                       [c.id for c in after.campaigns])
    return result, affected


def visitors(rng: random.Random, count: int) -> list[Visitor]:
    return [
        Visitor(visitor_id=f"v{rng.randrange(10**12)}", country=rng.choice(COUNTRIES),
                device=rng.choice(DEVICES), language=rng.choice(("en", "de", "pt", "")),
                os=rng.choice(("iOS", "Android", "Windows", "")), asn=rng.choice((0, 7922)),
                query={"utm_content": f"ad-{rng.randrange(50)}"}, is_bot=rng.random() < 0.1)
        for _ in range(count)
    ]


def decisions(campaign: CompiledCampaign, people: list[Visitor], now_ms: int) -> list[object]:
    out: list[object] = []
    for person in people:
        choice = decide(campaign.table, person, now_ms)
        out.append(None if choice is None else (choice.rule_id, choice.destination))
    return out


def without_residuals(campaign: CompiledCampaign) -> CompiledCampaign:
    """Residual predicates are closures (equal only to themselves): decisions compare
    them; everything else compares as data."""
    return dataclasses.replace(campaign, table=dataclasses.replace(campaign.table,
                                                                   residuals=None))


def assert_same(result: CompiledGraph, full: CompiledGraph, rng: random.Random) -> None:
    assert result.campaigns_by_id.keys() == full.campaigns_by_id.keys()
    for name in ("workspaces_by_id", "traffic_sources_by_id", "networks_by_id",
                 "offers_by_id", "landers_by_id", "funnels_by_id", "workspaces_by_domain"):
        assert getattr(result, name) == getattr(full, name), name
    assert {d: {code: c.id for code, c in by_code.items()} for d, by_code in result.codes.items()} \
        == {d: {code: c.id for code, c in by_code.items()} for d, by_code in full.codes.items()}
    for by_code in result.codes.values():  # the index holds the graph's own campaigns
        assert all(c is result.campaigns_by_id[c.id] for c in by_code.values())
    people = visitors(rng, 40)
    for cid, campaign in result.campaigns_by_id.items():
        expected = full.campaigns_by_id[cid]
        assert without_residuals(campaign) == without_residuals(expected), cid
        for now_ms in (NOW, NOW + 5 * 3_600_000):
            assert decisions(campaign, people, now_ms) == decisions(expected, people, now_ms)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.integers(4, 30),
       edits=st.lists(st.sampled_from(EDITS), min_size=1, max_size=4))
def test_incremental_compile_equals_a_full_compile(seed, size, edits):
    rng = random.Random(seed)
    before = generate(size, seed=seed, workspaces=2)
    after = before
    for edit in edits:
        after = apply_edit(edit, rng, after)
    assert validate(after) == []
    compiled = published(before, 1)
    result, _ = incremental(before, compiled, after, 2)
    assert result.version == 2
    assert_same(result, compile_graph(after, 2), rng)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), steps=st.lists(st.sampled_from(EDITS), min_size=2,
                                                  max_size=6))
def test_a_chain_of_incremental_versions_stays_equal(seed, steps):
    """Each version built on the last incremental one, never on a full compile."""
    rng = random.Random(seed)
    graph = generate(12, seed=seed, workspaces=2)
    compiled = published(graph, 1)
    for version, edit in enumerate(steps, start=2):
        changed = apply_edit(edit, rng, graph)
        compiled, _ = incremental(graph, compiled, changed, version)
        graph = changed
    assert_same(compiled, compile_graph(graph, len(steps) + 1), rng)


def test_one_campaign_changed_compiles_one_and_reuses_the_rest():
    graph = generate(40, seed=7, workspaces=2)
    compiled = published(graph, 1)
    changed = reweigh(random.Random(1), graph)
    result, affected = incremental(graph, compiled, changed, 2)
    (touched,) = changes_between(manifest_of(graph)[0], manifest_of(changed)[0]).upserted[
        CAMPAIGNS]
    assert affected == {touched}
    for cid, campaign in result.campaigns_by_id.items():
        assert (campaign is compiled.campaigns_by_id[cid]) == (cid != touched)
    assert result.offers_by_id is not compiled.offers_by_id
    assert all(result.offers_by_id[o] is compiled.offers_by_id[o] for o in result.offers_by_id)


def test_an_offer_change_recompiles_exactly_the_campaigns_leading_to_it():
    graph = generate(40, seed=11, workspaces=2)
    compiled = published(graph, 1)
    offer = graph.offers[0].id
    changed = _replace(graph, "offers", 0, payout="77.5")
    result, affected = incremental(graph, compiled, changed, 2)
    users = {c.id for c in compiled.campaigns_by_id.values()
             if any(t.offer_id == offer or any(n.offer_id == offer for n in t.next_offers)
                    for r in c.table.rules for t in (ch.destination.payload for ch in r.choices))}
    assert users and affected == users
    assert result.offers_by_id[offer].payout_micros == 77_500_000


def test_a_compiled_graph_holds_no_reference_cycles():
    """Edges freeze the heap after a swap instead of collecting (edge.graph): a replaced
    graph must be freed by reference counting alone."""
    import gc

    graph = generate(60, seed=2, workspaces=2)
    gc.collect()
    compiled = published(graph, 1)
    updated, _ = incremental(graph, compiled, reprice_offer(random.Random(3), graph), 2)
    gc.collect()
    del compiled, updated
    assert gc.collect() == 0
