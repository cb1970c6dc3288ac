"""Insert column lists of the raw tables, with explicit ClickHouse types.

They mirror ingest/migrations/0001_raw.sql (and 0012 for the governor's postback
deliveries); tests/unit/ingest and the integration suite
check the two agree, so an insert context never has to ask the server for its types.
"""

from __future__ import annotations

from typing import Final

from turnout.events import SUB_NAMES

SUBS: Final = SUB_NAMES
_LC: Final = "LowCardinality(String)"
_TS: Final = "DateTime64(3, 'UTC')"

# Click dimensions a conversion copies from its click (attribution at ingest).
CLICK_DIMENSIONS: Final[tuple[tuple[str, str], ...]] = (
    ("workspace_id", _LC),
    ("campaign_id", _LC),
    ("parent_campaign_id", _LC),
    ("campaign_code", _LC),
    ("graph_version", "UInt64"),
    ("rule_id", _LC),
    ("destination_id", _LC),
    ("destination_kind", _LC),
    ("offer_id", _LC),
    ("lander_id", _LC),
    ("funnel_id", _LC),
    ("funnel_step", "UInt8"),
    ("traffic_source_id", _LC),
    ("network_id", _LC),
    ("country", _LC),
    ("region", _LC),
    ("city", _LC),
    ("device", _LC),
    ("os", _LC),
    ("browser", _LC),
    ("language", _LC),
    ("is_bot", "Bool"),
    ("cost_model", _LC),
    ("cost_rate_micros", "Int64"),
    *((sub, "String") for sub in SUBS),
    ("external_id", "String"),
)

CLICKS: Final[tuple[tuple[str, str], ...]] = (
    ("schema_version", "UInt8"),
    ("kind", _LC),
    ("click_id", "String"),
    ("parent_click_id", "String"),
    ("ts", _TS),
    ("workspace_id", _LC),
    ("campaign_id", _LC),
    ("parent_campaign_id", _LC),
    ("campaign_code", _LC),
    ("graph_version", "UInt64"),
    ("rule_id", _LC),
    ("destination_id", _LC),
    ("destination_kind", _LC),
    ("offer_id", _LC),
    ("lander_id", _LC),
    ("funnel_id", _LC),
    ("funnel_step", "UInt8"),
    ("traffic_source_id", _LC),
    ("network_id", _LC),
    ("country", _LC),
    ("region", _LC),
    ("city", _LC),
    ("asn", "UInt32"),
    ("device", _LC),
    ("os", _LC),
    ("browser", _LC),
    ("language", _LC),
    ("ip", "String"),
    ("user_agent", "String"),
    ("referrer_domain", "String"),
    ("visitor_id", "String"),
    ("is_bot", "Bool"),
    ("bot_reason", _LC),
    ("cost_micros", "Int64"),
    ("cost_model", _LC),
    ("cost_rate_micros", "Int64"),
    ("attribution_window_ms", "UInt64"),
    ("unique_window_ms", "UInt64"),
    *((sub, "String") for sub in SUBS),
    ("external_id", "String"),
    ("params", "Map(String, String)"),
    ("is_unique", "UInt8"),  # added by 0005_unique_flag.sql, so last
    ("offer_payout_micros", "Int64"),  # added by 0007_offer_payout.sql
    ("offer_currency", _LC),  # added by 0013_offer_currency.sql
    ("ingest_batch", "String"),  # added by 0014_click_batch.sql: not a Click field
)

CONVERSIONS: Final[tuple[tuple[str, str], ...]] = (
    ("schema_version", "UInt8"),
    ("conversion_id", "String"),
    ("click_id", "String"),
    ("visitor_id", "String"),
    ("txid", "String"),
    ("status", _LC),
    ("event", _LC),
    ("payout_micros", "Int64"),
    ("currency", _LC),
    ("ts", _TS),
    ("source", _LC),
    ("version", "UInt64"),
    ("attributed", "Bool"),
    ("attribution", _LC),
    ("in_window", "Bool"),
    ("click_ts", _TS),
    ("click_kind", _LC),
    *CLICK_DIMENSIONS,
    ("not_counted_reason", _LC),  # added by 0010_conversion_reasons.sql, so last
    ("visitor_key", "String"),  # 0010 too
    ("currency_source", _LC),  # added by 0013_offer_currency.sql
)

EVENTS: Final[tuple[tuple[str, str], ...]] = (
    ("schema_version", "UInt8"),
    ("event_id", "String"),
    ("name", _LC),
    ("visitor_id", "String"),
    ("click_id", "String"),
    ("campaign_id", _LC),
    ("workspace_id", _LC),
    ("value_micros", "Int64"),
    ("ts", _TS),
    ("source", _LC),
    ("params", "Map(String, String)"),
)

# Written by the governor (governor/postbacks.py), one row per postback attempt.
POSTBACK_DELIVERIES: Final[tuple[tuple[str, str], ...]] = (
    ("workspace_id", _LC),
    ("campaign_id", _LC),
    ("traffic_source_id", _LC),
    ("click_id", "String"),
    ("txid", "String"),
    ("status", _LC),
    ("attempt", "UInt16"),
    ("outcome", _LC),
    ("url", "String"),
    ("http_status", "UInt16"),
    ("error", "String"),
    ("duration_ms", "UInt32"),
    ("at", _TS),
)

TABLES: Final = {"clicks": CLICKS, "conversions": CONVERSIONS, "events": EVENTS,
                 "postback_deliveries": POSTBACK_DELIVERIES}
