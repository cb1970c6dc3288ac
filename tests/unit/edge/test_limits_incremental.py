"""A version's limits built on the installed version's (edge.limits.GraphLimits with
`previous`) equal those built from scratch, and keep what did not change.

Random graphs take random edits (those of the incremental-compile property, plus budget,
cost and click-cap changes); the new version is compiled incrementally, as an edge does,
and its limits, built on the old ones, must describe the same meters as limits built on
nothing: the same campaigns and offers limited, by the same kinds, limits, units and time
zones. Unchanged campaigns must keep their very limits (and so their leases).
"""

from __future__ import annotations

import asyncio
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.big_graph import generate
from tests.memory_ledger import MemoryLedger
from tests.unit.config.test_incremental import (
    EDITS,
    Edit,
    _pick,
    _replace,
    apply_edit,
    incremental,
    published,
)
from turnout.config import model
from turnout.config.validate import validate
from turnout.edge.days import Days
from turnout.edge.leases import Leases, LeaseSettings
from turnout.edge.limits import GraphLimits, Meter

PREFIX = "p"
T0 = 1_796_205_600_000
SETTINGS = LeaseSettings(min_block=2, max_block=8, idle_ms=1_000, settle_ms=100, recheck_ms=50)


def rebudget(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "campaigns")
    budget = rng.choice((None, "75.00", model.Budget(amount="20", period="daily")))
    return _replace(graph, "campaigns", i, budget=budget,
                    cost_model=model.CostModel(type=rng.choice(("cpc", "cpm", "cpa")),
                                               value="0.05"))


def recap_campaign(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "campaigns")
    return _replace(graph, "campaigns", i, daily_click_cap=rng.choice((None, 10, 500)))


def recap_offer(rng: random.Random, graph: model.Graph) -> model.Graph:
    i = _pick(rng, graph, "offers")
    return _replace(graph, "offers", i, daily_click_cap=rng.choice((None, 5, 300)))


LIMIT_EDITS: tuple[Edit, ...] = (*EDITS, rebudget, recap_campaign, recap_offer)


def _meter(meter: Meter | None) -> tuple[object, ...] | None:
    if meter is None:
        return None
    return (meter.prefix, meter.kind, meter.owner, meter.limit, meter.unit, meter.timezone)


def held(leases: Leases) -> set[tuple[str, int]]:
    return {(lease.key, lease.limit) for lease in leases.leases() if not lease.retired}


def described(limits: GraphLimits) -> tuple[object, ...]:
    return (
        {i: _meter(m) for i, m in limits.offers.items()},
        {i: (_meter(c.budget), _meter(c.clicks), c.offers) for i, c in limits.campaigns.items()},
        limits.live(),
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), steps=st.lists(st.sampled_from(LIMIT_EDITS), min_size=1,
                                                  max_size=5))
def test_limits_built_on_the_installed_ones_equal_limits_built_from_scratch(seed, steps):
    """Also their leases: an edge prefetching each version's limits built on the last
    holds the leases of an edge that builds every version's limits from scratch (and
    prefetches them all, giving back the leases of meters gone)."""
    async def run() -> None:
        rng = random.Random(seed)
        graph = generate(12, seed=seed, workspaces=2)
        compiled = published(graph, 1)
        limits = GraphLimits(compiled, PREFIX)
        days = Days()
        ours, reference = (Leases(MemoryLedger(), SETTINGS, clock=lambda: T0) for _ in "ab")
        limits.prefetch(ours, days, T0)
        GraphLimits(compiled, PREFIX).prefetch(reference, days, T0)
        for version, edit in enumerate(steps, start=2):
            changed = apply_edit(edit, rng, graph)
            assert validate(changed) == []
            compiled, affected = incremental(graph, compiled, changed, version)
            previous = limits
            limits = GraphLimits(compiled, PREFIX, previous)
            scratch = GraphLimits(compiled, PREFIX)
            assert described(limits) == described(scratch)
            limits.prefetch(ours, days, T0)
            scratch.prefetch(reference, days, T0)
            assert held(ours) == held(reference)
            if previous.offers.keys() == limits.offers.keys():
                for cid, kept in limits.campaigns.items():
                    if cid not in affected and cid in previous.campaigns:
                        assert kept is previous.campaigns[cid], cid
            graph = changed
        await ours.close()
        await reference.close()
    asyncio.run(run())


def test_one_campaign_rebudgeted_makes_only_its_limits_again():
    async def run() -> None:
        graph = generate(30, seed=3, workspaces=2)
        compiled = published(graph, 1)
        before = GraphLimits(compiled, PREFIX)
        leases = Leases(MemoryLedger(), SETTINGS, clock=lambda: T0)
        before.prefetch(leases, Days(), T0)
        index = next(i for i, c in enumerate(graph.campaigns) if c.id in before.campaigns)
        target = graph.campaigns[index].id
        changed = _replace(graph, "campaigns", index, budget="9.00", daily_click_cap=40,
                           cost_model=model.CostModel(type="cpc", value="0.10"))
        after = GraphLimits(incremental(graph, compiled, changed, 2)[0], PREFIX, before)
        assert after.campaigns[target] is not before.campaigns[target]
        budget, clicks = after.campaigns[target].budget, after.campaigns[target].clicks
        assert budget is not None and (budget.limit, budget.unit) == (9_000_000, 100_000)
        assert clicks is not None and clicks.limit == 40
        assert all(after.campaigns[c] is before.campaigns[c] for c in before.campaigns
                   if c != target)
        assert all(after.offers[o] is before.offers[o] for o in before.offers)
        after.prefetch(leases, Days(), T0)  # both new meters leased at once
        assert {(budget.kind, budget.limit), (clicks.kind, clicks.limit)} <= {
            (lease.kind, lease.limit) for lease in leases.leases() if lease.owner == target}
        await leases.close()
    asyncio.run(run())
