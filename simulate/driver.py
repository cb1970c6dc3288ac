"""One simulation: plan, clicks, postbacks, ground truth."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx

from turnout.config.compiled import CompiledGraph
from turnout.config.fx_rates import RateSet
from turnout.simulate import truth
from turnout.simulate.plan import Mix, build_plan
from turnout.simulate.postbacks import plan_postbacks
from turnout.simulate.runner import Outcome, Simulator, new_client


@dataclass
class Result:
    seed: int
    graph_version: int
    outcome: Outcome
    rows: list[truth.Row]

    @property
    def ledger(self) -> truth.Ledger:
        return self.outcome.ledger

    def expected_ingest(self) -> dict[str, Any]:
        """What ClickHouse holds for this run once ingest caught up, per workspace:
        campaign click rows (bots included), LP click rows, conversions by latest status."""
        out: dict[str, Any] = {}
        for click in self.ledger.clicks:
            entry = out.setdefault(click.workspace_id, _empty())
            entry["clicks"] += 1
        for lp in self.ledger.lp_clicks:
            out.setdefault(lp.key[0], _empty())["lp_clicks"] += 1
        workspaces = sorted(out) or [""]
        # Conversions carry their network's workspace; with one workspace that is it.
        statuses = self.ledger.final_statuses()
        if len(workspaces) == 1:
            out.setdefault(workspaces[0], _empty())["conversions"] = dict(sorted(statuses.items()))
        return out

    def summary(self) -> dict[str, Any]:
        outcome = self.outcome
        return {
            "seed": self.seed,
            "graph_version": self.graph_version,
            "requests": dict(sorted(outcome.requests.items())),
            "statuses": dict(sorted(outcome.statuses.items())),
            "seconds": {k: round(v, 3) for k, v in outcome.seconds.items()},
            "anomalies": outcome.anomalies,
            "expected_ingest": self.expected_ingest(),
            "rows": [row.as_dict() for row in self.rows],
        }


def _empty() -> dict[str, Any]:
    return {"clicks": 0, "lp_clicks": 0, "conversions": {}}


async def simulate(edge_url: str, graph: CompiledGraph, *, clicks: int, postbacks: int,
                   seed: int, concurrency: int = 32, rate: float = 0.0, mix: Mix | None = None,
                   transport: httpx.AsyncBaseTransport | None = None,
                   rates: RateSet | None = None) -> Result:
    """Send `clicks` campaign clicks and about `postbacks` postbacks to the edge at
    `edge_url` (through `transport` when given, e.g. an in-process app); return what the
    reports must show for them, payouts converted at `rates` (the imported exchange rates;
    None: those in another currency than the workspace's are held)."""
    now_ms = time.time_ns() // 1_000_000
    plan = build_plan(graph, clicks, seed, now_ms, mix or Mix())
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(new_client(edge_url, transport=transport))
                   for _ in range(max(1, concurrency))]
        simulator = Simulator(clients, graph, rate)
        await simulator.clicks(plan)
        counted = simulator.outcome.ledger.clicks
        # Plan order, not answer order, so the same seed picks the same clicks.
        ordered = sorted(counted, key=lambda c: c.seq)
        people = [(c.click_id, c.workspace_id) for c in ordered if c.click_id and not c.is_bot]
        bots = [(c.click_id, c.workspace_id) for c in ordered if c.click_id and c.is_bot]
        chains = plan_postbacks(graph, people, bots, postbacks, seed,
                                time.time_ns() // 1_000_000,
                                {c.click_id: c.network_id for c in ordered if c.network_id},
                                {c.click_id: c.currency for c in ordered if c.currency})
        await simulator.postbacks(chains)
    rows = truth.compute(simulator.outcome.ledger, graph.campaigns_by_id, rates)
    return Result(seed, graph.version, simulator.outcome, rows)
