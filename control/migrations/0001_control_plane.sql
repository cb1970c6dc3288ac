-- The control plane (SPEC §10): the campaign graph's entities as normalised tables, plus
-- the keys, audit log, published graph versions and saved templates the API builds on.
--
-- Ids are the graph's user-given slugs, unique per entity kind. Each entity row has a
-- revision (1 on insert, +1 on every update, by trigger) for If-Match, and created_at /
-- updated_at. Workspace-scoped references are composite foreign keys on
-- (workspace_id, id), so nothing can point into another workspace. Constraints that an
-- import may break for a moment (a code or secret moving between two rows, an entity moving
-- workspace) are DEFERRABLE: `SET CONSTRAINTS ALL DEFERRED` checks them at the end instead.

CREATE DOMAIN slug AS text
    CONSTRAINT slug_format CHECK (VALUE ~ '^[A-Za-z0-9_-]{1,64}$');
COMMENT ON DOMAIN slug IS 'Ids and tracking codes: [A-Za-z0-9_-]{1,64}, URL-safe';

CREATE DOMAIN amount AS numeric
    CONSTRAINT amount_range CHECK (VALUE >= 0 AND VALUE < 1e15 AND scale(VALUE) <= 6);
COMMENT ON DOMAIN amount IS
    'Money: >= 0, at most 15 integer digits and 6 decimals (exact in micro-units); the '
    'scale written is kept, so 12.50 reads back as 12.50';

CREATE TABLE currencies (
    code text PRIMARY KEY CONSTRAINT currencies_code_format CHECK (code ~ '^[A-Z]{3}$')
);
COMMENT ON TABLE currencies IS 'ISO 4217 currencies in circulation (as config/values.py)';
INSERT INTO currencies (code) VALUES
    ('AED'), ('AFN'), ('ALL'), ('AMD'), ('ANG'), ('AOA'), ('ARS'), ('AUD'), ('AWG'), ('AZN'), ('BAM'), ('BBD'),
    ('BDT'), ('BGN'), ('BHD'), ('BIF'), ('BMD'), ('BND'), ('BOB'), ('BOV'), ('BRL'), ('BSD'), ('BTN'), ('BWP'),
    ('BYN'), ('BZD'), ('CAD'), ('CDF'), ('CHE'), ('CHF'), ('CHW'), ('CLF'), ('CLP'), ('CNY'), ('COP'), ('COU'),
    ('CRC'), ('CUC'), ('CUP'), ('CVE'), ('CZK'), ('DJF'), ('DKK'), ('DOP'), ('DZD'), ('EGP'), ('ERN'), ('ETB'),
    ('EUR'), ('FJD'), ('FKP'), ('GBP'), ('GEL'), ('GHS'), ('GIP'), ('GMD'), ('GNF'), ('GTQ'), ('GYD'), ('HKD'),
    ('HNL'), ('HRK'), ('HTG'), ('HUF'), ('IDR'), ('ILS'), ('INR'), ('IQD'), ('IRR'), ('ISK'), ('JMD'), ('JOD'),
    ('JPY'), ('KES'), ('KGS'), ('KHR'), ('KMF'), ('KPW'), ('KRW'), ('KWD'), ('KYD'), ('KZT'), ('LAK'), ('LBP'),
    ('LKR'), ('LRD'), ('LSL'), ('LYD'), ('MAD'), ('MDL'), ('MGA'), ('MKD'), ('MMK'), ('MNT'), ('MOP'), ('MRU'),
    ('MUR'), ('MVR'), ('MWK'), ('MXN'), ('MXV'), ('MYR'), ('MZN'), ('NAD'), ('NGN'), ('NIO'), ('NOK'), ('NPR'),
    ('NZD'), ('OMR'), ('PAB'), ('PEN'), ('PGK'), ('PHP'), ('PKR'), ('PLN'), ('PYG'), ('QAR'), ('RON'), ('RSD'),
    ('RUB'), ('RWF'), ('SAR'), ('SBD'), ('SCR'), ('SDG'), ('SEK'), ('SGD'), ('SHP'), ('SLE'), ('SLL'), ('SOS'),
    ('SRD'), ('SSP'), ('STN'), ('SVC'), ('SYP'), ('SZL'), ('THB'), ('TJS'), ('TMT'), ('TND'), ('TOP'), ('TRY'),
    ('TTD'), ('TWD'), ('TZS'), ('UAH'), ('UGX'), ('USD'), ('USN'), ('UYI'), ('UYU'), ('UYW'), ('UZS'), ('VED'),
    ('VES'), ('VND'), ('VUV'), ('WST'), ('XAF'), ('XCD'), ('XCG'), ('XOF'), ('XPF'), ('YER'), ('ZAR'), ('ZMW'),
    ('ZWG'), ('ZWL');

CREATE FUNCTION is_timezone(name text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    PERFORM now() AT TIME ZONE name;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END;
$$;
COMMENT ON FUNCTION is_timezone(text) IS 'Whether PostgreSQL knows the time zone name';

-- jsonb shapes the graph uses: an object of text values, an array of scalars (strict
-- paths: lax ones would look inside nested arrays instead of refusing them).
CREATE FUNCTION is_text_object(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT jsonb_typeof(value) = 'object'
       AND NOT jsonb_path_exists(value, 'strict $.* ? (@.type() != "string")')
$$;

CREATE FUNCTION is_scalar_array(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT jsonb_typeof(value) = 'array'
       AND NOT jsonb_path_exists(
           value, 'strict $[*] ? (@.type() != "string" && @.type() != "number" && @.type() != "boolean")')
$$;

CREATE FUNCTION bump_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    NEW.created_at := OLD.created_at;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION bump_revision() IS 'Every update of an entity row is a new revision';

CREATE FUNCTION first_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := 1;
    RETURN NEW;
END;
$$;

-- workspaces ------------------------------------------------------------------------

CREATE TABLE workspaces (
    id slug PRIMARY KEY,
    name text NOT NULL CONSTRAINT workspaces_name_present CHECK (btrim(name) <> ''),
    timezone text NOT NULL DEFAULT 'UTC'
        CONSTRAINT workspaces_timezone_known CHECK (is_timezone(timezone)),
    currency text NOT NULL DEFAULT 'USD' REFERENCES currencies,
    raw_ip boolean NOT NULL DEFAULT false,
    fallback_url text,
    bot_ip_ranges cidr[] NOT NULL DEFAULT '{}',
    pixel_key text CONSTRAINT workspaces_pixel_key_format
        CHECK (pixel_key ~ '^[A-Za-z0-9_-]{16,128}$'),
    pixel_origins text[] NOT NULL DEFAULT '{}',
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspaces_pixel_key_unique UNIQUE (pixel_key) DEFERRABLE,
    CONSTRAINT workspaces_pixel_pair
        CHECK ((pixel_key IS NULL) = (cardinality(pixel_origins) = 0))
);
COMMENT ON TABLE workspaces IS 'Tenants: every other entity belongs to one';
COMMENT ON COLUMN workspaces.seq IS 'Insertion order: the order read_graph lists them in';

CREATE TABLE workspace_domains (
    workspace_id text NOT NULL REFERENCES workspaces ON DELETE CASCADE DEFERRABLE,
    position integer NOT NULL CONSTRAINT workspace_domains_position CHECK (position >= 0),
    domain text NOT NULL CONSTRAINT workspace_domains_domain_format
        CHECK (domain ~ '^[^\s/:]+$'),
    PRIMARY KEY (workspace_id, position)
);
-- A tracking domain belongs to one workspace, however it is spelled.
CREATE UNIQUE INDEX workspace_domains_domain_key
    ON workspace_domains (lower(rtrim(domain, '.')));
COMMENT ON TABLE workspace_domains IS
    'Tracking domains a workspace owns, in order; a workspace without any serves its '
    'codes on the shared default domain';

-- traffic sources, networks, offers, landers, funnels --------------------------------

CREATE TABLE traffic_sources (
    id slug PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces DEFERRABLE,
    name text NOT NULL CONSTRAINT traffic_sources_name_present CHECK (btrim(name) <> ''),
    tokens jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT traffic_sources_tokens_shape CHECK (is_text_object(tokens)),
    postback_url text,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);
COMMENT ON COLUMN traffic_sources.tokens IS 'Our token (sub1..sub10, cost, external_id) -> '
    'the query parameter of the source';

CREATE TABLE networks (
    id slug PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces DEFERRABLE,
    name text NOT NULL CONSTRAINT networks_name_present CHECK (btrim(name) <> ''),
    secret text NOT NULL CONSTRAINT networks_secret_length CHECK (length(secret) >= 8),
    hmac_key text CONSTRAINT networks_hmac_key_length CHECK (length(hmac_key) >= 8),
    ip_allowlist cidr[] NOT NULL DEFAULT '{}',
    statuses jsonb NOT NULL DEFAULT '{}' CONSTRAINT networks_statuses_shape CHECK (
        is_text_object(statuses) AND NOT jsonb_path_exists(statuses,
            'strict $.* ? (@ != "approved" && @ != "pending" && @ != "declined" && @ != "chargeback")')),
    convert_other_offers boolean NOT NULL DEFAULT false,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    -- One secret per network: a postback's secret names exactly one network.
    CONSTRAINT networks_secret_unique UNIQUE (secret) DEFERRABLE,
    CONSTRAINT networks_hmac_key_unique UNIQUE (hmac_key) DEFERRABLE
);
COMMENT ON COLUMN networks.statuses IS 'The status word of the network -> approved | '
    'pending | declined | chargeback';

CREATE TABLE offers (
    id slug PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces DEFERRABLE,
    name text NOT NULL CONSTRAINT offers_name_present CHECK (btrim(name) <> ''),
    url text NOT NULL,
    network_id text NOT NULL,
    payout amount NOT NULL DEFAULT 0,
    currency text REFERENCES currencies,
    daily_cap integer CONSTRAINT offers_daily_cap_positive CHECK (daily_cap > 0),
    fallback_offer_id text,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    CONSTRAINT offers_network_fkey FOREIGN KEY (workspace_id, network_id)
        REFERENCES networks (workspace_id, id) DEFERRABLE,
    CONSTRAINT offers_fallback_offer_fkey FOREIGN KEY (workspace_id, fallback_offer_id)
        REFERENCES offers (workspace_id, id) DEFERRABLE,
    CONSTRAINT offers_fallback_not_itself CHECK (fallback_offer_id <> id),
    CONSTRAINT offers_fallback_needs_cap CHECK (fallback_offer_id IS NULL OR daily_cap IS NOT NULL)
);
COMMENT ON COLUMN offers.currency IS 'NULL: the workspace currency';
COMMENT ON COLUMN offers.fallback_offer_id IS 'Takes the traffic while this offer is capped';

CREATE TABLE landers (
    id slug PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces DEFERRABLE,
    name text NOT NULL CONSTRAINT landers_name_present CHECK (btrim(name) <> ''),
    url text NOT NULL,
    cta_count integer NOT NULL DEFAULT 1
        CONSTRAINT landers_cta_count_range CHECK (cta_count BETWEEN 1 AND 100),
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);

CREATE TABLE funnels (
    id slug PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces DEFERRABLE,
    name text NOT NULL CONSTRAINT funnels_name_present CHECK (btrim(name) <> ''),
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);

CREATE TABLE funnel_landers (
    funnel_id text NOT NULL,
    position integer NOT NULL CONSTRAINT funnel_landers_position CHECK (position >= 0),
    workspace_id text NOT NULL,
    lander_id text NOT NULL,
    PRIMARY KEY (funnel_id, position),
    FOREIGN KEY (workspace_id, funnel_id) REFERENCES funnels (workspace_id, id)
        ON DELETE CASCADE DEFERRABLE,
    FOREIGN KEY (workspace_id, lander_id) REFERENCES landers (workspace_id, id) DEFERRABLE
);
COMMENT ON TABLE funnel_landers IS 'The landers of a funnel, in the order they are shown';

CREATE TABLE funnel_offers (
    funnel_id text NOT NULL,
    position integer NOT NULL CONSTRAINT funnel_offers_position CHECK (position >= 0),
    workspace_id text NOT NULL,
    offer_id text NOT NULL,
    PRIMARY KEY (funnel_id, position),
    FOREIGN KEY (workspace_id, funnel_id) REFERENCES funnels (workspace_id, id)
        ON DELETE CASCADE DEFERRABLE,
    FOREIGN KEY (workspace_id, offer_id) REFERENCES offers (workspace_id, id) DEFERRABLE
);
COMMENT ON TABLE funnel_offers IS 'Where the CTAs of the last lander lead, in CTA order';

-- campaigns ---------------------------------------------------------------------------

CREATE TABLE campaigns (
    id slug PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces DEFERRABLE,
    name text NOT NULL CONSTRAINT campaigns_name_present CHECK (btrim(name) <> ''),
    code slug NOT NULL,
    parent_id text,
    traffic_source_id text NOT NULL,
    cost_model text NOT NULL DEFAULT 'cpc' CONSTRAINT campaigns_cost_model_known
        CHECK (cost_model IN ('cpc', 'url_param', 'cpm', 'cpa', 'revshare', 'fixed_total')),
    cost_value amount NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'draft' CONSTRAINT campaigns_status_known
        CHECK (status IN ('draft', 'active', 'paused', 'completed', 'cancelled')),
    schedule_start text,
    schedule_end text,
    starts_at timestamptz,
    ends_at timestamptz,
    budget amount,
    redirect_mode jsonb NOT NULL DEFAULT '"302"' CONSTRAINT campaigns_redirect_mode_known
        CHECK (jsonb_typeof(redirect_mode) IN ('string', 'number')
               AND redirect_mode #>> '{}' IN ('302', '307', '301', 'meta', 'double_meta')),
    allow_permanent boolean NOT NULL DEFAULT false,
    bot_action text NOT NULL DEFAULT 'same' CONSTRAINT campaigns_bot_action_known
        CHECK (bot_action IN ('same', 'url', 'not_found')),
    bot_url text,
    inactive_action text NOT NULL DEFAULT 'not_found' CONSTRAINT campaigns_inactive_action_known
        CHECK (inactive_action IN ('not_found', 'url')),
    inactive_url text,
    attribution_window_days integer NOT NULL DEFAULT 30
        CONSTRAINT campaigns_attribution_window CHECK (attribution_window_days BETWEEN 1 AND 90),
    unique_window_hours integer NOT NULL DEFAULT 24
        CONSTRAINT campaigns_unique_window CHECK (unique_window_hours BETWEEN 1 AND 8760),
    archived_at timestamptz,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    -- Codes of a workspace with domains are served on each of them; the default domain's
    -- (workspaces without domains) are checked by campaigns_default_domain_code below.
    CONSTRAINT campaigns_code_unique UNIQUE (workspace_id, code) DEFERRABLE,
    CONSTRAINT campaigns_parent_fkey FOREIGN KEY (workspace_id, parent_id)
        REFERENCES campaigns (workspace_id, id) DEFERRABLE,
    CONSTRAINT campaigns_parent_not_itself CHECK (parent_id <> id),
    CONSTRAINT campaigns_traffic_source_fkey FOREIGN KEY (workspace_id, traffic_source_id)
        REFERENCES traffic_sources (workspace_id, id) DEFERRABLE,
    CONSTRAINT campaigns_revshare_percent CHECK (cost_model <> 'revshare' OR cost_value <= 100),
    CONSTRAINT campaigns_starts_at_derived CHECK ((schedule_start IS NULL) = (starts_at IS NULL)),
    CONSTRAINT campaigns_ends_at_derived CHECK ((schedule_end IS NULL) = (ends_at IS NULL)),
    CONSTRAINT campaigns_end_after_start CHECK (ends_at > starts_at),
    CONSTRAINT campaigns_permanent_opt_in
        CHECK (redirect_mode #>> '{}' <> '301' OR allow_permanent),
    CONSTRAINT campaigns_bot_url CHECK ((bot_action = 'url') = (bot_url IS NOT NULL)),
    CONSTRAINT campaigns_inactive_url CHECK ((inactive_action = 'url') = (inactive_url IS NOT NULL))
);
CREATE INDEX campaigns_code ON campaigns (code);
CREATE INDEX campaigns_parent ON campaigns (parent_id) WHERE parent_id IS NOT NULL;
COMMENT ON COLUMN campaigns.schedule_start IS
    'ISO 8601 as written; without an offset it is workspace time';
COMMENT ON COLUMN campaigns.starts_at IS
    'schedule_start as an instant (in the workspace time zone when it has no offset), '
    'derived by the writers; end after start is checked on these';
COMMENT ON COLUMN campaigns.redirect_mode IS
    'As written: "302" or 302 (YAML turns a bare 302 into a number), 307, 301, meta, double_meta';
COMMENT ON COLUMN campaigns.archived_at IS
    'A campaign with clicks is never deleted: it is archived (kept with its id and code, '
    'out of the graph)';

-- Tracking codes are unique per tracking domain: the default domain serves the codes of
-- every workspace without domains of its own, so those must not repeat across them.
CREATE FUNCTION check_default_domain_codes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    workspace text;
    clash record;
BEGIN
    IF TG_TABLE_NAME = 'campaigns' THEN
        workspace := NEW.workspace_id;
    ELSE  -- a domain was removed (or moved): the workspace may be on the default domain now
        workspace := OLD.workspace_id;
    END IF;
    IF EXISTS (SELECT 1 FROM workspace_domains d WHERE d.workspace_id = workspace) THEN
        RETURN NULL;  -- its codes are served on its own domains only
    END IF;
    IF TG_TABLE_NAME = 'campaigns' THEN
        SELECT NEW.id, NEW.code, o.id AS other, o.workspace_id AS other_workspace INTO clash
          FROM campaigns o
         WHERE o.code = NEW.code AND o.workspace_id <> NEW.workspace_id
           AND NOT EXISTS (SELECT 1 FROM workspace_domains d
                            WHERE d.workspace_id = o.workspace_id)
         LIMIT 1;
    ELSE
        SELECT c.id, c.code, o.id AS other, o.workspace_id AS other_workspace INTO clash
          FROM campaigns c
          JOIN campaigns o ON o.code = c.code AND o.workspace_id <> c.workspace_id
         WHERE c.workspace_id = workspace
           AND NOT EXISTS (SELECT 1 FROM workspace_domains d
                            WHERE d.workspace_id = o.workspace_id)
         LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'duplicate tracking code % on the default domain: campaigns % and % '
                        '(workspace %)', clash.code, clash.id, clash.other, clash.other_workspace
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'campaigns_default_domain_code',
                  TABLE = 'campaigns';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER campaigns_default_domain_code
    AFTER INSERT OR UPDATE OF code, workspace_id ON campaigns
    DEFERRABLE FOR EACH ROW EXECUTE FUNCTION check_default_domain_codes();
CREATE CONSTRAINT TRIGGER workspace_domains_default_domain_code
    AFTER DELETE OR UPDATE OF workspace_id ON workspace_domains
    DEFERRABLE FOR EACH ROW EXECUTE FUNCTION check_default_domain_codes();

-- Rules, conditions and destinations are parts of their campaign: they carry no revision
-- of their own; the writers rewrite them and update the campaign row (a new revision).
CREATE TABLE rules (
    campaign_id text NOT NULL,
    id slug NOT NULL,
    position integer CONSTRAINT rules_position CHECK (position >= 0),
    workspace_id text NOT NULL,
    name text NOT NULL DEFAULT '',
    priority integer,
    PRIMARY KEY (campaign_id, id),
    UNIQUE (campaign_id, position),
    UNIQUE (workspace_id, campaign_id, id),
    CONSTRAINT rules_campaign_fkey FOREIGN KEY (workspace_id, campaign_id)
        REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE DEFERRABLE,
    -- The default path is the rule 'default': after every other, nameless, unconditional.
    CONSTRAINT rules_default_path CHECK ((id = 'default') = (position IS NULL)),
    CONSTRAINT rules_default_plain CHECK (id <> 'default' OR (name = '' AND priority IS NULL))
);
COMMENT ON TABLE rules IS 'The rules of a campaign in file order (run by priority, ties in '
    'this order), and its default path as the rule named default';

CREATE TABLE conditions (
    campaign_id text NOT NULL,
    rule_id text NOT NULL CONSTRAINT conditions_not_on_default CHECK (rule_id <> 'default'),
    position integer NOT NULL CONSTRAINT conditions_position CHECK (position >= 0),
    kind text NOT NULL CONSTRAINT conditions_kind_known CHECK (kind IN (
        'country', 'region', 'city', 'device', 'os', 'browser', 'language', 'hour',
        'weekday', 'date_range', 'ip', 'asn', 'referrer', 'query', 'bot')),
    value_list jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT conditions_value_list_shape CHECK (is_scalar_array(value_list)),
    negate boolean NOT NULL DEFAULT false,
    param text NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, rule_id, position),
    FOREIGN KEY (campaign_id, rule_id) REFERENCES rules ON DELETE CASCADE DEFERRABLE,
    CONSTRAINT conditions_query_param CHECK ((kind = 'query') = (param <> ''))
);
COMMENT ON COLUMN conditions.value_list IS
    'The values as written: strings, numbers (hours, ASNs) and booleans (bot)';

CREATE TABLE destinations (
    campaign_id text NOT NULL,
    rule_id text NOT NULL,
    id slug NOT NULL,
    position integer NOT NULL CONSTRAINT destinations_position CHECK (position >= 0),
    workspace_id text NOT NULL,
    weight integer NOT NULL DEFAULT 1 CONSTRAINT destinations_weight CHECK (weight >= 0),
    kind text NOT NULL CONSTRAINT destinations_kind_known
        CHECK (kind IN ('offer', 'lander', 'funnel', 'url')),
    offer_id text,
    lander_id text,
    funnel_id text,
    url text,
    paused boolean NOT NULL DEFAULT false,
    PRIMARY KEY (campaign_id, rule_id, id),
    UNIQUE (campaign_id, rule_id, position),
    UNIQUE (workspace_id, campaign_id, rule_id, id, kind),
    -- The rule's workspace is the campaign's: the references below stay inside it.
    CONSTRAINT destinations_rule_fkey FOREIGN KEY (workspace_id, campaign_id, rule_id)
        REFERENCES rules (workspace_id, campaign_id, id) ON DELETE CASCADE DEFERRABLE,
    CONSTRAINT destinations_offer_fkey FOREIGN KEY (workspace_id, offer_id)
        REFERENCES offers (workspace_id, id) DEFERRABLE,
    CONSTRAINT destinations_lander_fkey FOREIGN KEY (workspace_id, lander_id)
        REFERENCES landers (workspace_id, id) DEFERRABLE,
    CONSTRAINT destinations_funnel_fkey FOREIGN KEY (workspace_id, funnel_id)
        REFERENCES funnels (workspace_id, id) DEFERRABLE,
    -- Exactly the reference its kind needs, and nothing else.
    CONSTRAINT destinations_ref_matches_kind CHECK (
        (kind = 'offer') = (offer_id IS NOT NULL)
        AND (kind = 'lander') = (lander_id IS NOT NULL)
        AND (kind = 'funnel') = (funnel_id IS NOT NULL)
        AND (kind = 'url') = (url IS NOT NULL))
);
COMMENT ON TABLE destinations IS 'Weighted destinations of each rule (and of the default '
    'path), in order; weight 0 or paused: never chosen';

CREATE TABLE destination_offers (
    campaign_id text NOT NULL,
    rule_id text NOT NULL,
    destination_id text NOT NULL,
    position integer NOT NULL CONSTRAINT destination_offers_position CHECK (position >= 0),
    workspace_id text NOT NULL,
    kind text NOT NULL DEFAULT 'lander'
        CONSTRAINT destination_offers_of_landers CHECK (kind = 'lander'),
    offer_id text NOT NULL,
    PRIMARY KEY (campaign_id, rule_id, destination_id, position),
    CONSTRAINT destination_offers_destination_fkey
        FOREIGN KEY (workspace_id, campaign_id, rule_id, destination_id, kind)
        REFERENCES destinations (workspace_id, campaign_id, rule_id, id, kind)
        ON DELETE CASCADE DEFERRABLE,
    CONSTRAINT destination_offers_offer_fkey FOREIGN KEY (workspace_id, offer_id)
        REFERENCES offers (workspace_id, id) DEFERRABLE
);
COMMENT ON TABLE destination_offers IS 'Where the CTAs of a lander destination lead '
    '(/click/1 .. /click/N), in order; lander destinations only';

CREATE INDEX destinations_offer ON destinations (offer_id) WHERE offer_id IS NOT NULL;
CREATE INDEX destinations_lander ON destinations (lander_id) WHERE lander_id IS NOT NULL;
CREATE INDEX destinations_funnel ON destinations (funnel_id) WHERE funnel_id IS NOT NULL;
CREATE INDEX destination_offers_offer ON destination_offers (offer_id);
CREATE INDEX funnel_landers_lander ON funnel_landers (lander_id);
CREATE INDEX funnel_offers_offer ON funnel_offers (offer_id);
CREATE INDEX offers_network ON offers (network_id);
CREATE INDEX campaigns_traffic_source ON campaigns (traffic_source_id);

-- keys, audit, versions, templates ------------------------------------------------------

CREATE TABLE api_keys (
    id slug PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    name text NOT NULL DEFAULT '',
    role text NOT NULL CONSTRAINT api_keys_role_known
        CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    key_hash bytea NOT NULL UNIQUE CONSTRAINT api_keys_key_hash_sha256
        CHECK (length(key_hash) = 32),
    prefix text NOT NULL CONSTRAINT api_keys_prefix_short CHECK (length(prefix) BETWEEN 4 AND 16),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    rate_per_minute integer CONSTRAINT api_keys_rate_positive CHECK (rate_per_minute > 0),
    CONSTRAINT api_keys_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);
COMMENT ON TABLE api_keys IS 'Bearer keys: shown once, stored as the sha256 of the secret';
COMMENT ON COLUMN api_keys.prefix IS 'The first characters of the key, to tell keys apart';
COMMENT ON COLUMN api_keys.rate_per_minute IS 'Requests per minute; NULL: the default';

CREATE TABLE audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    workspace_id text,
    actor text NOT NULL,
    action text NOT NULL,
    entity_kind text NOT NULL,
    entity_id text NOT NULL,
    before jsonb,
    after jsonb,
    request_id text,
    CONSTRAINT audit_before_or_after CHECK (before IS NOT NULL OR after IS NOT NULL)
);
CREATE INDEX audit_workspace_at ON audit (workspace_id, at);
CREATE INDEX audit_entity ON audit (entity_kind, entity_id);
COMMENT ON TABLE audit IS 'One row per accepted write; no foreign keys: it outlives what '
    'it names';
COMMENT ON COLUMN audit.actor IS 'The API key id, or governor';

CREATE TABLE graph_versions (
    version bigint PRIMARY KEY CONSTRAINT graph_versions_positive CHECK (version >= 1),
    published_at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    note text NOT NULL DEFAULT '',
    changed jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT graph_versions_changed_shape CHECK (jsonb_typeof(changed) = 'object'),
    graph jsonb NOT NULL
        CONSTRAINT graph_versions_graph_shape CHECK (jsonb_typeof(graph) = 'object')
);
COMMENT ON TABLE graph_versions IS 'Every published version: who, why, which entities; '
    'the whole graph, so a flushed Redis can be republished';
COMMENT ON COLUMN graph_versions.changed IS 'Entity ids by kind: {"campaigns": ["c1"], ...}';

CREATE TABLE campaign_templates (
    workspace_id text NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    id slug NOT NULL,
    name text NOT NULL CONSTRAINT campaign_templates_name_present CHECK (btrim(name) <> ''),
    body jsonb NOT NULL
        CONSTRAINT campaign_templates_body_shape CHECK (jsonb_typeof(body) = 'object'),
    revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
COMMENT ON TABLE campaign_templates IS 'Campaigns saved as templates by a workspace';

DO $$
DECLARE
    entity text;
BEGIN
    FOREACH entity IN ARRAY ARRAY['workspaces', 'traffic_sources', 'networks', 'offers',
                                  'landers', 'funnels', 'campaigns', 'campaign_templates']
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION bump_revision()', entity || '_revision', entity);
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I FOR EACH ROW '
                       'EXECUTE FUNCTION first_revision()', entity || '_first_revision', entity);
    END LOOP;
END;
$$;
