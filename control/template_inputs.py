"""What a user gives to create campaigns from a template (`input_problems` checks it)."""

from __future__ import annotations

import msgspec

from turnout.control.template_model import CampaignTemplate, slot_counts


class _Input(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class NewTrafficSource(_Input, kw_only=True):
    """A traffic source to create; its token mapping is the template's."""

    id: str
    name: str
    postback_url: str | None = None


class NewOffer(_Input, kw_only=True):
    id: str
    name: str
    url: str
    network: str  # an existing network id
    payout: str = "0"
    currency: str | None = None


class NewLander(_Input, kw_only=True):
    """A lander to create; it gets as many CTAs as the template sends it offers."""

    id: str
    name: str
    url: str


class LanderPick(_Input, kw_only=True):
    id: str | None = None  # an existing lander
    new: NewLander | None = None  # or one to create


class OfferPick(_Input, kw_only=True):
    """An offer: one of the template's numbered offer slots, in order, and after those a
    product, for the parts of the template repeated per product."""

    id: str | None = None  # an existing offer
    new: NewOffer | None = None  # or one to create
    lander: LanderPick | None = None  # the product's lander, where the template has one
    # Split layouts: a product with a targeting gets a rule of its own; the others share
    # the default path by weight (default 1).
    countries: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    os: tuple[str, ...] = ()
    weight: int | None = None

    @property
    def targeted(self) -> bool:
        return bool(self.countries or self.devices or self.os)


class SetupInputs(_Input, kw_only=True):
    workspace: str
    campaign_id: str  # per-product layouts: each campaign's id is `<campaign_id>-<offer>`
    name: str  # per-product: `<name> / <offer>`
    code: str  # the tracking code; per-product: `<code>_<offer>`
    parent: str | None = None  # an existing campaign the new ones roll up into
    traffic_source: str | None = None  # an existing traffic source
    new_traffic_source: NewTrafficSource | None = None  # or one to create
    offers: tuple[OfferPick, ...] = ()
    landers: tuple[LanderPick, ...] = ()  # the numbered lander slots, in order
    funnels: tuple[str, ...] = ()  # the numbered funnel slots, in order (existing ids)
    safe_page: str | None = None  # where bots go, for a template that sends them away
    inactive_page: str | None = None  # where a paused or ended campaign sends visitors


def picked_id(pick: OfferPick | LanderPick) -> str:
    """The id of the entity picked (existing, or the new one's)."""
    if pick.new is not None:
        return pick.new.id
    assert pick.id is not None
    return pick.id


def products(template: CampaignTemplate, inputs: SetupInputs) -> tuple[OfferPick, ...]:
    """The offers after the template's numbered offer slots."""
    return inputs.offers[slot_counts(template)["offer"]:]


def product_campaign(inputs: SetupInputs, key: str) -> dict[str, str]:
    """The id and code of the campaign of product `key`, in a per-product layout."""
    return {"campaign_id": f"{inputs.campaign_id}-{key}", "code": f"{inputs.code}_{key}"}
