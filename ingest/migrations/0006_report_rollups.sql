-- Report rollups: the click side of a report reads one of these instead of raw `clicks`
-- when the report's dimensions are among the rollup's keys (ingest/reports/rollups.py).
-- clicks_geo buckets by UTC hour (local days of whole-hour zones); clicks_wide by UTC
-- quarter hour, whole local hours and days in every zone (India +5:30, Nepal +5:45).
-- The kinds are folded into the sums (lp_views, lp_clicks),
-- so one row carries what a report needs; bots stay a key so they can be in or out.
--
-- Exactness: as for clicks_hourly (0002): duplicates never reach `clicks` as new blocks,
-- so the materialized views see each click once. The INSERT ... SELECT lines fill the
-- rollups from the clicks already stored; run `turnout migrate` with ingest stopped (as
-- `turnout ingest` does before it consumes), or clicks landing in between count twice.
--
-- clicks_hourly (0002) has no unique clicks and cannot get them (a SummingMergeTree's
-- summed columns are fixed); nothing in turnout reads it any more. It keeps being fed for
-- SQL users until a later migration drops clicks_hourly_mv and clicks_hourly.

-- Campaign x country: the common reports (campaign, parent, country, date, hour).
CREATE TABLE IF NOT EXISTS clicks_geo
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign id for roll-ups; empty when none',
    bucket DateTime('UTC') COMMENT 'Start of the UTC hour of the clicks',
    is_bot Bool COMMENT 'Bot clicks are kept apart so reports can exclude them',
    country LowCardinality(String) COMMENT 'Country (ISO-2)',
    clicks UInt64 COMMENT 'Campaign clicks (kind = click)',
    unique_clicks UInt64 COMMENT 'Campaign clicks flagged is_unique',
    lp_views UInt64 COMMENT 'Campaign clicks sent to a lander (lander_id not empty)',
    lp_clicks UInt64 COMMENT 'Lander to offer clicks (kind = lp_click)',
    cost_micros Int64 COMMENT 'Click-time cost of the campaign clicks in micros',
    fixed_clicks UInt64 COMMENT 'Campaign clicks under the fixed_total cost model (their share of the total is spread at query time)'
)
ENGINE = SummingMergeTree((clicks, unique_clicks, lp_views, lp_clicks, cost_micros, fixed_clicks))
PARTITION BY toYYYYMM(bucket)
ORDER BY (workspace_id, campaign_id, parent_campaign_id, bucket, is_bot, country)
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Clicks per campaign, country and UTC hour; sum() the counters when reading';

CREATE MATERIALIZED VIEW IF NOT EXISTS clicks_geo_mv TO clicks_geo
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign id for roll-ups; empty when none',
    bucket DateTime('UTC') COMMENT 'Start of the UTC hour of the clicks',
    is_bot Bool COMMENT 'Bot clicks are kept apart so reports can exclude them',
    country LowCardinality(String) COMMENT 'Country (ISO-2)',
    clicks UInt64 COMMENT 'Campaign clicks (kind = click)',
    unique_clicks UInt64 COMMENT 'Campaign clicks flagged is_unique',
    lp_views UInt64 COMMENT 'Campaign clicks sent to a lander (lander_id not empty)',
    lp_clicks UInt64 COMMENT 'Lander to offer clicks (kind = lp_click)',
    cost_micros Int64 COMMENT 'Click-time cost of the campaign clicks in micros',
    fixed_clicks UInt64 COMMENT 'Campaign clicks under the fixed_total cost model (their share of the total is spread at query time)'
)
AS SELECT
    workspace_id,
    campaign_id,
    parent_campaign_id,
    toStartOfHour(ts) AS bucket,
    is_bot,
    country,
    countIf(kind = 'click') AS clicks,
    sumIf(is_unique, kind = 'click') AS unique_clicks,
    countIf(kind = 'click' AND lander_id != '') AS lp_views,
    countIf(kind = 'lp_click') AS lp_clicks,
    sumIf(cost_micros, kind = 'click') AS cost_micros,
    countIf(kind = 'click' AND cost_model = 'fixed_total') AS fixed_clicks
FROM clicks
GROUP BY workspace_id, campaign_id, parent_campaign_id, bucket, is_bot, country;

INSERT INTO clicks_geo
SELECT
    workspace_id,
    campaign_id,
    parent_campaign_id,
    toStartOfHour(ts) AS bucket,
    is_bot,
    country,
    countIf(kind = 'click') AS clicks,
    sumIf(is_unique, kind = 'click') AS unique_clicks,
    countIf(kind = 'click' AND lander_id != '') AS lp_views,
    countIf(kind = 'lp_click') AS lp_clicks,
    sumIf(cost_micros, kind = 'click') AS cost_micros,
    countIf(kind = 'click' AND cost_model = 'fixed_total') AS fixed_clicks
FROM clicks
GROUP BY workspace_id, campaign_id, parent_campaign_id, bucket, is_bot, country;

-- Every dimension a click decides besides geo below country, language and sub-ids.
CREATE TABLE IF NOT EXISTS clicks_wide
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign id for roll-ups; empty when none',
    bucket DateTime('UTC') COMMENT 'Start of the UTC quarter hour of the clicks',
    is_bot Bool COMMENT 'Bot clicks are kept apart so reports can exclude them',
    country LowCardinality(String) COMMENT 'Country (ISO-2)',
    graph_version UInt64 COMMENT 'Graph version that decided the clicks',
    rule_id LowCardinality(String) COMMENT 'Rule that decided the clicks',
    destination_id LowCardinality(String) COMMENT 'Destination chosen within the rule',
    offer_id LowCardinality(String) COMMENT 'Offer id',
    lander_id LowCardinality(String) COMMENT 'Lander id',
    funnel_id LowCardinality(String) COMMENT 'Funnel id',
    funnel_step UInt8 COMMENT 'Step within the funnel',
    traffic_source_id LowCardinality(String) COMMENT 'Traffic source id',
    network_id LowCardinality(String) COMMENT 'Affiliate network id',
    device LowCardinality(String) COMMENT 'Device type',
    os LowCardinality(String) COMMENT 'Operating system family',
    browser LowCardinality(String) COMMENT 'Browser family',
    clicks UInt64 COMMENT 'Campaign clicks (kind = click)',
    unique_clicks UInt64 COMMENT 'Campaign clicks flagged is_unique',
    lp_views UInt64 COMMENT 'Campaign clicks sent to a lander (lander_id not empty)',
    lp_clicks UInt64 COMMENT 'Lander to offer clicks (kind = lp_click)',
    cost_micros Int64 COMMENT 'Click-time cost of the campaign clicks in micros',
    fixed_clicks UInt64 COMMENT 'Campaign clicks under the fixed_total cost model (their share of the total is spread at query time)'
)
ENGINE = SummingMergeTree((clicks, unique_clicks, lp_views, lp_clicks, cost_micros, fixed_clicks))
PARTITION BY toYYYYMM(bucket)
ORDER BY (workspace_id, campaign_id, parent_campaign_id, bucket, is_bot, country, graph_version, rule_id, destination_id, offer_id, lander_id, funnel_id, funnel_step, traffic_source_id, network_id, device, os, browser)
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Clicks per main dimension and UTC quarter hour; sum() the counters when reading';

CREATE MATERIALIZED VIEW IF NOT EXISTS clicks_wide_mv TO clicks_wide
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign id for roll-ups; empty when none',
    bucket DateTime('UTC') COMMENT 'Start of the UTC quarter hour of the clicks',
    is_bot Bool COMMENT 'Bot clicks are kept apart so reports can exclude them',
    country LowCardinality(String) COMMENT 'Country (ISO-2)',
    graph_version UInt64 COMMENT 'Graph version that decided the clicks',
    rule_id LowCardinality(String) COMMENT 'Rule that decided the clicks',
    destination_id LowCardinality(String) COMMENT 'Destination chosen within the rule',
    offer_id LowCardinality(String) COMMENT 'Offer id',
    lander_id LowCardinality(String) COMMENT 'Lander id',
    funnel_id LowCardinality(String) COMMENT 'Funnel id',
    funnel_step UInt8 COMMENT 'Step within the funnel',
    traffic_source_id LowCardinality(String) COMMENT 'Traffic source id',
    network_id LowCardinality(String) COMMENT 'Affiliate network id',
    device LowCardinality(String) COMMENT 'Device type',
    os LowCardinality(String) COMMENT 'Operating system family',
    browser LowCardinality(String) COMMENT 'Browser family',
    clicks UInt64 COMMENT 'Campaign clicks (kind = click)',
    unique_clicks UInt64 COMMENT 'Campaign clicks flagged is_unique',
    lp_views UInt64 COMMENT 'Campaign clicks sent to a lander (lander_id not empty)',
    lp_clicks UInt64 COMMENT 'Lander to offer clicks (kind = lp_click)',
    cost_micros Int64 COMMENT 'Click-time cost of the campaign clicks in micros',
    fixed_clicks UInt64 COMMENT 'Campaign clicks under the fixed_total cost model (their share of the total is spread at query time)'
)
AS SELECT
    workspace_id,
    campaign_id,
    parent_campaign_id,
    toStartOfFifteenMinutes(ts) AS bucket,
    is_bot,
    country,
    graph_version,
    rule_id,
    destination_id,
    offer_id,
    lander_id,
    funnel_id,
    funnel_step,
    traffic_source_id,
    network_id,
    device,
    os,
    browser,
    countIf(kind = 'click') AS clicks,
    sumIf(is_unique, kind = 'click') AS unique_clicks,
    countIf(kind = 'click' AND lander_id != '') AS lp_views,
    countIf(kind = 'lp_click') AS lp_clicks,
    sumIf(cost_micros, kind = 'click') AS cost_micros,
    countIf(kind = 'click' AND cost_model = 'fixed_total') AS fixed_clicks
FROM clicks
GROUP BY workspace_id, campaign_id, parent_campaign_id, bucket, is_bot, country, graph_version, rule_id, destination_id, offer_id, lander_id, funnel_id, funnel_step, traffic_source_id, network_id, device, os, browser;

INSERT INTO clicks_wide
SELECT
    workspace_id,
    campaign_id,
    parent_campaign_id,
    toStartOfFifteenMinutes(ts) AS bucket,
    is_bot,
    country,
    graph_version,
    rule_id,
    destination_id,
    offer_id,
    lander_id,
    funnel_id,
    funnel_step,
    traffic_source_id,
    network_id,
    device,
    os,
    browser,
    countIf(kind = 'click') AS clicks,
    sumIf(is_unique, kind = 'click') AS unique_clicks,
    countIf(kind = 'click' AND lander_id != '') AS lp_views,
    countIf(kind = 'lp_click') AS lp_clicks,
    sumIf(cost_micros, kind = 'click') AS cost_micros,
    countIf(kind = 'click' AND cost_model = 'fixed_total') AS fixed_clicks
FROM clicks
GROUP BY workspace_id, campaign_id, parent_campaign_id, bucket, is_bot, country, graph_version, rule_id, destination_id, offer_id, lander_id, funnel_id, funnel_step, traffic_source_id, network_id, device, os, browser;

-- Fixed-total campaigns: the total (the rate of the latest human click) and the number of
-- human clicks ever, over which the total is spread.
CREATE TABLE IF NOT EXISTS fixed_cost_terms
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    clicks SimpleAggregateFunction(sum, UInt64) COMMENT 'Human campaign clicks under fixed_total, all time',
    total_micros AggregateFunction(argMax, Int64, DateTime64(3, 'UTC')) COMMENT 'cost_rate_micros of the latest such click: read with argMaxMerge'
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace_id, campaign_id)
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Terms of fixed_total campaigns for spreading their total over clicks';

CREATE MATERIALIZED VIEW IF NOT EXISTS fixed_cost_terms_mv TO fixed_cost_terms
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    clicks SimpleAggregateFunction(sum, UInt64) COMMENT 'Human campaign clicks under fixed_total',
    total_micros AggregateFunction(argMax, Int64, DateTime64(3, 'UTC')) COMMENT 'cost_rate_micros of the latest such click'
)
AS SELECT workspace_id, campaign_id, count() AS clicks, argMaxState(cost_rate_micros, ts) AS total_micros
FROM clicks
WHERE kind = 'click' AND NOT is_bot AND cost_model = 'fixed_total'
GROUP BY workspace_id, campaign_id;

INSERT INTO fixed_cost_terms
SELECT workspace_id, campaign_id, count() AS clicks, argMaxState(cost_rate_micros, ts) AS total_micros
FROM clicks
WHERE kind = 'click' AND NOT is_bot AND cost_model = 'fixed_total'
GROUP BY workspace_id, campaign_id;
