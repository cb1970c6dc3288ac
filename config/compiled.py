"""The compiled graph the edge holds in memory: built once per published version, then
only read. Every lookup the redirect path needs is a dict get or an attribute.

The dicts are never mutated after `config.compile.compile_graph` returns; a new version
(or a change of capped offers) means a new CompiledGraph, swapped in whole.
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Collection
from dataclasses import dataclass, field

from turnout.config.domains import DEFAULT_DOMAIN
from turnout.config.model import Graph
from turnout.config.templates import Template
from turnout.splitter.cidr import CidrIndex
from turnout.splitter.table import CampaignTable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Target:
    """Where a destination sends the visitor: the payload of a splitter Destination.

    Targets are shared: every destination leading to the same place holds the same one
    (the destination's own id is the splitter Destination's).
    For a lander, `next_offers` are where its CTAs lead (`/click/n` -> next_offers[n-1]).
    For a funnel, `url`/`lander_id` are its first lander, `funnel_landers` the landers of
    the following steps and `next_offers` the offers of the last lander's CTAs.
    """

    kind: str  # offer | lander | funnel | url
    url: Template
    offer_id: str = ""
    lander_id: str = ""
    funnel_id: str = ""
    network_id: str = ""
    payout_micros: int = 0
    currency: str = ""
    next_offers: tuple[Target, ...] = ()
    funnel_landers: tuple[Target, ...] = ()

    def after(self, step: int, cta: int = 1) -> Target | None:
        """Where CTA number `cta` (1-based) leads after `step` earlier lander clicks on this
        path (0 on the first lander); None when there is no such step or CTA."""
        if step < len(self.funnel_landers):
            return self.funnel_landers[step]
        if step == len(self.funnel_landers) and 1 <= cta <= len(self.next_offers):
            return self.next_offers[cta - 1]
        return None


@dataclass(frozen=True, slots=True)
class Policy:
    """A bot or inactive-campaign policy: `action` and, for action "url", its template."""

    action: str
    url: Template | None = None


@dataclass(frozen=True, slots=True)
class CostModel:
    type: str  # cpc | url_param | cpm | cpa | revshare | fixed_total
    value_micros: int  # an amount in micro-units; for revshare a percentage x 1_000_000


@dataclass(frozen=True, slots=True)
class CompiledBudget:
    amount_micros: int  # workspace currency
    period: str  # total | daily (workspace time)
    thresholds: tuple[tuple[int, str], ...]  # (percent spent, notify|pause|complete), ascending



@dataclass(frozen=True, slots=True)
class CompiledWorkspace:
    id: str
    name: str
    timezone: str
    currency: str
    raw_ip: bool
    fallback_url: Template | None
    bot_networks: tuple[IPNetwork, ...]
    domains: tuple[str, ...] = ()  # normal form (config.domains); empty: the default domain
    pixel_key: str | None = None  # the browser-side events' public key; None: none accepted
    pixel_origins: frozenset[str] = frozenset()  # normalised origins allowed to use it
    # bot_networks as an index, for the click path: derived here, so it is built once per
    # compiled version and can never disagree with bot_networks.
    bot_index: CidrIndex = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bot_index", CidrIndex(self.bot_networks))


@dataclass(frozen=True, slots=True)
class CompiledTrafficSource:
    id: str
    workspace_id: str
    name: str
    tokens: dict[str, str]  # our token (sub1.., cost, external_id) -> the source's param
    params: tuple[tuple[str, str], ...]  # the same, as (source param, our token) pairs
    postback_url: Template | None
    postback_statuses: frozenset[str] = frozenset({"approved"})  # the statuses reported
    payout_percent_micros: int = 100_000_000  # {payout} is this share of it, percent x 1e6
    postback_percent_micros: int = 100_000_000  # the share of conversions reported, x 1e6


@dataclass(frozen=True, slots=True)
class CompiledNetwork:
    id: str
    workspace_id: str
    name: str
    secret: str
    hmac_key: str | None
    ip_allowlist: tuple[IPNetwork, ...]  # empty: any address
    # The network's word -> our status; the four canonical words map to themselves
    # unless the network's mapping says otherwise.
    statuses: dict[str, str]
    convert_other_offers: bool = False  # may convert clicks on other networks' offers
    # ip_allowlist as an index (built with the compiled version, never per postback).
    allowlist_index: CidrIndex = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowlist_index", CidrIndex(self.ip_allowlist))


@dataclass(frozen=True, slots=True)
class CompiledOffer:
    id: str
    workspace_id: str
    name: str
    network_id: str
    url: Template
    payout_micros: int
    currency: str
    daily_cap: int | None  # approved conversions per day (workspace time)
    fallback_offer_id: str | None
    daily_click_cap: int | None = None  # clicks per day (workspace time)


@dataclass(frozen=True, slots=True)
class CompiledLander:
    id: str
    workspace_id: str
    name: str
    url: Template
    cta_count: int


@dataclass(frozen=True, slots=True)
class CompiledFunnel:
    id: str
    workspace_id: str
    name: str
    lander_ids: tuple[str, ...]
    offer_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompiledCampaign:
    id: str
    code: str
    name: str
    workspace: CompiledWorkspace
    parent_id: str | None
    traffic_source: CompiledTrafficSource
    status: str
    start_ms: int | None
    end_ms: int | None
    redirect_mode: str  # 302 | 307 | 301 | meta | double_meta
    bot_policy: Policy
    inactive: Policy
    cost_model: CostModel
    budget: CompiledBudget | None
    attribution_window_ms: int
    unique_window_ms: int
    table: CampaignTable  # rules already in priority order, the default path last
    daily_click_cap: int | None = None  # clicks per day (workspace time)
    daily_conversion_cap: int | None = None  # approved conversions per day (workspace time)
    # Every offer its model sends traffic to (destinations, lander CTAs, funnels' offers),
    # capped or not: what a change of capped offers must recompile (config.compile.recap).
    offer_refs: frozenset[str] = frozenset()

    def target(self, rule_id: str, destination_id: str) -> Target | None:
        """Where a destination of one of its rules leads (None when the rule or the
        destination is gone, or no longer chosen)."""
        for rule in self.table.rules:
            if rule.rule_id == rule_id:
                for choice in rule.choices:
                    if choice.destination.id == destination_id:
                        return choice.destination.payload  # type: ignore[no-any-return]
        return None

    def is_live(self, now_ms: int) -> bool:
        """Active and inside its schedule: clicks are split; otherwise `inactive` applies."""
        return (
            self.status == "active"
            and (self.start_ms is None or now_ms >= self.start_ms)
            and (self.end_ms is None or now_ms < self.end_ms)
        )


@dataclass(frozen=True, slots=True)
class CompiledGraph:
    version: int
    capped_offers: frozenset[str]
    # Tracking domain -> code -> campaign: a workspace's domains serve its codes only, and
    # DEFAULT_DOMAIN (every other host) the codes of workspaces without domains.
    codes: dict[str, dict[str, CompiledCampaign]]
    campaigns_by_id: dict[str, CompiledCampaign]
    workspaces_by_id: dict[str, CompiledWorkspace]
    traffic_sources_by_id: dict[str, CompiledTrafficSource]
    networks_by_id: dict[str, CompiledNetwork]
    offers_by_id: dict[str, CompiledOffer]
    landers_by_id: dict[str, CompiledLander]
    funnels_by_id: dict[str, CompiledFunnel]
    workspaces_by_domain: dict[str, CompiledWorkspace]  # the owner of each tracking domain
    # The source model when compiled from a whole graph (compile_graph); None where it was
    # compiled from a published version's documents, as edges do, to save the memory.
    graph: Graph | None = None

    @property
    def campaigns_by_code(self) -> dict[str, CompiledCampaign]:
        """The codes the default domain serves (those of workspaces without domains)."""
        return self.codes.get(DEFAULT_DOMAIN, {})


def same_ids_in_order(first: Collection[str], second: Collection[str]) -> bool:
    """Do two campaign orders (id lists, or dicts by id) hold the same ids in the same
    order? One pass of C calls: ~0.1 ms at 10,000 campaigns, where a version that changed
    only some campaigns lets an index be copied and patched instead of built again."""
    return len(first) == len(second) and all(map(operator.eq, first, second))
