"""The lease client's accounting (edge.leases) over the meters' arithmetic in memory, the
day turn with an injected clock, and the overlay's until_ms (edge.overlay.in_force)."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.memory_ledger import MemoryLedger
from tests.unit.edge.conftest import EXAMPLE
from turnout.config.compile import compile_graph
from turnout.config.io import load_graph
from turnout.config.overlay import Overlay, Verdict
from turnout.edge.days import Days
from turnout.edge.leases import Leases, LeaseSettings
from turnout.edge.limits import BUDGET_EXHAUSTED, GraphLimits, Meter
from turnout.edge.overlay import in_force

DAY_MS = 86_400_000
# 2026-12-02 10:00 UTC; Berlin's day ends at 23:00 UTC.
T0 = 1_796_205_600_000
SMALL = LeaseSettings(min_block=2, max_block=8, idle_ms=1_000, settle_ms=100, recheck_ms=50)

steps = st.lists(st.one_of(
    st.tuples(st.just("click"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("pass"), st.integers(0, 2_000)),
    st.tuples(st.just("down"), st.booleans()),
    st.tuples(st.just("day"), st.just(0)),
), max_size=80)


@settings(max_examples=150, deadline=None)
@given(steps, st.integers(1, 40))
def test_spent_never_exceeds_granted_nor_granted_the_limit(script, limit):
    asyncio.run(_run(script, limit))


async def _run(script, limit):
    ledger = MemoryLedger()
    now = [T0]
    leases = Leases(ledger, SMALL, clock=lambda: now[0])
    days = Days()
    served = 0
    for step in script:
        kind = step[0]
        if kind == "click":
            tz = ("UTC", "Europe/Berlin", "Asia/Tokyo")[step[1]]
            key = f"p:meter:campaign_clicks:c{step[1]}:{days.day(tz, now[0])}"
            lease = leases.lease(key, "campaign_clicks", f"c{step[1]}", limit, 1, now[0],
                                 days.next_midnight_ms(tz, now[0]))
            served += leases.spend(lease, step[2], now[0]) * step[2]
        elif kind == "pass":
            now[0] += step[1]
            await leases.step(now[0])
        elif kind == "down":
            ledger.down = step[1]
        else:
            now[0] += DAY_MS
        for lease in leases.leases():
            assert lease.taken - lease.returned - lease.spent == lease.balance >= 0
        for key, meter in ledger.meters.items():
            assert meter.granted <= limit, key
    ledger.down = False
    await leases.close()
    assert leases.leases() == []
    assert sum(m.spent for m in ledger.meters.values()) == served
    # returned + spent == taken, but for units handed back while the ledger was down (the
    # undershoot of an edge cut off from Redis)
    assert sum(m.granted - m.spent for m in ledger.meters.values()) == leases.lost
    for meter in ledger.meters.values():
        assert meter.spent <= meter.granted <= limit


def test_a_day_turn_opens_the_next_days_meter():
    async def run():
        ledger, now = MemoryLedger(), [T0]
        leases = Leases(ledger, SMALL, clock=lambda: now[0])
        graph = compile_graph(load_graph(EXAMPLE), 1)
        offer = next(iter(graph.offers_by_id.values()))
        limits = GraphLimits(graph, "p")
        meter = Meter("p", "offer_clicks", offer.id, 3, 1, "Europe/Berlin")
        limits.offers[offer.id] = meter
        days = Days()
        served = []
        for _ in range(10):
            lease = meter.lease(leases, days, now[0])
            served.append(leases.spend(lease, 1, now[0]))
            await leases.step(now[0])
        assert served.count(True) == 3
        assert ledger.meters[f"p:meter:offer_clicks:{offer.id}:2026-12-02"].granted == 3
        now[0] += 13 * 3_600_000  # 23:00 UTC is midnight in Berlin
        lease = meter.lease(leases, days, now[0])
        assert lease.key.endswith(":2026-12-03")
        await leases.step(now[0])
        assert leases.spend(lease, 1, now[0])
        await leases.close()
        assert ledger.meters[lease.key].spent == 1
    asyncio.run(run())


def test_budget_refusal_gives_back_the_click_cap_unit():
    async def run():
        ledger, now = MemoryLedger(), [T0]
        leases = Leases(ledger, SMALL, clock=lambda: now[0])
        graph = compile_graph(load_graph(EXAMPLE), 1)
        limits = GraphLimits(graph, "p")
        summer = limits.campaigns["summer"]  # CPC 0.045, a total budget
        summer.clicks = Meter("p", "campaign_clicks", "summer", 100, 1, "Europe/Berlin")
        summer.budget = Meter("p", "budget", "summer", 45_000, 45_000, None)
        target = graph.campaigns_by_id["summer"].table.rules[-1].choices[0].destination.payload
        limits.prefetch(leases, Days(), now[0])
        await leases.step(now[0])
        days = Days()
        assert summer.admit(limits, leases, days, target, 45_000, now[0], True) == (target, "")
        assert summer.admit(limits, leases, days, target, 45_000, now[0], True) == (None,
                                                                            BUDGET_EXHAUSTED)
        clicks = summer.clicks.lease(leases, days, now[0])
        assert clicks.spent == 1
        await leases.close()
    asyncio.run(run())


def test_an_overlay_verdict_lapses_at_until_ms():
    overlay = Overlay(3, {"vpn-us": Verdict("conversion_cap", until_ms=T0 + 500),
                          "antivirus": Verdict("conversion_cap")},
                      {"summer": Verdict("budget", until_ms=T0 + 900)})
    current, due = in_force(overlay, T0)
    assert current.capped_offers == {"vpn-us", "antivirus"}
    assert current.blocked_campaigns == {"summer"} and due == T0 + 500
    current, due = in_force(overlay, T0 + 500)
    assert current.capped_offers == {"antivirus"} and due == T0 + 900
    current, due = in_force(overlay, T0 + 900)
    assert current.blocked_campaigns == frozenset() and due is None
