"""Building the entities a template describes from a user's picks (checked already)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from turnout.config.model import (
    BotPolicy,
    Campaign,
    Destination,
    Graph,
    InactivePolicy,
    Lander,
    Offer,
    Rule,
    TrafficSource,
)
from turnout.control.template_inputs import (
    OfferPick,
    SetupInputs,
    picked_id,
    product_campaign,
    products,
)
from turnout.control.template_model import (
    COUNTRIES,
    DEVICES,
    INACTIVE_PAGE,
    LANDER,
    OFFER,
    OS,
    PER_PRODUCT,
    PRODUCT,
    SAFE_PAGE,
    CampaignTemplate,
    lander_ctas,
    placeholders,
    slot,
    slot_counts,
)

_TARGETING = (COUNTRIES, DEVICES, OS)


class InstantiatedSetup(msgspec.Struct, frozen=True, kw_only=True):
    """The entities to create: the campaign(s), and the traffic source, offers and landers
    the inputs asked to be created."""

    traffic_sources: tuple[TrafficSource, ...] = ()
    offers: tuple[Offer, ...] = ()
    landers: tuple[Lander, ...] = ()
    campaigns: tuple[Campaign, ...] = ()

    def added_to(self, graph: Graph) -> Graph:
        return msgspec.structs.replace(
            graph,
            traffic_sources=graph.traffic_sources + self.traffic_sources,
            offers=graph.offers + self.offers,
            landers=graph.landers + self.landers,
            campaigns=graph.campaigns + self.campaigns,
        )


def build(template: CampaignTemplate, inputs: SetupInputs) -> InstantiatedSetup:
    """The entities; `inputs` must have no problems (`input_problems.problems`)."""
    return _Builder(template, inputs).build()


class _Builder:
    def __init__(self, template: CampaignTemplate, inputs: SetupInputs) -> None:
        self.template = template
        self.inputs = inputs
        counts = slot_counts(template)
        self.fixed: dict[str, str | None] = {
            SAFE_PAGE: inputs.safe_page,
            INACTIVE_PAGE: inputs.inactive_page,
        }
        for kind, picks in (("offer", inputs.offers[:counts["offer"]]),
                            ("lander", inputs.landers)):
            for n, pick in enumerate(picks, start=1):
                self.fixed[slot(kind, n)] = picked_id(pick)
        for n, funnel in enumerate(inputs.funnels, start=1):
            self.fixed[slot("funnel", n)] = funnel
        self.products = products(template, inputs)
        self.ctas = lander_ctas(template)

    def build(self) -> InstantiatedSetup:
        t, i = self.template, self.inputs
        if t.layout == PER_PRODUCT and OFFER in placeholders(t):
            campaigns = tuple(map(self._product_campaign, self.products))
        else:
            campaigns = (self._campaign(i.campaign_id, i.code, i.name, self.products),)
        return InstantiatedSetup(traffic_sources=self._new_source(), offers=self._new_offers(),
                                 landers=self._new_landers(), campaigns=campaigns)

    # -- placeholders --------------------------------------------------------------

    def _fill(self, text: str, product: OfferPick | None) -> str | None:
        if text in self.fixed:
            return self.fixed[text]
        if product is not None:
            if text in (PRODUCT, OFFER):
                return picked_id(product)
            if text == LANDER:
                return picked_id(product.lander) if product.lander is not None else None
        return text

    def _destination(self, d: Destination, product: OfferPick | None,
                     weight: int | None = None) -> Destination:
        def fill(text: str) -> str:
            filled = self._fill(text, product)
            assert filled is not None
            return filled

        weight = d.weight if weight is None else weight
        if d.kind == "lander" and d.ref == LANDER and self._fill(LANDER, product) is None:
            # An optional lander not given: straight to the one offer it would lead to.
            return Destination(id=fill(d.id), weight=weight, kind="offer",
                               ref=fill(d.offers[0]), paused=d.paused)
        return msgspec.structs.replace(d, id=fill(d.id), weight=weight,
                                       ref=None if d.ref is None else fill(d.ref),
                                       offers=tuple(map(fill, d.offers)))

    def _rule(self, rule: Rule, product: OfferPick | None) -> Rule:
        targeting = dict(zip(_TARGETING, (product.countries, product.devices, product.os),
                             strict=True)) if product is not None else {}
        conditions = []
        for condition in rule.conditions:
            if len(condition.values) == 1 and condition.values[0] in targeting:
                values = targeting[str(condition.values[0])]
                if values:
                    conditions.append(msgspec.structs.replace(condition, values=values))
            else:
                conditions.append(condition)
        return msgspec.structs.replace(
            rule, id=self._fill(rule.id, product) or rule.id,
            name=self._fill(rule.name, product) or rule.name, conditions=tuple(conditions),
            destinations=tuple(self._destination(d, product) for d in rule.destinations))

    # -- entities ------------------------------------------------------------------

    def _campaign(self, campaign_id: str, code: str, name: str,
                  picks: Sequence[OfferPick]) -> Campaign:
        t, i = self.template, self.inputs
        single = picks[0] if t.layout == PER_PRODUCT and len(picks) == 1 else None
        rules = [self._rule(rule, single) for rule in t.rules]
        if t.product_rule is not None:
            rules += [self._rule(t.product_rule, pick) for pick in picks if pick.targeted]
        default: list[Destination] = []
        for d in t.default:
            if d.id != PRODUCT or single is not None:
                default.append(self._destination(d, single))
            else:
                default += [self._destination(d, pick, pick.weight) for pick in picks
                            if not pick.targeted]
        return Campaign(
            id=campaign_id, workspace=i.workspace, name=name, code=code, parent=i.parent,
            traffic_source=self._source_id(), cost_model=t.cost_model,
            redirect_mode=t.redirect_mode, allow_permanent=t.allow_permanent,
            bot_policy=BotPolicy(action=t.bot_policy.action,
                                 url=self._page(t.bot_policy.url)),
            inactive=InactivePolicy(action=t.inactive.action, url=self._page(t.inactive.url)),
            attribution_window_days=t.attribution_window_days,
            unique_window_hours=t.unique_window_hours,
            rules=tuple(rules), default=tuple(default))

    def _product_campaign(self, pick: OfferPick) -> Campaign:
        ids = product_campaign(self.inputs, picked_id(pick))
        label = picked_id(pick) if pick.new is None else pick.new.name
        return self._campaign(ids["campaign_id"], ids["code"], f"{self.inputs.name} / {label}",
                              [pick])

    def _page(self, url: str | None) -> str | None:
        return None if url is None else self._fill(url, None)

    def _source_id(self) -> str:
        i = self.inputs
        if i.new_traffic_source is not None:
            return i.new_traffic_source.id
        assert i.traffic_source is not None
        return i.traffic_source

    def _new_source(self) -> tuple[TrafficSource, ...]:
        new = self.inputs.new_traffic_source
        if new is None:
            return ()
        return (TrafficSource(id=new.id, workspace=self.inputs.workspace, name=new.name,
                              tokens=dict(self.template.tokens),
                              postback_url=new.postback_url),)

    def _new_offers(self) -> tuple[Offer, ...]:
        return tuple(Offer(id=new.id, workspace=self.inputs.workspace, name=new.name,
                           url=new.url, network=new.network, payout=new.payout,
                           currency=new.currency)
                     for pick in self.inputs.offers if (new := pick.new) is not None)

    def _new_landers(self) -> tuple[Lander, ...]:
        placed = [(slot("lander", n), pick) for n, pick in enumerate(self.inputs.landers, 1)]
        placed += [(LANDER, pick.lander) for pick in self.products if pick.lander is not None]
        return tuple(Lander(id=new.id, workspace=self.inputs.workspace, name=new.name,
                            url=new.url, cta_count=self.ctas.get(where, 1))
                     for where, pick in placed if (new := pick.new) is not None)
