"""From a request and a decision to the pieces of a click: tokens, macros, the event.

One renderer (`render`) and one event builder (`click_stub` + `fill_click`) serve every
click: campaign clicks, bot-policy redirects and lander clicks alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from turnout.config.compiled import CompiledCampaign, Target
from turnout.config.templates import PARAM_PREFIX, SUBS, Template
from turnout.edge.observe import Observation
from turnout.events import NO_SUBS, SUB_SLOTS, Click

_PARAM_CUT: Final = len(PARAM_PREFIX)
_NO_SUBS: Final = NO_SUBS
# Cost models whose cost is not known at the click: the click carries the campaign's rate.
_DEFERRED_COST: Final = frozenset({"cpa", "revshare", "fixed_total"})


# Our token names -> their slot in Tokens.values (sub1..sub10, cost, external_id).
TOKEN_SLOTS: Final = {name: i for i, name in enumerate((*SUBS, "cost", "external_id"))}
_NO_VALUES: Final = ("",) * len(TOKEN_SLOTS)


def source_slots(source_params: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """A traffic source's own parameter names -> token slots (built once per graph)."""
    return {param: TOKEN_SLOTS[token] for param, token in source_params if token in TOKEN_SLOTS}


class Tokens:
    """sub1..sub10, cost and external_id of a click, plus the other query parameters.

    A traffic source's own names win over ours: a source mapping `sub1: zoneid` fills
    sub1 from `zoneid`; a plain `sub1` parameter fills it only when `zoneid` is absent
    or empty. One pass over the (few) parameters, not a lookup per token.
    """

    __slots__ = ("cost", "external_id", "params", "subs")

    def __init__(self, params: dict[str, str], slots: dict[str, int]) -> None:
        self.params = params
        if not params:
            self.subs: tuple[str, ...] = _NO_SUBS
            self.cost = self.external_id = ""
            return
        values = list(_NO_VALUES)
        ours: dict[int, str] | None = None  # slot -> the first of our names' values
        for name, value in params.items():
            if value:
                slot = slots.get(name)
                if slot is not None:
                    values[slot] = value  # the source's: the last one wins
                else:
                    slot = TOKEN_SLOTS.get(name)
                    if slot is not None:
                        if ours is None:
                            ours = {}
                        ours.setdefault(slot, value)
        if ours is not None:
            for slot, value in ours.items():
                if not values[slot]:
                    values[slot] = value
        self.subs = tuple(values[:SUB_SLOTS])
        self.cost, self.external_id = values[10], values[11]


# What a macro's value is computed from: (click id, campaign, target, observation, tokens,
# now ms, the signed cid maker of a lander URL). A tuple, so that the few getters a
# template needs share one argument.
CidMaker = Callable[[], str]
MacroInputs = tuple[str, CompiledCampaign, "Target | None", Observation, Tokens, int,
                    "CidMaker | None"]
Getter = Callable[[MacroInputs], str]

_GETTERS: Final[dict[str, Getter]] = {
    "clickid": lambda m: m[0],
    "campaign_id": lambda m: m[1].id,
    "campaign_code": lambda m: m[1].code,
    "offer_id": lambda m: m[2].offer_id if m[2] is not None else "",
    "lander_id": lambda m: m[2].lander_id if m[2] is not None else "",
    "country": lambda m: m[3].place.country,
    "region": lambda m: m[3].place.region,
    "city": lambda m: m[3].place.city,
    "device": lambda m: m[3].agent.device,
    "os": lambda m: m[3].agent.os,
    "browser": lambda m: m[3].agent.browser,
    "language": lambda m: m[3].language,
    "external_id": lambda m: m[4].external_id,
    "cost": lambda m: m[4].cost,
    "visitor_id": lambda m: m[3].visitor_id,
    "ts": lambda m: str(m[5] // 1000),
    # Signing costs a MAC: only a lander URL that asks for it pays.
    "lp_cid": lambda m: m[6]() if m[6] is not None else "",
    **{name: (lambda m, i=i: m[4].subs[i]) for i, name in enumerate(SUBS)},  # type: ignore[misc]
}
# Template text -> the getter of each of its slots, in slot order.
_PLANS: dict[str, tuple[Getter, ...]] = {}
_MAX_PLANS: Final = 4096


def _param(name: str) -> Getter:
    return lambda m: m[4].params.get(name, "")


def _getter(name: str) -> Getter:
    if name.startswith(PARAM_PREFIX):
        return _param(name[_PARAM_CUT:])
    return _GETTERS.get(name, _no_value)


def _no_value(inputs: MacroInputs) -> str:
    return ""


def _plan(template: Template) -> tuple[Getter, ...]:
    plan = tuple(_getter(name) for name in template.macros)
    if len(_PLANS) >= _MAX_PLANS:  # only graphs edited thousands of times get here
        _PLANS.clear()
    _PLANS[template.text] = plan
    return plan


def render(template: Template, click_id: str, campaign: CompiledCampaign,
           target: Target | None, seen: Observation, tokens: Tokens, now_ms: int,
           lp_cid: CidMaker | None = None) -> str:
    """`template` with the macros of this click, computing only the macros it uses: the one
    renderer of campaign, bot-policy and lander click URLs (`lp_cid` makes `{lp_cid}`)."""
    plan = _PLANS.get(template.text)
    if plan is None:
        plan = _plan(template)
    if not plan:
        return template.text
    inputs = (click_id, campaign, target, seen, tokens, now_ms, lp_cid)
    return template.fill([get(inputs) for get in plan])


def default_terms(target: Target | None) -> tuple[int, str]:
    """(payout micros, currency) a conversion of this path earns when its postback names
    no payout: the offer's, or for a lander the first offer its CTA leads to; the currency
    is also that of a payout named without one. (0, "") for a path with no offer."""
    if target is None:
        return 0, ""
    paying = target if target.payout_micros or not target.next_offers else target.next_offers[0]
    return paying.payout_micros, paying.currency


def click_stub(*, kind: str, campaign: CompiledCampaign, graph_version: int, rule_id: str,
               destination_id: str, target: Target | None, funnel_step: int) -> Click:
    """The part of a click event that is the same for every click down one path of a
    graph version; `fill_click` completes a copy of it. The campaign click handler keeps
    one per path, which saves passing 45 fields per click."""
    payout_micros, currency = default_terms(target)
    return Click(
        kind=kind,
        click_id="",
        ts_ms=0,
        workspace_id=campaign.workspace.id,
        campaign_id=campaign.id,
        parent_campaign_id=campaign.parent_id or "",
        campaign_code=campaign.code,
        graph_version=graph_version,
        rule_id=rule_id,
        destination_id=destination_id,
        destination_kind=target.kind if target is not None else "",
        offer_id=target.offer_id if target is not None else "",
        offer_payout_micros=payout_micros,
        offer_currency=currency,
        lander_id=target.lander_id if target is not None else "",
        funnel_id=target.funnel_id if target is not None else "",
        funnel_step=funnel_step,
        traffic_source_id=campaign.traffic_source.id,
        network_id=target.network_id if target is not None else "",
        visitor_id="",
        cost_model=campaign.cost_model.type,
        cost_rate_micros=(
            campaign.cost_model.value_micros
            if campaign.cost_model.type in _DEFERRED_COST else 0
        ),
        attribution_window_ms=campaign.attribution_window_ms,
        unique_window_ms=campaign.unique_window_ms,
    )


def fill_click(stub: Click, raw_ip: bool, click_id: str, now_ms: int, seen: Observation,
               tokens: Tokens, bot_reason: str, cost_micros: int, parent_click_id: str = ""
               ) -> Click:
    """A copy of `stub` with this click's facts (`parent_click_id`: for a lander click,
    the campaign click it continues)."""
    event = stub.__copy__()
    place, agent, subs = seen.place, seen.agent, tokens.subs
    event.click_id = click_id
    if parent_click_id:
        event.parent_click_id = parent_click_id
    event.ts_ms = now_ms
    event.country = place.country
    event.region = place.region
    event.city = place.city
    event.asn = place.asn
    event.device = agent.device
    event.os = agent.os
    event.browser = agent.browser
    event.language = seen.language
    event.ip = place.text if raw_ip else place.anonymised
    event.user_agent = seen.user_agent
    event.referrer_domain = seen.referrer_domain
    event.visitor_id = seen.visitor_id
    if bot_reason:
        event.is_bot = True
        event.bot_reason = bot_reason
    event.cost_micros = cost_micros
    event.subs = list(subs) if subs is not _NO_SUBS and any(subs) else []
    event.external_id = tokens.external_id
    event.params = tokens.params
    return event
