"""The campaign graph as people write it (YAML/JSON), before validation and compile.

Field types are deliberately loose where a value has a closed set of meanings (status,
kinds, modes, money): they are plain strings here and `config.validate` checks them, so a
graph with ten mistakes gets ten messages instead of stopping at the first. Money is a
decimal string ("12.50"); compile turns it into integer micro-units. IDs are user-given
slugs, unique per entity type.
"""

from __future__ import annotations

from typing import Final

import msgspec

from turnout.events import SUB_NAMES

STATUSES: Final = ("draft", "active", "paused", "completed", "cancelled")
REDIRECT_MODES: Final = ("302", "307", "301", "meta", "double_meta")
COST_MODELS: Final = ("cpc", "url_param", "cpm", "cpa", "revshare", "fixed_total")
BOT_ACTIONS: Final = ("same", "url", "not_found")
INACTIVE_ACTIONS: Final = ("not_found", "url")
BUDGET_PERIODS: Final = ("total", "daily")  # daily: each day in the workspace timezone
BUDGET_ACTIONS: Final = ("notify", "pause", "complete")
DESTINATION_KINDS: Final = ("offer", "lander", "funnel", "url")
# The query parameters of /c/{code} a traffic source's own tokens can be mapped onto.
TOKENS: Final = (*SUB_NAMES, "cost", "external_id")
DEFAULT_RULE_ID: Final = "default"


class Entity(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """Base of every graph node: immutable, keyword-only, unknown fields are errors."""


class Workspace(Entity, kw_only=True):
    id: str
    name: str
    timezone: str = "UTC"  # IANA name; schedules, hour/weekday rules and reports use it
    currency: str = "USD"  # ISO 4217
    raw_ip: bool = False  # opt-in: store full IPs instead of /24 and /48 prefixes
    fallback_url: str | None = None  # where unknown tracking codes go instead of a 404
    bot_ip_ranges: tuple[str, ...] = ()  # CIDRs whose visitors are treated as bots
    # Public key of the browser-side pixel and events API (/p.gif, POST /api/v1/events): it
    # names the workspace; set it together with pixel_origins, or neither (no browser events).
    pixel_key: str | None = None
    # Origins (scheme://host[:port]) whose pages may use the pixel_key: https://shop.example.com
    pixel_origins: tuple[str, ...] = ()
    # Tracking domains it owns: its codes are served on these hosts only; none: the default
    # domain (every host no workspace claims) serves them.
    domains: tuple[str, ...] = ()


class TrafficSource(Entity, kw_only=True):
    id: str
    workspace: str
    name: str
    # Our token -> the source's query parameter, e.g. {"sub1": "zoneid", "cost": "bid"}.
    tokens: dict[str, str] = {}
    # Conversions reported back to the source (the governor sends it): a template with
    # {clickid}, {external_id}, {payout}, {status}, {txid}, {campaign_id}, {sub1}..{sub10}
    # and the other postback macros.
    postback_url: str | None = None
    # The conversion statuses reported: approved | pending | declined | chargeback. A status
    # change to another wanted status is a postback of its own.
    postback_statuses: tuple[str, ...] = ("approved",)
    payout_percent: str = "100"  # the share of the payout reported as {payout}, 0..100
    # The share of the conversions reported at all, 0..100: which ones is decided by a hash
    # of the conversion, so it never changes for one conversion.
    postback_percent: str = "100"


class Network(Entity, kw_only=True):
    id: str
    workspace: str
    name: str
    secret: str  # the network's postbacks carry it as `secret` (or sign with hmac_key)
    hmac_key: str | None = None  # key of the HMAC signature a network may send instead
    ip_allowlist: tuple[str, ...] = ()  # CIDRs; empty means any address
    # The network's status word -> approved | pending | declined | chargeback.
    statuses: dict[str, str] = {}
    # May it convert clicks on offers of other networks of its workspace? Off: such a
    # conversion goes to the DLQ as foreign_network.
    convert_other_offers: bool = False


class Offer(Entity, kw_only=True):
    id: str
    workspace: str
    name: str
    url: str  # a template: {clickid}, {sub1}, {param:NAME} and the other macros
    network: str  # the id of the network that pays for it
    payout: str = "0"  # default payout, a decimal string, when a postback names none
    currency: str | None = None  # None: the workspace currency
    daily_cap: int | None = None  # approved conversions per day (workspace timezone)
    daily_click_cap: int | None = None  # clicks sent to it per day (workspace timezone)
    fallback_offer: str | None = None  # takes the traffic while this offer is capped


class Lander(Entity, kw_only=True):
    id: str
    workspace: str
    name: str
    url: str  # a template, like an offer's; pass {lp_cid} on as /click?cid= to work without cookies
    cta_count: int = 1  # offers it links to: /click (or /click/1) .. /click/{cta_count}


class Funnel(Entity, kw_only=True):
    """Landers shown one after another; the last lander's CTAs lead to `offers`."""

    id: str
    workspace: str
    name: str
    landers: tuple[str, ...]  # lander ids, in the order they are shown
    offers: tuple[str, ...]  # offer ids the last lander's CTAs lead to, in order


class Condition(Entity, kw_only=True):
    kind: str  # a splitter.types.ConditionKind value
    values: tuple[str | int | bool, ...] = ()  # YAML gives ints for hours/ASNs, bools for bot
    negate: bool = False  # match when the condition does not hold
    param: str = ""  # the query parameter name, for kind "query"


class Destination(Entity, kw_only=True):
    id: str
    weight: int = 1  # relative to the other destinations of the rule; 0 never chosen
    kind: str  # offer | lander | funnel | url
    ref: str | None = None  # offer, lander or funnel id
    url: str | None = None  # for kind "url": a template
    offers: tuple[str, ...] = ()  # for kind "lander": where its CTAs lead, in order
    paused: bool = False  # skipped, as weight 0 is


class Rule(Entity, kw_only=True):
    """Conditions (all must match) -> weighted destinations.

    Rules run in ascending `priority`; a rule without one counts as 0 and ties keep the
    order of the file, so a graph that never sets a priority runs in file order.
    """

    id: str
    name: str = ""
    priority: int | None = None  # lower runs first; none counts as 0
    conditions: tuple[Condition, ...] = ()  # all must match; none: the rule always matches
    destinations: tuple[Destination, ...] = ()  # one is chosen by weight, sticky per visitor


class CostModel(Entity, kw_only=True):
    # cpc/cpm/cpa/fixed_total: an amount; revshare: a percentage; url_param: the
    # value is ignored (cost comes from the click's `cost` token).
    type: str = "cpc"
    value: str = "0"  # a decimal string


class Schedule(Entity, kw_only=True):
    start: str | None = None  # ISO 8601; without an offset it is workspace time
    end: str | None = None  # ISO 8601, like start


class BudgetThreshold(Entity, kw_only=True):
    at: int  # percent of the budget spent, 1..100
    action: str = "notify"  # notify | pause | complete


DEFAULT_THRESHOLDS: Final = (BudgetThreshold(at=90, action="notify"),
                             BudgetThreshold(at=100, action="pause"))


class Budget(Entity, kw_only=True):
    """What a campaign may spend (workspace currency), per period, and what happens as it
    is spent: by default a notification at 90 % and a pause at 100 %."""

    amount: str  # a decimal string in the workspace currency
    period: str = "total"  # total | daily (resets at midnight, workspace time)
    thresholds: tuple[BudgetThreshold, ...] = DEFAULT_THRESHOLDS  # one must stop it


class BotPolicy(Entity, kw_only=True):
    action: str = "same"  # same (as humans) | url | not_found
    url: str | None = None  # where bots go, for action "url"


class InactivePolicy(Entity, kw_only=True):
    """What paused, ended or not-yet-started campaigns answer."""

    action: str = "not_found"  # not_found | url
    url: str | None = None  # where the clicks go, for action "url"


class Campaign(Entity, kw_only=True):
    id: str
    workspace: str
    name: str
    code: str  # the /c/{code} tracking code, unique per tracking domain
    parent: str | None = None  # a campaign id; reports can roll children up into it
    traffic_source: str  # the id of the traffic source that sends its clicks
    cost_model: CostModel = CostModel()  # what a click costs
    status: str = "draft"  # only active campaigns serve their rules
    schedule: Schedule = Schedule()  # when it serves (workspace time)
    # What it may spend: a decimal string (a total, with the default thresholds) or a Budget.
    budget: str | Budget | None = None
    daily_click_cap: int | None = None  # clicks per day (workspace time); then `inactive`
    daily_conversion_cap: int | None = None  # approved conversions per day, likewise
    redirect_mode: str | int = "302"  # YAML turns a bare 302 into an int; both are fine
    allow_permanent: bool = False  # 301 is cached by browsers: clicks would vanish
    bot_policy: BotPolicy = BotPolicy()  # where bots go
    inactive: InactivePolicy = InactivePolicy()  # what it answers when not serving
    attribution_window_days: int = 30  # visitor conversions this long after a click count
    unique_window_hours: int = 24  # a visitor's click is unique once per this window
    rules: tuple[Rule, ...] = ()  # tried by priority; the first that matches decides
    default: tuple[Destination, ...] = ()  # the path when no rule matches


def budget_of(campaign: Campaign) -> Budget | None:
    """The campaign's budget in its full form (a bare amount is a total budget)."""
    budget = campaign.budget
    return Budget(amount=budget) if isinstance(budget, str) else budget


class Graph(Entity, kw_only=True):
    workspaces: tuple[Workspace, ...] = ()
    traffic_sources: tuple[TrafficSource, ...] = ()
    networks: tuple[Network, ...] = ()
    offers: tuple[Offer, ...] = ()
    landers: tuple[Lander, ...] = ()
    funnels: tuple[Funnel, ...] = ()
    campaigns: tuple[Campaign, ...] = ()


# Top-level sections in the order they are written out, with their entity types.
SECTIONS: Final[tuple[tuple[str, type[Entity]], ...]] = (
    ("workspaces", Workspace),
    ("traffic_sources", TrafficSource),
    ("networks", Network),
    ("offers", Offer),
    ("landers", Lander),
    ("funnels", Funnel),
    ("campaigns", Campaign),
)
