-- Postbacks to traffic sources (SPEC §11): one row per attempt the governor made
-- (governor/postbacks.py), written after the attempt's outcome is recorded in PostgreSQL.
-- The delivery state itself lives in PostgreSQL (table postbacks); this is the history
-- analysts and the delivery-rate report read. A re-written row collapses on its key.

CREATE TABLE IF NOT EXISTS postback_deliveries
(
    workspace_id LowCardinality(String) COMMENT 'Tenant id',
    campaign_id LowCardinality(String) COMMENT 'Campaign of the converting click',
    traffic_source_id LowCardinality(String) COMMENT 'Traffic source the postback was sent to',
    click_id String COMMENT 'Click id of the conversion',
    txid String COMMENT 'Transaction id of the conversion; (click_id, txid, status) is one postback',
    status LowCardinality(String) COMMENT 'Conversion status reported: approved | pending | declined | chargeback',
    attempt UInt16 COMMENT 'Attempt number of this postback, from 1',
    outcome LowCardinality(String) COMMENT 'delivered | retry (another attempt is scheduled) | failed (given up: a 4xx answer, or out of attempts or time)',
    url String COMMENT 'The URL requested (the source''s own template, filled)',
    http_status UInt16 COMMENT 'HTTP status of the answer; 0 when there was none (timeout, connection error, interrupted)',
    error String COMMENT 'What went wrong; empty when delivered',
    duration_ms UInt32 COMMENT 'How long the request took, ms',
    at DateTime64(3, 'UTC') COMMENT 'When the attempt started (UTC, ms)'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (workspace_id, campaign_id, traffic_source_id, click_id, txid, status, attempt)
COMMENT 'Every attempt to send a postback to a traffic source, with its outcome';
