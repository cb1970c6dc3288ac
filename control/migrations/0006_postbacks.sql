-- Postbacks to traffic sources (SPEC §11): what a source wants reported, and the delivery
-- state of every postback the governor owes (governor/postbacks.py).

ALTER TABLE traffic_sources
    ADD COLUMN postback_statuses text[] NOT NULL DEFAULT '{approved}'
        CONSTRAINT traffic_sources_postback_statuses_known CHECK (
            cardinality(postback_statuses) > 0
            AND postback_statuses <@ ARRAY['approved', 'pending', 'declined', 'chargeback']),
    ADD COLUMN payout_percent amount NOT NULL DEFAULT 100
        CONSTRAINT traffic_sources_payout_percent_range CHECK (payout_percent <= 100),
    ADD COLUMN postback_percent amount NOT NULL DEFAULT 100
        CONSTRAINT traffic_sources_postback_percent_range CHECK (postback_percent <= 100);
COMMENT ON COLUMN traffic_sources.postback_url IS
    'Template of the postback the governor sends the source for each conversion it wants';
COMMENT ON COLUMN traffic_sources.postback_statuses IS
    'Conversion statuses reported to the source (approved | pending | declined | chargeback)';
COMMENT ON COLUMN traffic_sources.payout_percent IS
    'The share of the payout reported as {payout}, 0..100';
COMMENT ON COLUMN traffic_sources.postback_percent IS
    'The share of conversions reported at all, 0..100, chosen by a hash of each conversion';

-- One row per postback owed: a conversion (click_id, txid) in a status its source wants.
-- The claim-send-record cycle: pending (due at next_at_ms) -> sending (attempt claimed,
-- committed before the request leaves; next_at_ms is then the claim's expiry) -> delivered
-- | pending (a retry, due at next_at_ms) | failed. skipped: left out by postback_percent.
-- delivered, failed and skipped are final: nothing ever sends them again.
CREATE TABLE postbacks (
    workspace_id slug NOT NULL,
    click_id text NOT NULL,
    txid text NOT NULL,
    status text NOT NULL CONSTRAINT postbacks_status_known
        CHECK (status IN ('approved', 'pending', 'declined', 'chargeback')),
    traffic_source_id slug NOT NULL,
    campaign_id text NOT NULL,
    state text NOT NULL CONSTRAINT postbacks_state_known
        CHECK (state IN ('pending', 'sending', 'delivered', 'failed', 'skipped')),
    attempts integer NOT NULL DEFAULT 0 CONSTRAINT postbacks_attempts_range
        CHECK (attempts >= 0),
    url text CONSTRAINT postbacks_url_unless_skipped CHECK ((url IS NULL) = (state = 'skipped')),
    created_ms bigint NOT NULL,
    next_at_ms bigint NOT NULL,
    http_status integer,
    error text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, click_id, txid, status),
    CONSTRAINT postbacks_sent_state CHECK (state IN ('pending', 'skipped') OR attempts > 0)
);
CREATE INDEX postbacks_due ON postbacks (next_at_ms) WHERE state IN ('pending', 'sending');
COMMENT ON TABLE postbacks IS
    'Postbacks owed to traffic sources and where each stands; one per conversion and status';
COMMENT ON COLUMN postbacks.workspace_id IS 'The workspace of the conversion';
COMMENT ON COLUMN postbacks.click_id IS 'The conversion''s click id';
COMMENT ON COLUMN postbacks.txid IS 'The conversion''s transaction id';
COMMENT ON COLUMN postbacks.status IS 'The conversion status reported';
COMMENT ON COLUMN postbacks.traffic_source_id IS 'The traffic source it is sent to';
COMMENT ON COLUMN postbacks.campaign_id IS 'The campaign of the click';
COMMENT ON COLUMN postbacks.state IS
    'pending | sending (an attempt is out) | delivered | failed | skipped (postback_percent)';
COMMENT ON COLUMN postbacks.attempts IS 'Attempts claimed so far (the one out counts)';
COMMENT ON COLUMN postbacks.url IS
    'The filled postback URL, fixed when the postback was first owed; NULL when skipped';
COMMENT ON COLUMN postbacks.created_ms IS
    'When the governor found it owed (epoch ms); the retry window counts from here';
COMMENT ON COLUMN postbacks.next_at_ms IS
    'pending: when the next attempt is due; sending: when the claim expires (epoch ms)';
COMMENT ON COLUMN postbacks.http_status IS 'HTTP status of the last answer; NULL when none';
COMMENT ON COLUMN postbacks.error IS 'What went wrong on the last attempt; empty when nothing';
COMMENT ON COLUMN postbacks.updated_at IS 'When the row last changed';
