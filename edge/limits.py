"""What the click path checks against leases (edge.leases): per campaign its budget (for a
cost decided at the click: cpc, cpm, url_param) and its daily click cap, per offer its daily
click cap, with the offer's fallback chain to send a capped offer's clicks on.

Built once per installed snapshot (edge.graph.snapshot_of); a campaign with nothing to
check has no entry, so its clicks pay one dict miss, once per snapshot (edge.redirect
keeps the answer with its per-campaign facts).

Order of the checks for one click: the offer the click is sent to (or its fallbacks), the
campaign's click cap, its budget; a refusal gives back what the earlier checks spent.
Lander CTAs: /click checks the CTA offer's click cap the same way (edge.lpclick).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from itertools import compress
from typing import Final

from turnout.config.compiled import (
    CompiledCampaign,
    CompiledGraph,
    CompiledOffer,
    Target,
    same_ids_in_order,
)
from turnout.config.meters import TOTAL, meter_key
from turnout.edge.days import Days
from turnout.edge.leases import Lease, Leases

BUDGET_EXHAUSTED: Final = "budget exhausted"
CLICK_CAP_REACHED: Final = "click cap reached"
OFFER_CAPPED: Final = "no destination available"
# Cost models whose cost is known at the click (edge.money.click_cost).
CLICK_COSTS: Final = frozenset({"cpc", "cpm", "url_param"})
_MAX_FALLBACKS: Final = 16


class Meter:
    """One limit: its meter's kind, owner and limit, daily in `timezone` or total (None);
    the current lease is kept until its day ends."""

    __slots__ = ("_ends_ms", "_lease", "kind", "limit", "owner", "prefix", "timezone", "unit")

    def __init__(self, prefix: str, kind: str, owner: str, limit: int, unit: int,
                 timezone: str | None) -> None:
        self.prefix, self.kind, self.owner = prefix, kind, owner
        self.limit, self.unit, self.timezone = limit, unit, timezone
        self._lease: Lease | None = None
        self._ends_ms = 0

    def lease(self, leases: Leases, days: Days, now_ms: int) -> Lease:
        lease = self._lease
        if lease is not None and not lease.retired and (
                self.timezone is None or now_ms < self._ends_ms):
            return lease
        if self.timezone is None:
            period, ends = TOTAL, None
        else:
            period = days.day(self.timezone, now_ms)
            ends = self._ends_ms = days.next_midnight_ms(self.timezone, now_ms)
        key = meter_key(self.prefix, self.kind, self.owner, period)
        lease = self._lease = leases.lease(key, self.kind, self.owner, self.limit, self.unit,
                                           now_ms, ends)
        return lease


class GraphLimits:
    """Every limit of one compiled graph.

    Built from the installed version's limits (`previous`), it keeps what did not change:
    the limits of every campaign whose compiled object is the previous graph's (a version
    reuses the campaigns it did not change, config.compile.recompile) and the meter of
    every offer whose cap and time zone are the same, each with its lease. Only the rest
    is made again, so a one-campaign version costs a copy of the previous dict and one
    pass of C calls, not a limit per campaign (measured at 10,000 campaigns: see
    docs/decisions.md)."""

    def __init__(self, graph: CompiledGraph, prefix: str,
                 previous: GraphLimits | None = None) -> None:
        self._graph = graph
        zones = {w.id: w.timezone for w in graph.workspaces_by_id.values()}
        kept = {} if previous is None else previous.offers
        made: list[Meter] = []  # the meters made for this graph, not kept
        self.offers: dict[str, Meter] = {}
        for offer in graph.offers_by_id.values():
            if offer.daily_click_cap is None:
                continue
            zone = zones[offer.workspace_id]
            meter = kept.get(offer.id)
            if meter is None or meter.limit != offer.daily_click_cap or meter.timezone != zone:
                meter = Meter(prefix, "offer_clicks", offer.id, offer.daily_click_cap, 1, zone)
                made.append(meter)
            self.offers[offer.id] = meter
        self._targets: dict[str, Target] = {}
        # A campaign's limits depend on its compiled object and on which offers have a
        # meter. A version changing an offer compiles again every campaign naming it, so
        # the second check is a safety net: with other metered offers, none is kept.
        self.campaigns: dict[str, CampaignLimits] = {}
        self._prefetched = False
        if previous is None or previous.offers.keys() != self.offers.keys():
            for campaign in graph.campaigns_by_id.values():
                limits = CampaignLimits.of(campaign, self.offers, prefix)
                if limits is not None:
                    self.campaigns[campaign.id] = limits
            self._live = {(m.kind, m.owner) for m in self.meters()}
            self._pending: list[Meter] | None = None  # None: every meter, at the prefetch
            self._retire = True
            return
        self.campaigns = previous.campaigns.copy()
        live = previous._live.copy()
        live.difference_update(("offer_clicks", o) for o in previous.offers)
        live.update(("offer_clicks", o) for o in self.offers)
        changed, gone = _changed(previous._graph.campaigns_by_id, graph.campaigns_by_id)
        for cid in (*gone, *(c.id for c in changed)):
            self.campaigns.pop(cid, None)
            live.discard(("budget", cid))
            live.discard(("campaign_clicks", cid))
        for campaign in changed:
            limits = CampaignLimits.of(campaign, self.offers, prefix)
            if limits is not None:
                self.campaigns[campaign.id] = limits
                for meter in (limits.budget, limits.clicks):
                    if meter is not None:
                        made.append(meter)
                        live.add((meter.kind, meter.owner))
        self._live = live
        # Meters kept from a prefetched version have their leases: only the new ones are
        # leased, and leases are given back only when a meter went away.
        self._pending = made if previous._prefetched else None
        self._retire = not previous._prefetched or not previous._live <= live

    def meters(self) -> Iterator[Meter]:
        yield from self.offers.values()
        for limits in self.campaigns.values():
            if limits.budget is not None:
                yield limits.budget
            if limits.clicks is not None:
                yield limits.clicks

    def live(self) -> set[tuple[str, str]]:
        return self._live

    def prefetch(self, leases: Leases, days: Days, now_ms: int) -> None:
        """Make the lease of every meter that has none yet (so each asks for its first
        block now; meters kept from the previous version have theirs) and give back those
        of meters this graph no longer has. Called once the graph is installed."""
        if self._retire:
            leases.retire_except(self._live)
        for meter in self.meters() if self._pending is None else self._pending:
            meter.lease(leases, days, now_ms)
        self._prefetched = True

    def serving(self, offer_id: str, leases: Leases, days: Days, now_ms: int, spend: bool
                ) -> tuple[Target | None, Lease | None]:
        """The offer that takes a click sent to `offer_id`: itself while its click cap has
        room, else the first fallback (not capped by the overlay) that has; with the lease
        it spent from (None: uncapped). (None, None) when no offer along the chain has."""
        offers = self._graph.offers_by_id
        capped = self._graph.capped_offers
        current: str | None = offer_id
        for _ in range(_MAX_FALLBACKS):
            if current is None:
                break
            meter = self.offers.get(current)
            if meter is None:
                return self._target(offers[current]), None
            lease = meter.lease(leases, days, now_ms)
            if spend and leases.spend(lease, 1, now_ms):
                return self._target(offers[current]), lease
            if not spend and lease.balance >= 1:
                return self._target(offers[current]), None
            current = offers[current].fallback_offer_id
            while current is not None and current in capped:
                current = offers[current].fallback_offer_id
        return None, None

    def _target(self, offer: CompiledOffer) -> Target:
        target = self._targets.get(offer.id)
        if target is None:
            target = self._targets[offer.id] = Target(
                kind="offer", url=offer.url, offer_id=offer.id, network_id=offer.network_id,
                payout_micros=offer.payout_micros, currency=offer.currency)
        return target


class CampaignLimits:
    """One campaign's limits; `admit` is given its graph's (GraphLimits), so the same
    object serves every version that keeps the campaign as it is."""

    __slots__ = ("budget", "clicks", "offers")

    def __init__(self, budget: Meter | None, clicks: Meter | None, offers: bool) -> None:
        self.budget, self.clicks, self.offers = budget, clicks, offers

    @classmethod
    def of(cls, campaign: CompiledCampaign, metered: Mapping[str, Meter], prefix: str
           ) -> CampaignLimits | None:
        """The campaign's limits, None when it has none: `metered` are the offers with a
        click cap."""
        tz = campaign.workspace.timezone
        budget = clicks = None
        spec, cost = campaign.budget, campaign.cost_model
        if spec is not None and cost.type in CLICK_COSTS:
            unit = cost.value_micros // 1000 if cost.type == "cpm" else cost.value_micros
            budget = Meter(prefix, "budget", campaign.id, spec.amount_micros, max(1, unit),
                           None if spec.period == TOTAL else tz)
        if campaign.daily_click_cap is not None:
            clicks = Meter(prefix, "campaign_clicks", campaign.id, campaign.daily_click_cap, 1,
                           tz)
        offers = any(choice.destination.payload.offer_id in metered
                     for rule in campaign.table.rules for choice in rule.choices)
        if budget is None and clicks is None and not offers:
            return None
        return cls(budget, clicks, offers)

    def admit(self, graph: GraphLimits, leases: Leases, days: Days, target: Target, cost: int,
              now_ms: int, spend: bool) -> tuple[Target | None, str]:
        """(where the click goes, "") when every limit has room (spent when `spend`), else
        (None, why): OFFER_CAPPED, CLICK_CAP_REACHED or BUDGET_EXHAUSTED. `graph` is the
        limits of the snapshot serving the click."""
        offer_lease = None
        if self.offers and target.offer_id in graph.offers:
            served, offer_lease = graph.serving(target.offer_id, leases, days, now_ms, spend)
            if served is None:
                return None, OFFER_CAPPED
            target = served
        clicks_lease = None
        if self.clicks is not None:
            clicks_lease = self.clicks.lease(leases, days, now_ms)
            if not _take(leases, clicks_lease, 1, now_ms, spend):
                _undo(leases, offer_lease, 1)
                return None, CLICK_CAP_REACHED
        if self.budget is not None and cost > 0:
            lease = self.budget.lease(leases, days, now_ms)
            if not _take(leases, lease, cost, now_ms, spend):
                _undo(leases, offer_lease, 1)
                _undo(leases, clicks_lease if spend else None, 1)
                return None, BUDGET_EXHAUSTED
        return target, ""


def _changed(before: Mapping[str, CompiledCampaign], after: Mapping[str, CompiledCampaign]
             ) -> tuple[list[CompiledCampaign], Iterable[str]]:
    """The campaigns of `after` that are not the very objects `before` holds under their
    ids, and the ids of `before` that `after` lacks. With the same ids in the same order
    (a version changing some campaigns) the two are compared in one pass of C calls:
    ~0.1 ms at 10,000 campaigns, against ~2 ms for a look-up per campaign."""
    if same_ids_in_order(before, after):
        return list(compress(after.values(), map(operator.is_not, after.values(),
                                                 before.values()))), ()
    return ([c for i, c in after.items() if before.get(i) is not c],
            before.keys() - after.keys())


def _take(leases: Leases, lease: Lease, units: int, now_ms: int, spend: bool) -> bool:
    return leases.spend(lease, units, now_ms) if spend else lease.balance >= units


def _undo(leases: Leases, lease: Lease | None, units: int) -> None:
    if lease is not None:
        leases.refund(lease, units)
