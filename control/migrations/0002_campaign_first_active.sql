-- When a campaign first went active: only active campaigns serve clicks, so a campaign
-- that never was has none and may be deleted; one that was is archived instead (its
-- clicks name it). Set by trigger, whichever writer (API, import, governor) activates it.

ALTER TABLE campaigns ADD COLUMN first_active_at timestamptz;
COMMENT ON COLUMN campaigns.first_active_at IS
    'When the campaign was first active (NULL: never, so it has no clicks)';

-- Campaigns stored before this column: any that left draft may have been active.
UPDATE campaigns SET first_active_at = updated_at WHERE status <> 'draft';

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

CREATE TRIGGER campaigns_first_active BEFORE INSERT OR UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION note_first_active();
