-- Automation rules and signed webhooks (SPEC §11).
--
-- automation_rules: "when METRIC OP VALUE over the last N hours with at least M clicks, for
-- SCOPE do ACTION", per workspace, with a cooldown and a dry-run mode; their targets in
-- automation_rule_targets (composite foreign keys keep every target inside the rule's
-- workspace); every evaluation in automation_runs; when each item was last acted on in
-- automation_cooldowns. control/automation_rules.py writes them, governor/automation.py
-- evaluates the rules.
--
-- webhook_endpoints: where a workspace's notifications (0004's outbox) are POSTed, signed
-- with the endpoint's secret; webhook_deliveries: one row per (notification, endpoint), so
-- a restarted governor never sends a delivered notification again.
-- control/webhook_endpoints.py writes them, governor/webhooks.py delivers.

CREATE TABLE automation_rules (
    workspace_id text NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    id slug NOT NULL,
    name text NOT NULL CONSTRAINT automation_rules_name_present CHECK (btrim(name) <> ''),
    enabled boolean NOT NULL DEFAULT true,
    metric text NOT NULL CONSTRAINT automation_rules_metric_known CHECK (metric IN (
        'roi', 'cr', 'epc', 'cpa', 'cost', 'profit', 'clicks', 'conversions')),
    op text NOT NULL CONSTRAINT automation_rules_op_known
        CHECK (op IN ('<', '<=', '>', '>=', '=')),
    value numeric NOT NULL CONSTRAINT automation_rules_value_range
        CHECK (abs(value) < 1e15 AND scale(value) <= 6),
    window_hours integer NOT NULL
        CONSTRAINT automation_rules_window_hours CHECK (window_hours BETWEEN 1 AND 2160),
    min_clicks integer NOT NULL DEFAULT 0
        CONSTRAINT automation_rules_min_clicks CHECK (min_clicks >= 0),
    scope text NOT NULL CONSTRAINT automation_rules_scope_known
        CHECK (scope IN ('campaign', 'offer', 'lander', 'destination')),
    action text NOT NULL CONSTRAINT automation_rules_action_known
        CHECK (action IN ('pause', 'activate', 'set_weight', 'notify')),
    weight integer CONSTRAINT automation_rules_weight_range CHECK (weight >= 0),
    cooldown_minutes integer NOT NULL DEFAULT 60
        CONSTRAINT automation_rules_cooldown CHECK (cooldown_minutes BETWEEN 0 AND 525600),
    dry_run boolean NOT NULL DEFAULT false,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    -- Targets carry the scope: a target of another scope cannot point at the rule.
    UNIQUE (workspace_id, id, scope),
    CONSTRAINT automation_rules_weight_for_set_weight
        CHECK ((action = 'set_weight') = (weight IS NOT NULL)),
    -- A campaign's weights live on its destinations: it has none to set.
    CONSTRAINT automation_rules_set_weight_scope
        CHECK (action <> 'set_weight' OR scope <> 'campaign')
);
CREATE TRIGGER automation_rules_first_revision BEFORE INSERT ON automation_rules
    FOR EACH ROW EXECUTE FUNCTION first_revision();
CREATE TRIGGER automation_rules_bump_revision BEFORE UPDATE ON automation_rules
    FOR EACH ROW EXECUTE FUNCTION bump_revision();
COMMENT ON TABLE automation_rules IS
    'when METRIC OP VALUE over the last window_hours with >= min_clicks clicks, for each '
    'target of SCOPE, do ACTION (governor/automation.py)';
COMMENT ON COLUMN automation_rules.workspace_id IS 'The workspace it belongs to and acts in';
COMMENT ON COLUMN automation_rules.id IS 'Slug, unique within the workspace';
COMMENT ON COLUMN automation_rules.name IS 'What people call it';
COMMENT ON COLUMN automation_rules.enabled IS 'false: never evaluated';
COMMENT ON COLUMN automation_rules.metric IS
    'A report metric (reports/metrics.py): roi | cr | epc | cpa | cost | profit | clicks | '
    'conversions';
COMMENT ON COLUMN automation_rules.op IS 'How the metric is compared with value';
COMMENT ON COLUMN automation_rules.value IS
    'The threshold, in the metric''s unit: percent for roi and cr, workspace currency for '
    'epc, cpa, cost and profit, a count for clicks and conversions';
COMMENT ON COLUMN automation_rules.window_hours IS 'The metric is over [now - N h, now)';
COMMENT ON COLUMN automation_rules.min_clicks IS
    'Items with fewer clicks in the window are not judged';
COMMENT ON COLUMN automation_rules.scope IS
    'What the targets are: campaign | offer | lander | destination (of a campaign''s rule)';
COMMENT ON COLUMN automation_rules.action IS
    'pause | activate | set_weight | notify (docs/decisions.md says what each does per scope)';
COMMENT ON COLUMN automation_rules.weight IS 'The weight set_weight sets; NULL otherwise';
COMMENT ON COLUMN automation_rules.cooldown_minutes IS
    'After acting on an item the rule does not act on it again for this long';
COMMENT ON COLUMN automation_rules.dry_run IS
    'true: runs record the actions they would take and take none';
COMMENT ON COLUMN automation_rules.revision IS 'If-Match revision: +1 on every update';
COMMENT ON COLUMN automation_rules.created_at IS 'When it was created';
COMMENT ON COLUMN automation_rules.updated_at IS 'When it last changed';

CREATE TABLE automation_rule_targets (
    workspace_id text NOT NULL,
    automation_rule_id text NOT NULL,
    position integer NOT NULL CONSTRAINT automation_rule_targets_position CHECK (position >= 0),
    scope text NOT NULL,
    campaign_id text,
    offer_id text,
    lander_id text,
    path_rule_id text,
    destination_id text,
    PRIMARY KEY (workspace_id, automation_rule_id, position),
    CONSTRAINT automation_rule_targets_rule_fkey
        FOREIGN KEY (workspace_id, automation_rule_id, scope)
        REFERENCES automation_rules (workspace_id, id, scope) ON DELETE CASCADE
        ON UPDATE CASCADE,
    -- Entity rows are upserted in place by every writer, so these only fire when the
    -- entity is deleted: the rule stops targeting it.
    CONSTRAINT automation_rule_targets_campaign_fkey FOREIGN KEY (workspace_id, campaign_id)
        REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE DEFERRABLE,
    CONSTRAINT automation_rule_targets_offer_fkey FOREIGN KEY (workspace_id, offer_id)
        REFERENCES offers (workspace_id, id) ON DELETE CASCADE DEFERRABLE,
    CONSTRAINT automation_rule_targets_lander_fkey FOREIGN KEY (workspace_id, lander_id)
        REFERENCES landers (workspace_id, id) ON DELETE CASCADE DEFERRABLE,
    CONSTRAINT automation_rule_targets_shape CHECK (
        (scope = 'campaign' AND campaign_id IS NOT NULL AND num_nonnulls(
            offer_id, lander_id, path_rule_id, destination_id) = 0)
        OR (scope = 'offer' AND offer_id IS NOT NULL AND num_nonnulls(
            campaign_id, lander_id, path_rule_id, destination_id) = 0)
        OR (scope = 'lander' AND lander_id IS NOT NULL AND num_nonnulls(
            campaign_id, offer_id, path_rule_id, destination_id) = 0)
        OR (scope = 'destination' AND num_nonnulls(
            campaign_id, path_rule_id, destination_id) = 3 AND num_nonnulls(
            offer_id, lander_id) = 0))
);
CREATE INDEX automation_rule_targets_campaign ON automation_rule_targets (campaign_id)
    WHERE campaign_id IS NOT NULL;
CREATE INDEX automation_rule_targets_offer ON automation_rule_targets (offer_id)
    WHERE offer_id IS NOT NULL;
CREATE INDEX automation_rule_targets_lander ON automation_rule_targets (lander_id)
    WHERE lander_id IS NOT NULL;
COMMENT ON TABLE automation_rule_targets IS
    'The items an automation rule judges, in order; all of its scope';
COMMENT ON COLUMN automation_rule_targets.workspace_id IS 'The rule''s workspace (and the target''s)';
COMMENT ON COLUMN automation_rule_targets.automation_rule_id IS 'The automation rule';
COMMENT ON COLUMN automation_rule_targets.position IS 'Order as written';
COMMENT ON COLUMN automation_rule_targets.scope IS 'The rule''s scope, which fixes the shape';
COMMENT ON COLUMN automation_rule_targets.campaign_id IS
    'Scope campaign: the campaign; scope destination: the destination''s campaign';
COMMENT ON COLUMN automation_rule_targets.offer_id IS 'Scope offer: the offer';
COMMENT ON COLUMN automation_rule_targets.lander_id IS 'Scope lander: the lander';
COMMENT ON COLUMN automation_rule_targets.path_rule_id IS
    'Scope destination: the campaign''s rule (path) holding it, default for the default path; '
    'checked on write (rules are rewritten with their campaign, so no foreign key)';
COMMENT ON COLUMN automation_rule_targets.destination_id IS
    'Scope destination: the destination''s id in that rule';

CREATE TABLE automation_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id text NOT NULL,
    automation_rule_id text NOT NULL,
    at timestamptz NOT NULL,
    rule_revision bigint NOT NULL,
    dry_run boolean NOT NULL,
    window_start timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    evaluated jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT automation_runs_evaluated_array CHECK (jsonb_typeof(evaluated) = 'array'),
    actions jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT automation_runs_actions_array CHECK (jsonb_typeof(actions) = 'array'),
    errors jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT automation_runs_errors_array CHECK (jsonb_typeof(errors) = 'array'),
    duration_ms integer NOT NULL CONSTRAINT automation_runs_duration CHECK (duration_ms >= 0),
    CONSTRAINT automation_runs_rule_fkey FOREIGN KEY (workspace_id, automation_rule_id)
        REFERENCES automation_rules (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT automation_runs_window CHECK (window_start < window_end)
);
CREATE INDEX automation_runs_rule ON automation_runs (workspace_id, automation_rule_id, id);
COMMENT ON TABLE automation_runs IS 'Every evaluation of an automation rule: its history';
COMMENT ON COLUMN automation_runs.id IS 'Order of the runs; the history''s cursor';
COMMENT ON COLUMN automation_runs.workspace_id IS 'The rule''s workspace';
COMMENT ON COLUMN automation_runs.automation_rule_id IS 'The rule evaluated';
COMMENT ON COLUMN automation_runs.at IS 'The governor pass''s time (the window ends here)';
COMMENT ON COLUMN automation_runs.rule_revision IS 'The rule''s revision when it ran';
COMMENT ON COLUMN automation_runs.dry_run IS 'true: the actions were only recorded, not taken';
COMMENT ON COLUMN automation_runs.window_start IS 'The metric''s window start (inclusive)';
COMMENT ON COLUMN automation_runs.window_end IS 'The metric''s window end (exclusive)';
COMMENT ON COLUMN automation_runs.evaluated IS
    'Trigger data: per target its clicks, metric value, and whether it matched or why not';
COMMENT ON COLUMN automation_runs.actions IS
    'Per matching target: the action, and its outcome (done, would (dry run), cooling down, '
    'unchanged, failed)';
COMMENT ON COLUMN automation_runs.errors IS 'What failed, per target or for the whole run';
COMMENT ON COLUMN automation_runs.duration_ms IS 'Wall time of the run';

CREATE TABLE automation_cooldowns (
    workspace_id text NOT NULL,
    automation_rule_id text NOT NULL,
    item text NOT NULL,
    acted_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, automation_rule_id, item),
    CONSTRAINT automation_cooldowns_rule_fkey FOREIGN KEY (workspace_id, automation_rule_id)
        REFERENCES automation_rules (workspace_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE automation_cooldowns IS
    'When a rule last acted on an item: claimed in the transaction that acts, so the '
    'cooldown holds across passes, restarts and governors';
COMMENT ON COLUMN automation_cooldowns.workspace_id IS 'The rule''s workspace';
COMMENT ON COLUMN automation_cooldowns.automation_rule_id IS 'The rule that acted';
COMMENT ON COLUMN automation_cooldowns.item IS
    'The target: campaign:ID, offer:ID, lander:ID or destination:CAMPAIGN/RULE/DESTINATION';
COMMENT ON COLUMN automation_cooldowns.acted_at IS 'The pass time of the last action';

-- webhooks ------------------------------------------------------------------------------

CREATE TABLE webhook_endpoints (
    workspace_id text NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    id slug NOT NULL,
    url text NOT NULL CONSTRAINT webhook_endpoints_url_http CHECK (url ~ '^https?://[^\s]+$'),
    secret text NOT NULL CONSTRAINT webhook_endpoints_secret_length
        CHECK (length(secret) BETWEEN 16 AND 256),
    events text[] NOT NULL CONSTRAINT webhook_endpoints_events_known CHECK (
        cardinality(events) > 0 AND events <@ ARRAY['budget.threshold', 'cap.reached',
            'cap.lifted', 'automation.action', 'campaign.transition']::text[]),
    enabled boolean NOT NULL DEFAULT true,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE TRIGGER webhook_endpoints_first_revision BEFORE INSERT ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION first_revision();
CREATE TRIGGER webhook_endpoints_bump_revision BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION bump_revision();
COMMENT ON TABLE webhook_endpoints IS
    'Where a workspace''s notifications are POSTed, signed with HMAC-SHA256 (docs/webhooks.md)';
COMMENT ON COLUMN webhook_endpoints.workspace_id IS 'Whose notifications it receives';
COMMENT ON COLUMN webhook_endpoints.id IS 'Slug, unique within the workspace';
COMMENT ON COLUMN webhook_endpoints.url IS 'http(s) URL the notifications are POSTed to';
COMMENT ON COLUMN webhook_endpoints.secret IS
    'The HMAC key of X-Turnout-Signature; shown once, at creation, never again';
COMMENT ON COLUMN webhook_endpoints.events IS 'The notification events it subscribes to';
COMMENT ON COLUMN webhook_endpoints.enabled IS
    'false: nothing is sent; notifications recorded meanwhile are not sent later';
COMMENT ON COLUMN webhook_endpoints.revision IS 'If-Match revision: +1 on every update';
COMMENT ON COLUMN webhook_endpoints.created_at IS 'When it was created';
COMMENT ON COLUMN webhook_endpoints.updated_at IS 'When it last changed';

-- Each notification is planned once: a delivery row for every enabled endpoint of its
-- workspace subscribed to its event at that moment. A flag on the outbox (not a cursor
-- over ids) because ids are taken at insert and may commit out of order.
ALTER TABLE notifications ADD COLUMN planned_at timestamptz;
COMMENT ON COLUMN notifications.planned_at IS
    'When governor/webhooks.py created its deliveries; NULL: not yet';
CREATE INDEX notifications_unplanned ON notifications (id) WHERE planned_at IS NULL;
ALTER TABLE notifications ADD CONSTRAINT notifications_id_workspace UNIQUE (id, workspace_id);

CREATE TABLE webhook_deliveries (
    notification_id bigint NOT NULL,
    workspace_id text NOT NULL,
    endpoint_id text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CONSTRAINT webhook_deliveries_state_known
        CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0 CONSTRAINT webhook_deliveries_attempts
        CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    last_status integer,
    last_error text,
    delivered_at timestamptz,
    PRIMARY KEY (notification_id, workspace_id, endpoint_id),
    CONSTRAINT webhook_deliveries_notification_fkey FOREIGN KEY (notification_id, workspace_id)
        REFERENCES notifications (id, workspace_id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (workspace_id, endpoint_id)
        REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_delivered_at
        CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
COMMENT ON TABLE webhook_deliveries IS
    'One per (notification, endpoint): its delivery state, so nothing delivered is sent twice';
COMMENT ON COLUMN webhook_deliveries.notification_id IS 'The notification (0004''s outbox)';
COMMENT ON COLUMN webhook_deliveries.workspace_id IS 'The endpoint''s (and notification''s) workspace';
COMMENT ON COLUMN webhook_deliveries.endpoint_id IS 'The endpoint it goes to';
COMMENT ON COLUMN webhook_deliveries.state IS
    'pending (to be tried at next_attempt_at) | delivered (a 2xx answer) | failed (gave up)';
COMMENT ON COLUMN webhook_deliveries.attempts IS 'Attempts made so far';
COMMENT ON COLUMN webhook_deliveries.next_attempt_at IS
    'When the next attempt is due (exponential backoff with jitter after a failure)';
COMMENT ON COLUMN webhook_deliveries.last_status IS 'HTTP status of the last attempt, if any';
COMMENT ON COLUMN webhook_deliveries.last_error IS
    'Why the last attempt failed (status or error class; never the secret or the body)';
COMMENT ON COLUMN webhook_deliveries.delivered_at IS 'The pass time of the 2xx answer';
