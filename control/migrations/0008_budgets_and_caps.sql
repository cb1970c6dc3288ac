-- Budgets with a period and thresholds, and daily caps (SPEC §11), as config.model has
-- them: Campaign.budget is a bare amount (a total budget with the default thresholds) or
-- {amount, period, thresholds}; campaigns and offers gain daily click caps, campaigns a
-- daily conversion cap (offers had theirs: daily_cap).

ALTER TABLE campaigns
    ADD COLUMN budget_period text CONSTRAINT campaigns_budget_period_known
        CHECK (budget_period IN ('total', 'daily')),
    ADD COLUMN budget_thresholds jsonb CONSTRAINT campaigns_budget_thresholds_shape
        CHECK (jsonb_typeof(budget_thresholds) = 'array'),
    ADD COLUMN daily_click_cap integer CONSTRAINT campaigns_daily_click_cap_positive
        CHECK (daily_click_cap > 0),
    ADD COLUMN daily_conversion_cap integer CONSTRAINT campaigns_daily_conversion_cap_positive
        CHECK (daily_conversion_cap > 0),
    ADD CONSTRAINT campaigns_budget_parts CHECK (
        budget IS NOT NULL OR (budget_period IS NULL AND budget_thresholds IS NULL)),
    ADD CONSTRAINT campaigns_budget_thresholds_need_period CHECK (
        budget_thresholds IS NULL OR budget_period IS NOT NULL);
COMMENT ON COLUMN campaigns.budget IS 'What it may spend per budget_period, workspace currency';
COMMENT ON COLUMN campaigns.budget_period IS
    'total | daily (workspace time); NULL: the budget was written as a bare amount (total)';
COMMENT ON COLUMN campaigns.budget_thresholds IS
    '[{at: percent, action: notify|pause|complete}]; NULL: the defaults (90 notify, 100 pause)';
COMMENT ON COLUMN campaigns.daily_click_cap IS 'Clicks per day (workspace time); then inactive';
COMMENT ON COLUMN campaigns.daily_conversion_cap IS
    'Approved conversions per day (workspace time); then inactive until the next day';

ALTER TABLE offers
    ADD COLUMN daily_click_cap integer CONSTRAINT offers_daily_click_cap_positive
        CHECK (daily_click_cap > 0),
    DROP CONSTRAINT offers_fallback_needs_cap,
    ADD CONSTRAINT offers_fallback_needs_cap CHECK (
        fallback_offer_id IS NULL OR daily_cap IS NOT NULL OR daily_click_cap IS NOT NULL);
COMMENT ON COLUMN offers.daily_cap IS 'Approved conversions per day (workspace time)';
COMMENT ON COLUMN offers.daily_click_cap IS 'Clicks per day (workspace time)';

-- A campaign's budget as the graph writes it: the bare amount, or the object.
CREATE FUNCTION campaign_budget_json(budget amount, period text, thresholds jsonb)
RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN budget IS NULL THEN 'null'::json
        WHEN period IS NULL THEN to_json(budget::text)
        ELSE json_strip_nulls(json_build_object('amount', budget::text, 'period', period,
                                                'thresholds', thresholds))
    END
$$;
COMMENT ON FUNCTION campaign_budget_json(amount, text, jsonb) IS
    'campaigns.budget* as config.model.Campaign.budget: an amount string or an object';

CREATE OR REPLACE FUNCTION campaign_listing() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.listing := json_build_object(
        'id', NEW.id, 'workspace', NEW.workspace_id, 'name', NEW.name, 'code', NEW.code,
        'parent', NEW.parent_id, 'traffic_source', NEW.traffic_source_id,
        'cost_model', json_build_object('type', NEW.cost_model, 'value', NEW.cost_value::text),
        'status', NEW.status,
        'schedule', json_build_object('start', NEW.schedule_start, 'end', NEW.schedule_end),
        'budget', campaign_budget_json(NEW.budget, NEW.budget_period, NEW.budget_thresholds),
        'daily_click_cap', NEW.daily_click_cap,
        'daily_conversion_cap', NEW.daily_conversion_cap,
        'redirect_mode', NEW.redirect_mode,
        'allow_permanent', NEW.allow_permanent,
        'bot_policy', json_build_object('action', NEW.bot_action, 'url', NEW.bot_url),
        'inactive', json_build_object('action', NEW.inactive_action, 'url', NEW.inactive_url),
        'attribution_window_days', NEW.attribution_window_days,
        'unique_window_hours', NEW.unique_window_hours)::text;
    RETURN NEW;
END;
$$;

-- Refresh the listings for the new keys; nothing of the entities changes.
ALTER TABLE campaigns DISABLE TRIGGER campaigns_revision;
UPDATE campaigns SET listing = listing;
ALTER TABLE campaigns ENABLE TRIGGER campaigns_revision;
