-- Hourly click rollup fed by a materialized view on inserts into `clicks`.
--
-- Exactness: a materialized view sees every inserted block, including rows that
-- ReplacingMergeTree would later collapse. The rollup stays exact because duplicates never
-- reach `clicks` as new blocks: the consumer drops click ids already in `clicks` before it
-- inserts (one IN query per batch), and a retried identical batch carries the same
-- insert_deduplication_token, which ClickHouse drops for the table and its views alike.
-- Unique clicks are not rolled up: they are computed exactly at query time (ingest.queries).

CREATE TABLE IF NOT EXISTS clicks_hourly
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign id for roll-ups',
    hour DateTime('UTC') COMMENT 'Start of the UTC hour of the clicks',
    kind LowCardinality(String) COMMENT 'click | lp_click',
    is_bot Bool COMMENT 'Bot clicks are kept apart so reports can exclude them',
    graph_version UInt64 COMMENT 'Graph version that decided the clicks',
    rule_id LowCardinality(String) COMMENT 'Rule that decided the clicks',
    offer_id LowCardinality(String) COMMENT 'Offer id',
    lander_id LowCardinality(String) COMMENT 'Lander id',
    traffic_source_id LowCardinality(String) COMMENT 'Traffic source id',
    country LowCardinality(String) COMMENT 'Country (ISO-2)',
    device LowCardinality(String) COMMENT 'Device type',
    os LowCardinality(String) COMMENT 'Operating system family',
    browser LowCardinality(String) COMMENT 'Browser family',
    clicks UInt64 COMMENT 'Number of clicks in the group',
    cost_micros Int64 COMMENT 'Sum of click-time cost (cpc, cpm, url_param) in micros'
)
ENGINE = SummingMergeTree((clicks, cost_micros))
PARTITION BY toYYYYMM(hour)
ORDER BY (workspace_id, campaign_id, hour, kind, is_bot, graph_version, rule_id, offer_id,
          lander_id, traffic_source_id, country, device, os, browser, parent_campaign_id)
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Clicks and click cost per hour and main dimensions; sum() the counters when reading';

CREATE MATERIALIZED VIEW IF NOT EXISTS clicks_hourly_mv TO clicks_hourly
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign id',
    parent_campaign_id LowCardinality(String) COMMENT 'Parent campaign id for roll-ups',
    hour DateTime('UTC') COMMENT 'Start of the UTC hour of the clicks',
    kind LowCardinality(String) COMMENT 'click | lp_click',
    is_bot Bool COMMENT 'Bot clicks are kept apart so reports can exclude them',
    graph_version UInt64 COMMENT 'Graph version that decided the clicks',
    rule_id LowCardinality(String) COMMENT 'Rule that decided the clicks',
    offer_id LowCardinality(String) COMMENT 'Offer id',
    lander_id LowCardinality(String) COMMENT 'Lander id',
    traffic_source_id LowCardinality(String) COMMENT 'Traffic source id',
    country LowCardinality(String) COMMENT 'Country (ISO-2)',
    device LowCardinality(String) COMMENT 'Device type',
    os LowCardinality(String) COMMENT 'Operating system family',
    browser LowCardinality(String) COMMENT 'Browser family',
    clicks UInt64 COMMENT 'Number of clicks in the group',
    cost_micros Int64 COMMENT 'Sum of click-time cost in micros'
)
AS SELECT
    workspace_id, campaign_id, parent_campaign_id,
    toStartOfHour(ts) AS hour,
    kind, is_bot, graph_version, rule_id, offer_id, lander_id, traffic_source_id,
    country, device, os, browser,
    count() AS clicks,
    sum(cost_micros) AS cost_micros
FROM clicks
GROUP BY workspace_id, campaign_id, parent_campaign_id, hour, kind, is_bot, graph_version,
         rule_id, offer_id, lander_id, traffic_source_id, country, device, os, browser;
