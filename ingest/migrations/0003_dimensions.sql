-- Names of graph entities per published graph version, so a report can show the name a
-- thing had when the click happened (join on id + graph_version) or its name today (the
-- *_latest views). Written by ingest.dimensions.write_dimensions on every publish.

CREATE TABLE IF NOT EXISTS dim_campaigns
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Campaign id',
    graph_version UInt64 COMMENT 'Graph version this row describes',
    name String COMMENT 'Campaign name in that version',
    code String COMMENT 'Tracking code in that version',
    parent_id String COMMENT 'Parent campaign id; empty when none',
    traffic_source_id String COMMENT 'Traffic source id',
    cost_model LowCardinality(String) COMMENT 'cpc | url_param | cpm | cpa | revshare | fixed_total',
    cost_rate_micros Int64 COMMENT 'Cost value x 1e6 (money micros, or percent x 1e6 for revshare)',
    attribution_window_ms UInt64 COMMENT 'Attribution window in ms',
    unique_window_ms UInt64 COMMENT 'Unique-click window in ms'
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, id, graph_version)
COMMENT 'Campaign names and terms per graph version';

CREATE TABLE IF NOT EXISTS dim_offers
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Offer id',
    graph_version UInt64 COMMENT 'Graph version this row describes',
    name String COMMENT 'Offer name in that version',
    network_id String COMMENT 'Affiliate network id',
    payout_micros Int64 COMMENT 'Default payout in micros',
    currency LowCardinality(String) COMMENT 'Default payout currency'
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, id, graph_version)
COMMENT 'Offer names per graph version';

CREATE TABLE IF NOT EXISTS dim_landers
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Lander id',
    graph_version UInt64 COMMENT 'Graph version this row describes',
    name String COMMENT 'Lander name in that version'
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, id, graph_version)
COMMENT 'Lander names per graph version';

CREATE TABLE IF NOT EXISTS dim_sources
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Traffic source id',
    graph_version UInt64 COMMENT 'Graph version this row describes',
    name String COMMENT 'Traffic source name in that version'
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, id, graph_version)
COMMENT 'Traffic source names per graph version';

CREATE TABLE IF NOT EXISTS dim_networks
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    id String COMMENT 'Affiliate network id',
    graph_version UInt64 COMMENT 'Graph version this row describes',
    name String COMMENT 'Network name in that version'
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, id, graph_version)
COMMENT 'Affiliate network names per graph version';
