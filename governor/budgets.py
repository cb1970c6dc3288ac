"""Budgets (SPEC §11): each threshold a campaign's spend crosses acts once per campaign,
period and threshold: notify, pause or complete, through the control plane as `governor`.

Spend is the report API's counted cost (governor/spend.py). Where the edges spend from
leases (CPC, CPM, URL-param cost) it is the larger of that and the meter's reported spend,
and a meter marked exhausted counts as the whole budget: the meter is ahead of ClickHouse
by the ingest lag.

Bounds (docs/decisions.md, "Budgets: the bounds"), with the governor's pass interval P
(the service's interval setting, 2 s by default):
- Leased budgets are never overspent: the edges stop when the meter hands out nothing more
  (config/meters.py). The governor's pause is the bookkeeping (status, audit row,
  notification), within P plus the ingest lag of the meter's exhaustion.
- CPA and RevShare spend is known only as conversions are counted. After counted spend
  reaches the stop threshold the campaign stops serving within T = ingest lag L + one pass P
  + overlay follow latency F (the blocked verdict of governor/caps.py; the pause reaches
  the edges later, with the published version). Overshoot <= the cost of the conversions
  counted during T, plus the cost of conversions later attributed to clicks served before
  the stop (up to the attribution window). tests/integration/test_governor_budgets.py
  measures it with conversions arriving continuously.

Daily budgets restart at the workspace's midnight: a campaign the governor paused for its
daily budget is resumed on the next local day (once per campaign and day) when it is still
paused at the revision the pause left, i.e. nobody changed it since.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import psycopg

from turnout.config.compiled import CompiledCampaign
from turnout.config.meters import meter_key
from turnout.control.db import connection
from turnout.governor.claims import claimed_among, days_before, record
from turnout.governor.days import next_midnight_ms
from turnout.governor.meter_reads import read_meters
from turnout.governor.notify import enqueue
from turnout.governor.once import once
from turnout.governor.spend import Counting, budget_period, is_leased, workspaces
from turnout.governor.tick import ACTOR, Tick
from turnout.governor.transitions import Outcome, transition
from turnout.reports.format import decimal_text

STOPS: Final = ("pause", "complete")  # threshold actions that stop the campaign
_RESUME_DAYS: Final = 7  # how far back a daily-budget pause is looked for


def money(micros: int) -> str:
    """Micro-units as a decimal string (at least 2 places): 5000000 -> "5.00"."""
    return decimal_text(Decimal(micros).scaleb(-6), 6, 2)


@dataclass(frozen=True, slots=True)
class Standing:
    """A budgeted campaign's spend in its current period."""

    campaign: CompiledCampaign
    period: str  # total | the local day
    spent_micros: int
    until_ms: int | None  # when the period ends (None: total)

    @property
    def amount_micros(self) -> int:
        assert self.campaign.budget is not None
        return self.campaign.budget.amount_micros

    def crossed(self) -> list[tuple[int, str]]:
        """The thresholds (percent, action) its spend has reached, ascending."""
        assert self.campaign.budget is not None
        return [(at, action) for at, action in self.campaign.budget.thresholds
                if self.spent_micros * 100 >= at * self.amount_micros]

    @property
    def stopped(self) -> bool:
        """Spend reached a pause or complete threshold."""
        return any(action in STOPS for _, action in self.crossed())


async def standings(tick: Tick, counting: Counting) -> dict[str, list[Standing]]:
    """Workspace id -> its budgeted campaigns' standings at `tick.now_ms`."""
    if tick.graph is None:
        return {}
    counts = await counting.of(tick)
    found: dict[str, list[Standing]] = {}
    for workspace in workspaces(tick.graph):
        counted = counts[workspace.id]
        budgeted = [c for c in workspace.campaigns if c.budget is not None]
        leased = [c for c in budgeted if is_leased(c)]
        readings = dict(zip((c.id for c in leased), await read_meters(tick.redis, [
            meter_key(tick.prefix, "budget", c.id, budget_period(c, counted.day))
            for c in leased]), strict=True))
        midnight = next_midnight_ms(tick.now_ms, workspace.timezone)
        standing = []
        for campaign in budgeted:
            assert campaign.budget is not None
            spent = counted.spend.get(campaign.id, 0)
            reading = readings.get(campaign.id)
            if reading is not None:
                spent = max(spent, reading.spent)
                if reading.exhausted:
                    spent = max(spent, campaign.budget.amount_micros)
            daily = campaign.budget.period == "daily"
            standing.append(Standing(campaign, budget_period(campaign, counted.day), spent,
                                     midnight if daily else None))
        found[workspace.id] = standing
    return found


def occasion(standing: Standing, at: int) -> str:
    """A threshold's occasion: per period and amount, so a raised budget is watched anew
    (its thresholds act again at their share of the new amount)."""
    campaign = standing.campaign
    return (f"budget:{campaign.workspace.id}:{campaign.id}:{standing.period}:"
            f"{standing.amount_micros}:{at}")


async def _transition_event(conn: psycopg.AsyncConnection[Any], key: str, workspace_id: str,
                            campaign_id: str, outcome: Outcome, reason: str) -> None:
    assert outcome.written is not None and outcome.written.stored is not None
    await enqueue(conn, workspace_id=workspace_id, event="campaign.transition", key=key,
                  data={"campaign_id": campaign_id, "from": outcome.before,
                        "to": outcome.written.stored.entity.status,
                        "action": outcome.written.action, "reason": reason})


class BudgetTask:
    """Acts on budget thresholds and resumes daily budgets at the next local day."""

    name = "budgets"

    def __init__(self, counting: Counting) -> None:
        self.counting = counting
        self.crossed = 0  # thresholds acted on (claimed) by this task
        self.transitions = 0  # pauses, completions and resumes made
        self.refused = 0  # stop or resume transitions the lifecycle refused

    def metrics(self) -> dict[str, float]:
        return {"budget_thresholds_crossed_total": self.crossed,
                "budget_transitions_total": self.transitions,
                "budget_transitions_refused_total": self.refused}

    async def tick(self, tick: Tick) -> None:
        for workspace_id, standing in (await standings(tick, self.counting)).items():
            await self._thresholds(tick, workspace_id, standing)
            await self._resume(tick, workspace_id, standing)

    async def _thresholds(self, tick: Tick, workspace_id: str,
                          standing: list[Standing]) -> None:
        due = [(s, at, action) for s in standing for at, action in s.crossed()]
        if not due:
            return
        async with connection(tick.pool) as conn:
            done = await claimed_among(conn, [occasion(s, at) for s, at, _ in due])
            await conn.commit()
        for s, at, action in due:
            if occasion(s, at) not in done:
                await self._cross(tick, s, at, action)

    async def _cross(self, tick: Tick, standing: Standing, at: int, action: str) -> None:
        campaign = standing.campaign
        ws, key = campaign.workspace.id, occasion(standing, at)
        reason = f"budget {at} % spent"
        detail = {"campaign_id": campaign.id, "period": standing.period, "at": at,
                  "action": action, "spent_micros": standing.spent_micros,
                  "amount_micros": standing.amount_micros}
        outcome = None
        async with connection(tick.pool) as conn, conn.transaction():
            if not await once(conn, key, workspace_id=ws, kind="budget", detail=detail):
                return
            if action in STOPS:
                outcome = await transition(conn, ws, campaign.id, action,
                                           now_ms=tick.now_ms, reason=reason)
                await record(conn, key, outcome.detail)
                if outcome.written is not None:
                    await _transition_event(conn, f"{key}:transition", ws, campaign.id,
                                            outcome, reason)
            await enqueue(conn, workspace_id=ws, event="budget.threshold", key=key, data={
                "campaign_id": campaign.id, "period": standing.period, "threshold": at,
                "action": action, "spent": money(standing.spent_micros),
                "budget": money(standing.amount_micros),
                "currency": campaign.workspace.currency,
                "outcome": "notified" if outcome is None else outcome.what})
        self.crossed += 1
        self._published(tick, ws, outcome)

    def _published(self, tick: Tick, workspace_id: str, outcome: Outcome | None) -> None:
        if outcome is None:
            return
        if outcome.written is None:
            self.refused += 1
            return
        self.transitions += 1
        tick.publisher.changed(workspace_id, ACTOR, outcome.written.note,
                               {"campaigns": {outcome.written.entity_id}})

    async def _resume(self, tick: Tick, workspace_id: str, standing: list[Standing]) -> None:
        daily = {s.campaign.id: s for s in standing
                 if s.until_ms is not None and not s.stopped}
        if not daily:
            return
        today = next(iter(daily.values())).period
        async with connection(tick.pool) as conn:
            paused = await _daily_pauses(conn, workspace_id, today)
            await conn.commit()
        for campaign_id, (period, revision) in paused.items():
            if campaign_id in daily:
                await self._resume_one(tick, daily[campaign_id], period, revision)

    async def _resume_one(self, tick: Tick, standing: Standing, paused_on: str,
                          revision: int) -> None:
        campaign = standing.campaign
        ws = campaign.workspace.id
        key = f"budget:{ws}:{campaign.id}:{standing.period}:resume"
        reason = f"daily budget: a new day ({standing.period})"
        async with connection(tick.pool) as conn, conn.transaction():
            if not await once(conn, key, workspace_id=ws, kind="budget", detail={
                    "campaign_id": campaign.id, "period": standing.period,
                    "action": "resume", "paused_on": paused_on}):
                return
            outcome = await transition(conn, ws, campaign.id, "resume", now_ms=tick.now_ms,
                                       reason=reason, expected=revision)
            await record(conn, key, outcome.detail)
            if outcome.written is not None:
                await _transition_event(conn, key, ws, campaign.id, outcome, reason)
        self._published(tick, ws, outcome)


async def _daily_pauses(conn: psycopg.AsyncConnection[Any], workspace_id: str, today: str
                        ) -> dict[str, tuple[str, int]]:
    """Campaign -> (day, revision left) of the governor's latest daily-budget pause before
    `today`, where that pause is the latest budget action on the campaign."""
    cursor = await conn.execute(
        "SELECT DISTINCT ON (detail->>'campaign_id') detail->>'campaign_id',"
        " detail->>'action', detail->>'outcome', detail->>'period', detail->'revision'"
        " FROM governor_actions"
        " WHERE workspace_id = %s AND kind = 'budget' AND detail->>'period' <> 'total'"
        "   AND detail->>'period' >= %s AND detail->>'action' IN ('pause', 'complete', 'resume')"
        " ORDER BY detail->>'campaign_id', at DESC, detail->>'period' DESC",
        (workspace_id, days_before(today, _RESUME_DAYS)))
    return {campaign: (period, int(revision)) for campaign, action, outcome, period, revision
            in await cursor.fetchall()
            if action == "pause" and outcome == "paused" and period < today
            and revision is not None}


def budget_task(counting: Counting | None = None) -> BudgetTask:
    return BudgetTask(counting or Counting())


__all__ = ["STOPS", "BudgetTask", "Standing", "budget_task", "money", "standings"]
