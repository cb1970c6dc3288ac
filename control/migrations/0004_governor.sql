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

-- Notifications waiting to be sent as signed webhooks (governor/notify.py writes them in
-- the transaction of the action they report; governor/webhooks.py delivers them).
CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text NOT NULL UNIQUE,
    workspace_id slug NOT NULL,
    event text NOT NULL,
    data jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_workspace ON notifications (workspace_id, id);
COMMENT ON TABLE notifications IS 'Events the governor reports to webhooks, one row each';
COMMENT ON COLUMN notifications.id IS 'Order of the events; webhook deliveries follow it';
COMMENT ON COLUMN notifications.key IS 'The occasion it reports: written once per occasion';
COMMENT ON COLUMN notifications.workspace_id IS 'The workspace whose webhooks receive it';
COMMENT ON COLUMN notifications.event IS
    'budget.threshold | cap.reached | cap.lifted | automation.action | campaign.transition';
COMMENT ON COLUMN notifications.data IS 'The JSON body''s data: what happened, with ids';
COMMENT ON COLUMN notifications.at IS 'When the event was recorded';
