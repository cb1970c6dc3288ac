-- The governor (SPEC §11): the occasions it has acted on, each claimed once in the
-- transaction that acts (governor/once.py), so no action runs twice: not after a retried
-- pass, not after a leader was killed halfway, not when a second governor takes over.

CREATE TABLE governor_actions (
    key text PRIMARY KEY,
    workspace_id slug NOT NULL,
    kind text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX governor_actions_workspace_at ON governor_actions (workspace_id, at);
COMMENT ON TABLE governor_actions IS 'Every occasion the governor acted on, claimed once';
COMMENT ON COLUMN governor_actions.key IS
    'The occasion, e.g. budget:WS:CAMPAIGN:total:100 or schedule:WS:CAMPAIGN:end:MS';
COMMENT ON COLUMN governor_actions.workspace_id IS 'The workspace acted in';
COMMENT ON COLUMN governor_actions.kind IS
    'budget | click_cap | conversion_cap | schedule | automation | postback | webhook';
COMMENT ON COLUMN governor_actions.detail IS 'What triggered it and what was done';
COMMENT ON COLUMN governor_actions.at IS 'When the claim committed';
