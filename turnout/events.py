"""The event contract between the edge (producer) and ingest (consumer).

One module, used by both sides. Messages are JSON objects carrying `v`, the schema
version; the Kafka key is the click id (or the visitor id when there is none).
Money is carried as integer micro-units (1 USD = 1_000_000) so that sums are exact to the
cent and beyond: click costs in the workspace currency, payouts in their own currency.

A field added later has a default that means what older events meant, so an event from
an older edge still decodes and `v` stays 1; `v` changes only when a field's meaning does.
"""

from __future__ import annotations

from typing import Final

import msgspec

SCHEMA_VERSION: Final = 1

TOPIC_CLICKS: Final = "turnout.clicks"
TOPIC_CONVERSIONS: Final = "turnout.conversions"
TOPIC_EVENTS: Final = "turnout.events"
TOPIC_DLQ: Final = "turnout.dlq"
TOPICS: Final = (TOPIC_CLICKS, TOPIC_CONVERSIONS, TOPIC_EVENTS, TOPIC_DLQ)

MICROS: Final = 1_000_000

# What a network may report a conversion as (its own words are mapped onto these).
CONVERSION_STATUSES: Final = ("approved", "pending", "declined", "chargeback")
# A click carries up to SUB_SLOTS traffic-source values, sub1..sub10.
SUB_SLOTS: Final = 10
SUB_NAMES: Final = tuple(f"sub{i}" for i in range(1, SUB_SLOTS + 1))
NO_SUBS: Final = ("",) * SUB_SLOTS


class Click(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A counted click: a campaign click (`kind="click"`) or a lander->offer click."""

    v: int = SCHEMA_VERSION
    kind: str = "click"  # click | lp_click
    click_id: str
    parent_click_id: str = ""  # for lp_click: the campaign click it continues
    ts_ms: int
    workspace_id: str
    campaign_id: str
    parent_campaign_id: str = ""
    campaign_code: str
    graph_version: int
    rule_id: str  # "default" for the default path
    destination_id: str = ""
    destination_kind: str = ""  # offer | lander | funnel | url
    offer_id: str = ""
    lander_id: str = ""
    funnel_id: str = ""
    funnel_step: int = 0
    traffic_source_id: str = ""
    network_id: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    asn: int = 0
    device: str = ""
    os: str = ""
    browser: str = ""
    language: str = ""
    ip: str = ""  # anonymised unless the workspace opted into raw IPs
    user_agent: str = ""
    referrer_domain: str = ""
    visitor_id: str
    is_bot: bool = False
    bot_reason: str = ""
    is_unique: bool = False  # no unique click of this visitor on the campaign within its window
    offer_payout_micros: int = 0  # the offer's default payout, for conversions that name none
    # The currency that offer pays in (ISO 4217; the workspace's when the offer names none):
    # of its default payout, and of any payout a conversion names without a currency.
    # "" for paths without an offer and in events from edges that predate it.
    offer_currency: str = ""
    cost_micros: int = 0  # cost decided at the click (CPC, CPM, from URL param)
    cost_model: str = ""
    # The campaign's terms at the time of the click, so ingest and reports need no graph:
    # cpa -> micros per approved conversion, revshare -> percent x 1e6 (30% = 30_000_000),
    # fixed_total -> the campaign's total micros, spread over its clicks at query time.
    cost_rate_micros: int = 0
    attribution_window_ms: int = 0  # 0 means the default, 30 days
    unique_window_ms: int = 0  # 0 means the default, 24 hours
    subs: list[str] = []  # sub1..sub10, "" where absent; always 10 long when set
    external_id: str = ""
    params: dict[str, str] = {}


class Conversion(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A postback, pixel or API conversion as the edge accepted it."""

    v: int = SCHEMA_VERSION
    conversion_id: str  # unique per accepted request (a click id made at receipt)
    click_id: str = ""  # empty for visitor-based conversions
    visitor_id: str = ""
    campaign_id: str = ""  # optional hint for visitor-based conversions
    workspace_id: str = ""
    network_id: str = ""
    txid: str = ""
    status: str = "approved"  # approved | pending | declined | chargeback
    event: str = "sale"
    payout_micros: int = 0
    payout_given: bool = True  # False: ingest uses the click's offer default payout
    currency: str = ""  # as named, else the workspace's (see currency_given)
    # False: the request named no currency, so ingest takes the attributed click's offer
    # currency and keeps `currency` (the workspace's) only for a conversion with no click.
    currency_given: bool = True
    ts_ms: int
    source: str = "postback"  # postback | pixel | api
    # The network (network_id) may convert clicks on other networks' offers (its setting).
    any_offer: bool = False


class Event(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An on-site event (pixel or API) that is not a conversion."""

    v: int = SCHEMA_VERSION
    event_id: str
    name: str
    visitor_id: str = ""
    click_id: str = ""
    campaign_id: str = ""
    workspace_id: str = ""
    value_micros: int = 0
    ts_ms: int
    source: str = "pixel"
    params: dict[str, str] = {}


ENCODER: Final = msgspec.json.Encoder()
CLICK_DECODER: Final = msgspec.json.Decoder(Click)
CONVERSION_DECODER: Final = msgspec.json.Decoder(Conversion)
EVENT_DECODER: Final = msgspec.json.Decoder(Event)
