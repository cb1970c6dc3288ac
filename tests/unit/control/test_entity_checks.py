"""Scoped validation of one entity equals full graph validation at that entity.

The admin API validates a write against the workspace, the entity and what it names
(control/entity_checks.py), not the whole graph. Here a random entity of a graph is
changed at random — references to existing, missing and other workspaces' ids, bad
weights, kinds, CTA offers, schedules — and the problems the scoped check finds must be
exactly those config.validate finds on the whole changed graph at that entity's path.
Uniqueness of codes and credentials and parent/fallback cycles are answered by SQL (the
integration tests check those), so they are left out of the comparison.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.big_graph import generate
from turnout.config.errors import Problem
from turnout.config.examples import GRAPH
from turnout.config.io import load_graph
from turnout.config.model import Campaign, Destination, Entity, Funnel, Graph, Offer, Schedule
from turnout.config.validate import validate
from turnout.control.entity_checks import references, relative, scoped_problems

GRAPHS = (load_graph(GRAPH), generate(24))
KINDS = ("traffic_sources", "networks", "offers", "landers", "funnels", "campaigns")
SQL_CHECKED = ("duplicate tracking code", "cycle:", "already used by", "duplicate id")


def _ids(graph: Graph, kind: str) -> list[str]:
    return [e.id for e in getattr(graph, kind)] + ["missing-id"]


@st.composite
def _destination(draw: Any, graph: Graph, d: Destination) -> Destination:
    kind = draw(st.sampled_from(("offer", "lander", "funnel", "url", "bogus", d.kind)))
    pool = {"offer": "offers", "lander": "landers", "funnel": "funnels"}.get(kind)
    ref = draw(st.sampled_from(_ids(graph, pool))) if pool else draw(st.sampled_from(
        (None, "x")))
    offers = draw(st.lists(st.sampled_from(_ids(graph, "offers")), max_size=3)) \
        if kind == "lander" else draw(st.sampled_from(((), d.offers)))
    return msgspec.structs.replace(
        d, kind=kind, ref=ref, offers=tuple(offers),
        weight=draw(st.sampled_from((d.weight, 0, -1))),
        url=draw(st.sampled_from((None, "https://x.example/{clickid}", "{nope}"))),
        paused=draw(st.booleans()))


@st.composite
def _changed(draw: Any, graph: Graph, entity: Entity) -> Entity:
    if isinstance(entity, Campaign):
        changes: dict[str, Any] = {
            "parent": draw(st.sampled_from([None, entity.id, *_ids(graph, "campaigns")])),
            "traffic_source": draw(st.sampled_from(_ids(graph, "traffic_sources"))),
            "status": draw(st.sampled_from((entity.status, "bogus"))),
            "schedule": draw(st.sampled_from((entity.schedule, Schedule(
                start="2025-02-01T00:00:00", end="2025-01-01T00:00:00")))),
        }
        rules = list(entity.rules)
        if rules and draw(st.booleans()):
            i = draw(st.integers(0, len(rules) - 1))
            dests = list(rules[i].destinations)
            if dests:
                j = draw(st.integers(0, len(dests) - 1))
                dests[j] = draw(_destination(graph, dests[j]))
            rules[i] = msgspec.structs.replace(rules[i], destinations=tuple(dests))
        default = list(entity.default)
        if default and draw(st.booleans()):
            j = draw(st.integers(0, len(default) - 1))
            default[j] = draw(_destination(graph, default[j]))
        return msgspec.structs.replace(entity, rules=tuple(rules), default=tuple(default),
                                       **changes)
    if isinstance(entity, Offer):
        return msgspec.structs.replace(
            entity, network=draw(st.sampled_from(_ids(graph, "networks"))),
            fallback_offer=draw(st.sampled_from([None, entity.id, *_ids(graph, "offers")])),
            daily_cap=draw(st.sampled_from((None, 0, 10))),
            payout=draw(st.sampled_from(("1.5", "-1", "abc"))))
    if isinstance(entity, Funnel):
        return msgspec.structs.replace(
            entity, landers=tuple(draw(st.lists(st.sampled_from(_ids(graph, "landers")),
                                                max_size=3))),
            offers=tuple(draw(st.lists(st.sampled_from(_ids(graph, "offers")), max_size=3))))
    return msgspec.structs.replace(entity, name=draw(st.sampled_from((entity.name, " "))))


_FOREIGN = re.compile(r"^(?P<what>[a-z ]+) (?P<id>'[^']*') belongs to workspace .*$")


def _as_scoped(full: list[Problem]) -> list[Problem]:
    """Another workspace's id is unknown to the scoped check (it reads its own workspace
    only, so as not to reveal others' entities); full validation says whose it is and
    goes on checking it (a foreign lander's CTA count): that is left out."""
    out, foreign = [], set()
    for problem in full:
        match = _FOREIGN.match(problem.message)
        if match is None:
            out.append(problem)
        else:
            foreign.add(match["id"])
            out.append(Problem(problem.path, f"unknown {match['what']} {match['id']}"))
    return [p for p in out if p.message.startswith("unknown ")
            or not any(i in p.message for i in foreign)]


def _kept(problems: list[Problem]) -> list[Problem]:
    return sorted(p for p in problems if not any(s in p.message for s in SQL_CHECKED))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_scoped_problems_are_full_validation_at_the_entity(data: Any) -> None:
    graph = GRAPHS[data.draw(st.integers(0, len(GRAPHS) - 1), label="graph")]
    kind = data.draw(st.sampled_from(KINDS))
    index = data.draw(st.integers(0, len(getattr(graph, kind)) - 1))
    entity = data.draw(_changed(graph, getattr(graph, kind)[index]))
    section = list(getattr(graph, kind))
    section[index] = entity
    changed = msgspec.structs.replace(graph, **{kind: tuple(section)})
    (workspace,) = [w for w in graph.workspaces if w.id == entity.workspace]
    # What entity_checks.problems reads: the named entities of the entity's workspace.
    context = {k: [e for e in getattr(changed, k) if e.id in ids
                   and e.workspace == workspace.id]
               for k, ids in references(entity).items()}
    scoped = scoped_problems(workspace, entity, context)
    full = relative(validate(changed), f"{kind}[{index}]")
    assert _kept(scoped) == _kept(_as_scoped(full))


def test_the_unchanged_example_is_clean_entity_by_entity() -> None:
    graph = GRAPHS[0]
    for kind in KINDS:
        for entity in getattr(graph, kind):
            context = {k: [e for e in getattr(graph, k) if e.id in ids]
                       for k, ids in references(entity).items()}
            assert scoped_problems(graph.workspaces[0], entity, context) == [], entity.id


def test_references_name_every_id_an_entity_uses() -> None:
    campaign = GRAPHS[0].campaigns[0]
    refs = references(campaign)
    assert refs["traffic_sources"] == {campaign.traffic_source}
    used = {d.ref for rule in campaign.rules for d in rule.destinations if d.kind == "offer"}
    assert used <= refs["offers"]
    offer = msgspec.structs.replace(GRAPHS[0].offers[0], fallback_offer=GRAPHS[0].offers[0].id)
    assert offer.id not in references(offer).get("offers", set())
