-- Reporting views. conversions_latest applies the latest-status-wins rule (FINAL) and
-- the revenue rule: only approved, attributed, in-window conversions carry revenue.
-- A status change (approved -> chargeback) replaces the earlier row, removing its revenue.

CREATE VIEW IF NOT EXISTS conversions_latest
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
    revenue_micros Int64 COMMENT 'payout_micros when approved, attributed and in window; else 0',
    counted Bool COMMENT '1 when the conversion counts in reports: attributed and in window'
)
AS SELECT
    schema_version,
    conversion_id,
    click_id,
    visitor_id,
    txid,
    status,
    event,
    payout_micros,
    currency,
    ts,
    source,
    version,
    attributed,
    attribution,
    in_window,
    click_ts,
    click_kind,
    workspace_id,
    campaign_id,
    parent_campaign_id,
    campaign_code,
    graph_version,
    rule_id,
    destination_id,
    destination_kind,
    offer_id,
    lander_id,
    funnel_id,
    funnel_step,
    traffic_source_id,
    network_id,
    country,
    region,
    city,
    device,
    os,
    browser,
    language,
    is_bot,
    cost_model,
    cost_rate_micros,
    sub1,
    sub2,
    sub3,
    sub4,
    sub5,
    sub6,
    sub7,
    sub8,
    sub9,
    sub10,
    external_id,
    if(status = 'approved' AND attributed AND in_window, payout_micros, 0) AS revenue_micros,
    attributed AND in_window AS counted
FROM conversions FINAL;

CREATE VIEW IF NOT EXISTS dim_campaigns_latest
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Entity id',
    graph_version UInt64 COMMENT 'Latest graph version that contains the entity',
    name String COMMENT 'Campaign name in the latest version',
    code String COMMENT 'Tracking code in the latest version',
    parent_id String COMMENT 'Parent campaign id in the latest version'
)
AS SELECT workspace_id, id, max(graph_version) AS graph_version, argMax(name, dim_campaigns.graph_version) AS name, argMax(code, dim_campaigns.graph_version) AS code, argMax(parent_id, dim_campaigns.graph_version) AS parent_id
FROM dim_campaigns
GROUP BY workspace_id, id;

CREATE VIEW IF NOT EXISTS dim_offers_latest
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Entity id',
    graph_version UInt64 COMMENT 'Latest graph version that contains the entity',
    name String COMMENT 'Offer name in the latest version'
)
AS SELECT workspace_id, id, max(graph_version) AS graph_version, argMax(name, dim_offers.graph_version) AS name
FROM dim_offers
GROUP BY workspace_id, id;

CREATE VIEW IF NOT EXISTS dim_landers_latest
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Entity id',
    graph_version UInt64 COMMENT 'Latest graph version that contains the entity',
    name String COMMENT 'Lander name in the latest version'
)
AS SELECT workspace_id, id, max(graph_version) AS graph_version, argMax(name, dim_landers.graph_version) AS name
FROM dim_landers
GROUP BY workspace_id, id;

CREATE VIEW IF NOT EXISTS dim_sources_latest
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Entity id',
    graph_version UInt64 COMMENT 'Latest graph version that contains the entity',
    name String COMMENT 'Traffic source name in the latest version'
)
AS SELECT workspace_id, id, max(graph_version) AS graph_version, argMax(name, dim_sources.graph_version) AS name
FROM dim_sources
GROUP BY workspace_id, id;

CREATE VIEW IF NOT EXISTS dim_networks_latest
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Entity id',
    graph_version UInt64 COMMENT 'Latest graph version that contains the entity',
    name String COMMENT 'Network name in the latest version'
)
AS SELECT workspace_id, id, max(graph_version) AS graph_version, argMax(name, dim_networks.graph_version) AS name
FROM dim_networks
GROUP BY workspace_id, id;
