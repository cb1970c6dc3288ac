"""The ground truth: what the simulator sent and the edge accepted, counted the way the
reports count (SPEC §7 and reports/), per workspace x campaign x country x device.

Conventions, each as ingest and the report query implement them:
- clicks: counted campaign clicks (kind "click") that are not bots; HEAD is never counted.
- unique clicks: a click is unique when the same visitor (`tv` cookie) made no click on the
  same campaign with the same bot flag within the campaign's unique window before it
  (default 24 h); the first click of a visitor is unique. Bots are never unique clicks.
- bot clicks: counted campaign clicks flagged as bots (always reported).
- conversions: one per (click id, txid), its latest accepted status wins (exact duplicates
  collapse); only approved ones count, only on counted non-bot clicks.
- revenue: the payout of those approved conversions in the workspace currency. A payout is
  in the currency of the offer the click reached (the postback names it or leaves it to
  the offer, as ingest does), else in the workspace's; it is converted at the rate of its
  UTC day, as reports/fx.py does (`convert_micros`), from the rates the run was given (the
  ones imported: `turnout simulate --fx-rates`). One with no rate for its day is held: it
  counts as a conversion and adds no money.
- cost: click-time cost of the non-bot clicks (cpc, cpm / 1000, the source's cost token
  cut to 6 decimals), plus cpa per approved conversion, plus the revshare percentage of
  each conversion's revenue (cut to whole micros), plus fixed_total spread over the
  campaign's non-bot clicks (cut per group).
- profit = revenue - cost; roi = profit / cost x 100, 2 places, none without cost.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from turnout.config.compiled import CompiledCampaign
from turnout.config.fx_rates import RateSet
from turnout.reports.fx import convert_micros
from turnout.simulate import money

DEFAULT_UNIQUE_WINDOW_MS: Final = 86_400_000
Key = tuple[str, str, str, str]  # workspace, campaign, country, device


@dataclass(slots=True)
class ClickRecord:
    """A campaign click the edge counted (bot or not)."""

    workspace_id: str
    campaign_id: str
    country: str
    device: str
    visitor_id: str
    is_bot: bool
    ts_ms: int
    cost_micros: int
    click_id: str = ""  # known when the answer showed it
    # The network of the offer the visitor reached (by the click or a lander click after
    # it); "" for landers never clicked through and direct URLs. Only it may convert.
    network_id: str = ""
    seq: int = 0  # position in the plan (visitor, step), for reproducible choices
    session: str = ""  # whose cookie jar remembers unique clicks ("" = this click alone)
    currency: str = ""  # the currency that offer pays in; "" when no offer was reached

    @property
    def key(self) -> Key:
        return (self.workspace_id, self.campaign_id, self.country, self.device)


@dataclass(frozen=True, slots=True)
class LpRecord:
    key: Key
    is_bot: bool


@dataclass(slots=True)
class Row:
    key: Key
    clicks: int = 0
    unique_clicks: int = 0
    bot_clicks: int = 0
    lp_clicks: int = 0
    conversions: int = 0
    held_conversions: int = 0  # approved, but no rate for their currency on their day
    revenue_micros: int = 0
    cost_micros: int = 0

    @property
    def profit_micros(self) -> int:
        return self.revenue_micros - self.cost_micros

    @property
    def roi(self) -> Decimal | None:
        return money.roi(self.revenue_micros, self.cost_micros)

    def as_dict(self) -> dict[str, Any]:
        workspace, campaign, country, device = self.key
        roi = self.roi
        return {
            "workspace": workspace, "campaign": campaign, "country": country,
            "device": device, "clicks": self.clicks, "unique_clicks": self.unique_clicks,
            "bot_clicks": self.bot_clicks, "lp_clicks": self.lp_clicks,
            "conversions": self.conversions, "held_conversions": self.held_conversions,
            "revenue": money.text(self.revenue_micros),
            "cost": money.text(self.cost_micros), "profit": money.text(self.profit_micros),
            "roi": None if roi is None else f"{roi:.2f}",
        }


@dataclass(frozen=True, slots=True)
class Accepted:
    """One postback the edge accepted: its status and money (currency "" = the workspace's)
    and when (ms), whose UTC day picks the exchange rate."""

    status: str
    payout_micros: int
    currency: str = ""
    ts_ms: int = 0


@dataclass
class Ledger:
    clicks: list[ClickRecord] = field(default_factory=list)
    lp_clicks: list[LpRecord] = field(default_factory=list)
    # (click id, txid) -> what the edge accepted for it, in the order it took them
    conversions: dict[tuple[str, str], list[Accepted]] = field(default_factory=dict)

    def accepted(self, click_id: str, txid: str, status: str, payout_micros: int,
                 currency: str = "", ts_ms: int = 0) -> None:
        self.conversions.setdefault((click_id, txid), []).append(
            Accepted(status, payout_micros, currency, ts_ms))

    def final_statuses(self) -> Counter[str]:
        """Latest status per (click id, txid), counted: what the conversions table holds
        once ingest caught up (orphans and bot clicks included)."""
        return Counter(history[-1].status for history in self.conversions.values())


def _unique_flags(clicks: Iterable[ClickRecord], windows: Mapping[str, int]) -> dict[int, bool]:
    """The edge's rule: a human click is unique when the visitor's cookie jar remembers no
    unique click on the campaign within its window (bots never are). A visitor who keeps
    no cookies brings no memory, so every click of theirs is unique."""
    runs: dict[tuple[str, str], list[ClickRecord]] = defaultdict(list)
    flags: dict[int, bool] = {}
    for click in clicks:
        if click.is_bot:
            flags[id(click)] = False
        elif not click.session:
            flags[id(click)] = True
        else:
            runs[(click.campaign_id, click.session)].append(click)
    for (campaign, _session), run in runs.items():
        window = windows.get(campaign) or DEFAULT_UNIQUE_WINDOW_MS
        last_unique: int | None = None
        for click in sorted(run, key=lambda c: c.seq):
            unique = last_unique is None or click.ts_ms - last_unique >= window
            flags[id(click)] = unique
            if unique:
                last_unique = click.ts_ms
    return flags


class Rates:
    """Exchange rates by (UTC day, currency), each day's base at 1, as fx_rates_latest."""

    def __init__(self, rates: RateSet | None) -> None:
        self._rates: dict[tuple[dt.date, str], Decimal] = {}
        if rates is not None:
            for rate in rates.rates:
                self._rates[(rate.day, rate.currency)] = rate.rate
                self._rates[(rate.day, rates.base)] = Decimal(1)

    def convert(self, micros: int, currency: str, into: str, ts_ms: int) -> int | None:
        """`micros` of `currency` in `into` at the rate of the UTC day of `ts_ms`; None when
        that day has no rate for one of them (the conversion is held)."""
        if currency in ("", into):
            return micros
        day = dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).date()
        to_rate, from_rate = self._rates.get((day, into)), self._rates.get((day, currency))
        if to_rate is None or from_rate is None:
            return None
        return convert_micros(micros, to_rate, from_rate)


def compute(ledger: Ledger, campaigns: Mapping[str, CompiledCampaign],
            rates: RateSet | None = None) -> list[Row]:
    """The report rows the simulated traffic must produce, sorted by key; payouts in
    another currency than the workspace's are converted at `rates` (none: all held)."""
    rows: dict[Key, Row] = {}

    def row(key: Key) -> Row:
        found = rows.get(key)
        if found is None:
            found = rows[key] = Row(key)
        return found

    exchange = Rates(rates)
    windows = {cid: c.unique_window_ms for cid, c in campaigns.items()}
    unique = _unique_flags(ledger.clicks, windows)
    by_id: dict[str, ClickRecord] = {}
    human_clicks: Counter[str] = Counter()
    for click in ledger.clicks:
        target = row(click.key)
        if click.click_id:
            by_id[click.click_id] = click
        if click.is_bot:
            target.bot_clicks += 1
            continue
        target.clicks += 1
        target.unique_clicks += unique[id(click)]
        target.cost_micros += click.cost_micros
        human_clicks[click.campaign_id] += 1
    for lp in ledger.lp_clicks:
        if not lp.is_bot:
            row(lp.key).lp_clicks += 1
    for (click_id, _txid), history in ledger.conversions.items():
        click = by_id.get(click_id)
        if click is None or click.is_bot:
            continue  # unattributed, or a bot's: never in the numbers
        last = history[-1]
        target = row(click.key)
        campaign = campaigns[click.campaign_id]
        model = campaign.cost_model
        revenue = 0
        if last.status == "approved":
            converted = exchange.convert(last.payout_micros, last.currency,
                                         campaign.workspace.currency, last.ts_ms)
            target.conversions += 1
            if converted is None:
                target.held_conversions += 1
            else:
                revenue = converted
            target.revenue_micros += revenue
            if model.type == "cpa":
                target.cost_micros += model.value_micros
        if model.type == "revshare":
            target.cost_micros += money.revshare_cost(revenue, model.value_micros)
    for key, target in rows.items():
        model = campaigns[key[1]].cost_model
        if model.type == "fixed_total" and human_clicks[key[1]]:
            target.cost_micros += model.value_micros * target.clicks // human_clicks[key[1]]
    return [rows[key] for key in sorted(rows)]
