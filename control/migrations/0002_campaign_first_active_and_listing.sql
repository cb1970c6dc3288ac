-- Two things about campaigns the admin API needs and the graph does not hold:
--
-- first_active_at: when a campaign first went active. Only active campaigns serve clicks,
-- so one that never was has none and may be deleted; one that was is archived instead
-- (its clicks name it). Set by trigger, whichever writer (API, import, governor)
-- activates it.
--
-- listing: the campaign's own fields (all but its rules and default path) as the JSON
-- text of the config.model shape, kept by trigger on every write. A page of 1,000
-- campaigns is then 1,000 stored texts joined, not 1,000 objects built (8 ms of
-- PostgreSQL's time at each list); it must equal what control/graph_read.py builds for
-- those fields (tests/integration/test_admin_entities.py compares them).

ALTER TABLE campaigns ADD COLUMN first_active_at timestamptz;
COMMENT ON COLUMN campaigns.first_active_at IS
    'When the campaign was first active (NULL: never, so it has no clicks)';
ALTER TABLE campaigns ADD COLUMN listing text;
COMMENT ON COLUMN campaigns.listing IS
    'The campaign''s own fields as JSON (no rules, no default path), kept by trigger';

CREATE FUNCTION note_first_active() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        NEW.first_active_at := coalesce(OLD.first_active_at, NEW.first_active_at);
    END IF;
    IF NEW.status = 'active' AND NEW.first_active_at IS NULL THEN
        NEW.first_active_at := now();
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION note_first_active() IS 'Keeps campaigns.first_active_at: set once, kept';

CREATE FUNCTION campaign_listing() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.listing := json_build_object(
        'id', NEW.id, 'workspace', NEW.workspace_id, 'name', NEW.name, 'code', NEW.code,
        'parent', NEW.parent_id, 'traffic_source', NEW.traffic_source_id,
        'cost_model', json_build_object('type', NEW.cost_model, 'value', NEW.cost_value::text),
        'status', NEW.status,
        'schedule', json_build_object('start', NEW.schedule_start, 'end', NEW.schedule_end),
        'budget', NEW.budget::text, 'redirect_mode', NEW.redirect_mode,
        'allow_permanent', NEW.allow_permanent,
        'bot_policy', json_build_object('action', NEW.bot_action, 'url', NEW.bot_url),
        'inactive', json_build_object('action', NEW.inactive_action, 'url', NEW.inactive_url),
        'attribution_window_days', NEW.attribution_window_days,
        'unique_window_hours', NEW.unique_window_hours)::text;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION campaign_listing() IS 'Keeps campaigns.listing equal to the row';

-- Campaigns stored before these columns: any that left draft may have been active. The
-- revision trigger is off meanwhile: nothing of the entities changes.
ALTER TABLE campaigns DISABLE TRIGGER campaigns_revision;
CREATE TRIGGER campaigns_first_active BEFORE INSERT OR UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION note_first_active();
CREATE TRIGGER campaigns_listing BEFORE INSERT OR UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaign_listing();
UPDATE campaigns SET first_active_at = CASE WHEN status <> 'draft' THEN updated_at END;
ALTER TABLE campaigns ENABLE TRIGGER campaigns_revision;
ALTER TABLE campaigns ALTER COLUMN listing SET NOT NULL;
