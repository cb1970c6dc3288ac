"""What ClickHouse counted, per workspace, for the budget and cap tasks of one pass.

Counted spend is the report API's `cost` (reports/query.py builds both), so a budget acts on
the number a buyer sees in the report: click costs for CPC, CPM and URL-param cost, CPA per
approved conversion, RevShare as a share of revenue, fixed totals spread over clicks.
Conversions count on their click's day, as the report by date shows them.

Batched: at most two report queries per workspace and pass, whatever the number of
campaigns: the workspace-local day grouped by campaign and offer (clicks, lander clicks,
approved conversions, cost) and, when some campaign has a total budget, all time grouped by
campaign (cost). `Counting.of` runs them once per pass; the tasks of a pass share its Tick
and so share the counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from turnout.config.compiled import CompiledCampaign, CompiledGraph, CompiledOffer
from turnout.governor.days import day_range, local_day
from turnout.governor.tick import Tick
from turnout.reports.query import build_query
from turnout.reports.spec import MAX_LIMIT, ReportSpec

# Cost known at the click: the edges spend these budgets from leases (config/meters.py).
LEASED_COSTS: Final = frozenset({"cpc", "cpm", "url_param"})
_DAY_METRICS: Final = ("clicks", "lp_clicks", "approved", "cost")


def is_leased(campaign: CompiledCampaign) -> bool:
    return campaign.cost_model.type in LEASED_COSTS


def budget_period(campaign: CompiledCampaign, day: dt.date) -> str:
    """The meter period of the campaign's budget: `total` or the local day."""
    assert campaign.budget is not None
    return "total" if campaign.budget.period == "total" else day.isoformat()


@dataclass(frozen=True, slots=True)
class Counted:
    """One workspace's counts at one instant (ids missing from a dict counted 0)."""

    day: dt.date  # the workspace-local day of the pass
    spend: dict[str, int] = field(default_factory=dict)  # campaign -> micros, budget period
    campaign_clicks: dict[str, int] = field(default_factory=dict)  # the day's clicks
    # Clicks sent to the offer on the day: campaign clicks straight to it and lander clicks.
    offer_clicks: dict[str, int] = field(default_factory=dict)
    campaign_approved: dict[str, int] = field(default_factory=dict)  # the day's approved
    offer_approved: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Workspace:
    """What one workspace of the graph asks the governor to count."""

    id: str
    timezone: str
    currency: str  # report money is converted into it (reports/fx.py)
    campaigns: tuple[CompiledCampaign, ...]  # with a budget or a daily cap
    offers: tuple[CompiledOffer, ...]  # with a daily cap (conversions or clicks)
    all_campaign_ids: tuple[str, ...]  # every campaign: any may send clicks to an offer


def workspaces(graph: CompiledGraph) -> list[Workspace]:
    """The workspaces with something to count, their budgeted or capped entities."""
    campaigns: dict[str, list[CompiledCampaign]] = {}
    every: dict[str, list[str]] = {}
    for campaign in graph.campaigns_by_id.values():
        ws = campaign.workspace.id
        every.setdefault(ws, []).append(campaign.id)
        if (campaign.budget is not None or campaign.daily_click_cap is not None
                or campaign.daily_conversion_cap is not None):
            campaigns.setdefault(ws, []).append(campaign)
    offers: dict[str, list[CompiledOffer]] = {}
    for offer in graph.offers_by_id.values():
        if offer.daily_cap is not None or offer.daily_click_cap is not None:
            offers.setdefault(offer.workspace_id, []).append(offer)
    found = []
    for ws in sorted(campaigns.keys() | offers.keys()):
        workspace = graph.workspaces_by_id.get(ws)
        if workspace is None:
            continue
        found.append(Workspace(ws, workspace.timezone, workspace.currency,
                               tuple(sorted(campaigns.get(ws, ()), key=lambda c: c.id)),
                               tuple(sorted(offers.get(ws, ()), key=lambda o: o.id)),
                               tuple(sorted(every.get(ws, ())))))
    return found


def _micros(value: Decimal | int | None) -> int:
    return 0 if value is None else int(Decimal(value) * 1_000_000)


class Counting:
    """The counts of the current pass, made on the first ask and shared by its tasks."""

    def __init__(self) -> None:
        self._tick: Tick | None = None
        self._counts: dict[str, Counted] = {}
        self.queries = 0  # report queries run (a metric)
        self.last_seconds = 0.0  # how long the last pass's counting took

    async def of(self, tick: Tick) -> dict[str, Counted]:
        """Workspace id -> its counts at `tick.now_ms` (empty without a graph)."""
        if tick is self._tick:
            return self._counts
        started = time.monotonic()
        counts = {}
        if tick.graph is not None:
            for workspace in workspaces(tick.graph):
                counts[workspace.id] = await self._count(tick, workspace)
        self._tick, self._counts = tick, counts
        self.last_seconds = time.monotonic() - started
        return counts

    async def _count(self, tick: Tick, workspace: Workspace) -> Counted:
        day = local_day(tick.now_ms, workspace.timezone)
        start, end = day_range(day, workspace.timezone)
        campaigns = workspace.all_campaign_ids if workspace.offers else tuple(
            c.id for c in workspace.campaigns)
        counted = Counted(day)
        daily_cost: dict[str, int] = {}
        for row in await self._report(tick, ReportSpec(
                workspace=workspace.id, group_by=("campaign", "offer"), metrics=_DAY_METRICS,
                filters=(("campaign", campaigns),), start=start, end=end,
                tz=workspace.timezone, currency=workspace.currency)):
            campaign, offer = row["campaign"], row["offer"]
            clicks, approved = int(row["clicks"]), int(row["approved"])
            _add(counted.campaign_clicks, campaign, clicks)
            _add(counted.campaign_approved, campaign, approved)
            _add(daily_cost, campaign, _micros(row["cost"]))
            if offer:
                _add(counted.offer_clicks, offer, clicks + int(row["lp_clicks"]))
                _add(counted.offer_approved, offer, approved)
        totals = [c.id for c in workspace.campaigns
                  if c.budget is not None and c.budget.period == "total"]
        total_cost: dict[str, int] = {}
        if totals:
            for row in await self._report(tick, ReportSpec(
                    workspace=workspace.id, group_by=("campaign",), metrics=("cost",),
                    filters=(("campaign", tuple(totals)),), currency=workspace.currency)):
                total_cost[row["campaign"]] = _micros(row["cost"])
        for campaign in workspace.campaigns:
            if campaign.budget is not None:
                source = total_cost if campaign.budget.period == "total" else daily_cost
                counted.spend[campaign.id] = source.get(campaign.id, 0)
        return counted

    async def _report(self, tick: Tick, spec: ReportSpec) -> Iterable[dict[str, Any]]:
        """Every row of the report (paged by MAX_LIMIT, should a workspace have more)."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            query = build_query(dataclasses.replace(spec, limit=MAX_LIMIT, offset=offset))
            rows: Sequence[Sequence[Any]] = await tick.clickhouse.rows(query.sql,
                                                                       query.parameters)
            self.queries += 1
            names = [c.name for c in query.columns]
            found.extend(dict(zip(names, row, strict=True)) for row in rows)
            if len(rows) < MAX_LIMIT:
                return found
            offset += MAX_LIMIT


def _add(into: dict[str, int], key: str, value: int) -> None:
    into[key] = into.get(key, 0) + value
