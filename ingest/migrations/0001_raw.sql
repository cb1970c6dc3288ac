-- Raw event tables. Table names are unqualified: `turnout migrate` runs every file in the
-- target database. ReplacingMergeTree on the natural key is the backstop against replays;
-- reports read with FINAL (or LIMIT 1 BY / argMax) where a duplicate could still be unmerged.

CREATE TABLE IF NOT EXISTS clicks
(
    schema_version UInt8 COMMENT 'Event schema version the edge wrote (turnout.events.SCHEMA_VERSION)',
    kind LowCardinality(String) COMMENT 'click = campaign click; lp_click = lander to offer click',
    click_id String COMMENT 'Click id: 26 chars Crockford base32, 48-bit ms timestamp + 80 random bits',
    parent_click_id String COMMENT 'For lp_click: the campaign click it continues; empty otherwise',
    ts DateTime64(3, 'UTC') COMMENT 'When the edge counted the click (UTC, ms)',
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign id for roll-ups; empty when none',
    campaign_code LowCardinality(String) COMMENT 'Tracking code the visitor hit (/c/{code})',
    graph_version UInt64 COMMENT 'Published campaign graph version that decided the click',
    rule_id LowCardinality(String) COMMENT 'Rule that matched; "default" for the default path',
    destination_id LowCardinality(String) COMMENT 'Weighted destination chosen within the rule',
    destination_kind LowCardinality(String) COMMENT 'offer | lander | funnel | url',
    offer_id LowCardinality(String) COMMENT 'Offer id; empty when the destination is not an offer',
    lander_id LowCardinality(String) COMMENT 'Lander id; empty when no lander',
    funnel_id LowCardinality(String) COMMENT 'Funnel id; empty when no funnel',
    funnel_step UInt8 COMMENT 'Step within the funnel, 0 when not in a funnel',
    traffic_source_id LowCardinality(String) COMMENT 'Traffic source of the campaign',
    network_id LowCardinality(String) COMMENT 'Affiliate network of the offer; empty when none',
    country LowCardinality(String) COMMENT 'ISO-3166 alpha-2 country from GeoIP; empty when unknown',
    region LowCardinality(String) COMMENT 'Region (subdivision) from GeoIP',
    city LowCardinality(String) COMMENT 'City from GeoIP',
    asn UInt32 COMMENT 'Autonomous system number from GeoIP, 0 when unknown',
    device LowCardinality(String) COMMENT 'desktop | mobile | tablet',
    os LowCardinality(String) COMMENT 'Operating system family',
    browser LowCardinality(String) COMMENT 'Browser family',
    language LowCardinality(String) COMMENT 'Primary Accept-Language tag',
    ip String COMMENT 'Visitor IP, anonymised (IPv4 /24, IPv6 /48) unless the workspace opted in',
    user_agent String COMMENT 'User-Agent header',
    referrer_domain String COMMENT 'Host of the Referer header',
    visitor_id String COMMENT 'Visitor id (tv cookie), the key of unique clicks and visitor attribution',
    is_bot Bool COMMENT 'Flagged as a bot; excluded from reports unless asked for',
    bot_reason LowCardinality(String) COMMENT 'Why the click was flagged as a bot',
    cost_micros Int64 COMMENT 'Cost decided at the click (cpc, cpm, url_param) in micros of workspace currency',
    cost_model LowCardinality(String) COMMENT 'Campaign cost model at click time: cpc | url_param | cpm | cpa | revshare | fixed_total',
    cost_rate_micros Int64 COMMENT 'cpa: micros per approved conversion; revshare: percent x 1e6; fixed_total: campaign total micros',
    attribution_window_ms UInt64 COMMENT 'Campaign attribution window at click time in ms; 0 = default 30 days',
    unique_window_ms UInt64 COMMENT 'Campaign unique-click window at click time in ms; 0 = default 24 hours',
    sub1 String COMMENT 'Traffic source token sub1',
    sub2 String COMMENT 'Traffic source token sub2',
    sub3 String COMMENT 'Traffic source token sub3',
    sub4 String COMMENT 'Traffic source token sub4',
    sub5 String COMMENT 'Traffic source token sub5',
    sub6 String COMMENT 'Traffic source token sub6',
    sub7 String COMMENT 'Traffic source token sub7',
    sub8 String COMMENT 'Traffic source token sub8',
    sub9 String COMMENT 'Traffic source token sub9',
    sub10 String COMMENT 'Traffic source token sub10',
    external_id String COMMENT 'The traffic source''s own click id',
    params Map(String, String) COMMENT 'Other query parameters of the click URL',
    INDEX idx_click_id click_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_visitor_id visitor_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_ts ts TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (workspace_id, campaign_id, toDate(ts), click_id)
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'One row per counted click (campaign and LP clicks); a replayed click id collapses';

CREATE TABLE IF NOT EXISTS conversions
(
    schema_version UInt8 COMMENT 'Event schema version the edge wrote',
    conversion_id String COMMENT 'Id the edge gave the accepted postback/pixel/API request',
    click_id String COMMENT 'Attributed click id (as received, or the last-touch click of the visitor)',
    visitor_id String COMMENT 'Visitor id for visitor-based conversions; empty for click-id postbacks',
    txid String COMMENT 'Network transaction id; (click_id, txid) is the conversion identity',
    status LowCardinality(String) COMMENT 'approved | pending | declined | chargeback; the latest status wins',
    event LowCardinality(String) COMMENT 'sale | lead | custom event name',
    payout_micros Int64 COMMENT 'Payout in micros of the conversion currency',
    currency LowCardinality(String) COMMENT 'Payout currency (ISO 4217)',
    ts DateTime64(3, 'UTC') COMMENT 'When the edge accepted the conversion (UTC, ms)',
    source LowCardinality(String) COMMENT 'postback | pixel | api',
    version UInt64 COMMENT 'ReplacingMergeTree version: ts ms x 8 + status rank, so a later status replaces',
    attributed Bool COMMENT '1 when the conversion was matched to a click; 0 rows are kept out of revenue',
    attribution LowCardinality(String) COMMENT 'click_id | visitor | none: how the click was found',
    in_window Bool COMMENT '1 when the conversion came within the campaign attribution window of its click',
    click_ts DateTime64(3, 'UTC') COMMENT 'Time of the attributed click; epoch when unattributed',
    click_kind LowCardinality(String) COMMENT 'Kind of the attributed click row (click | lp_click)',
    workspace_id LowCardinality(String) COMMENT 'Tenant id (of the click, else as the conversion said)',
    campaign_id LowCardinality(String) COMMENT 'Campaign of the click (or the conversion''s hint when unattributed)',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign of the click',
    campaign_code LowCardinality(String) COMMENT 'Tracking code of the click',
    graph_version UInt64 COMMENT 'Graph version that decided the click',
    rule_id LowCardinality(String) COMMENT 'Rule that decided the click',
    destination_id LowCardinality(String) COMMENT 'Destination chosen for the click',
    destination_kind LowCardinality(String) COMMENT 'offer | lander | funnel | url',
    offer_id LowCardinality(String) COMMENT 'Offer of the click',
    lander_id LowCardinality(String) COMMENT 'Lander of the click',
    funnel_id LowCardinality(String) COMMENT 'Funnel of the click',
    funnel_step UInt8 COMMENT 'Funnel step of the click',
    traffic_source_id LowCardinality(String) COMMENT 'Traffic source of the click',
    network_id LowCardinality(String) COMMENT 'Network that reported the conversion (else the click''s)',
    country LowCardinality(String) COMMENT 'Country of the click',
    region LowCardinality(String) COMMENT 'Region of the click',
    city LowCardinality(String) COMMENT 'City of the click',
    device LowCardinality(String) COMMENT 'Device type of the click',
    os LowCardinality(String) COMMENT 'OS of the click',
    browser LowCardinality(String) COMMENT 'Browser of the click',
    language LowCardinality(String) COMMENT 'Language of the click',
    is_bot Bool COMMENT 'The attributed click was flagged as a bot',
    cost_model LowCardinality(String) COMMENT 'Cost model of the click (cpa/revshare cost comes from conversions)',
    cost_rate_micros Int64 COMMENT 'Cost rate of the click: cpa micros per conversion, revshare percent x 1e6',
    sub1 String COMMENT 'sub1 of the click',
    sub2 String COMMENT 'sub2 of the click',
    sub3 String COMMENT 'sub3 of the click',
    sub4 String COMMENT 'sub4 of the click',
    sub5 String COMMENT 'sub5 of the click',
    sub6 String COMMENT 'sub6 of the click',
    sub7 String COMMENT 'sub7 of the click',
    sub8 String COMMENT 'sub8 of the click',
    sub9 String COMMENT 'sub9 of the click',
    sub10 String COMMENT 'sub10 of the click',
    external_id String COMMENT 'Traffic source click id of the click',
    INDEX idx_visitor_id visitor_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_txid txid TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(click_ts)
ORDER BY (workspace_id, campaign_id, click_id, txid)
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Conversions carrying their click''s dimensions; latest status per (click_id, txid) wins';

CREATE TABLE IF NOT EXISTS events
(
    schema_version UInt8 COMMENT 'Event schema version the edge wrote',
    event_id String COMMENT 'Id the edge gave the event',
    name LowCardinality(String) COMMENT 'Event name',
    visitor_id String COMMENT 'Visitor id (tv cookie) when known',
    click_id String COMMENT 'Click id when known',
    campaign_id LowCardinality(String) COMMENT 'Campaign id when known',
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    value_micros Int64 COMMENT 'Event value in micros',
    ts DateTime64(3, 'UTC') COMMENT 'When the edge accepted the event (UTC, ms)',
    source LowCardinality(String) COMMENT 'pixel | api',
    params Map(String, String) COMMENT 'Free-form event parameters'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (workspace_id, campaign_id, toDate(ts), event_id)
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'On-site events that are not conversions';
