-- Published graph versions as Redis holds them (config/store.py): a manifest naming each
-- entity's document by digest, the documents stored once each, shared by every version
-- naming them. A version that changes one campaign adds one document and a delta of a few
-- bytes, not a copy of a 10,000-campaign graph (30 MB of JSON).
--
-- A version's manifest is either stored whole (`manifest`: the first version, every
-- 100th, and any whose delta could not rebuild it) or as a `delta` from its `base`, a
-- recorded version; `depth` counts the deltas back to a whole one, so rebuilding any
-- version reads at most 100 rows. control/versions.py reads and writes these.
--
-- Nothing wrote graph_versions before this migration (it had no writer), so its old
-- shape (the whole graph as JSON per version) is dropped, not converted.

DELETE FROM graph_versions;

ALTER TABLE graph_versions DROP COLUMN graph;
ALTER TABLE graph_versions
    ADD COLUMN base bigint REFERENCES graph_versions,
    ADD COLUMN depth integer NOT NULL DEFAULT 0
        CONSTRAINT graph_versions_depth CHECK (depth BETWEEN 0 AND 100),
    ADD COLUMN manifest jsonb
        CONSTRAINT graph_versions_manifest_shape CHECK (jsonb_typeof(manifest) = 'object'),
    ADD COLUMN delta jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT graph_versions_delta_shape CHECK (jsonb_typeof(delta) = 'object'),
    ADD CONSTRAINT graph_versions_whole_or_delta CHECK (
        (manifest IS NOT NULL AND depth = 0)
        OR (manifest IS NULL AND base IS NOT NULL AND base < version AND depth > 0));
COMMENT ON TABLE graph_versions IS 'Every published version: who, why, which entities, '
    'and its manifest (whole or as a delta), so a flushed Redis can be republished';
COMMENT ON COLUMN graph_versions.actor IS
    'Who published it: the key ids (or governor) of the changes it gathers, comma-separated';
COMMENT ON COLUMN graph_versions.note IS 'The notes of the changes it gathers, "; "-separated';
COMMENT ON COLUMN graph_versions.changed IS
    'Entity ids it added, changed or removed, by kind: {"campaigns": ["c1"], ...}';
COMMENT ON COLUMN graph_versions.base IS
    'The version `delta` applies to (NULL for a whole manifest)';
COMMENT ON COLUMN graph_versions.manifest IS
    'config.manifest.Manifest as JSON: per section, [id, digest] in graph order';
COMMENT ON COLUMN graph_versions.delta IS
    'What changed from `base`: {"upserted": {section: [[id, digest], ...]}, '
    '"removed": {section: [id, ...]}}; new ids come after the kept ones, in this order';

CREATE TABLE graph_documents (
    digest text PRIMARY KEY CONSTRAINT graph_documents_digest_format
        CHECK (digest ~ '^[0-9a-f]{32}$'),
    section text NOT NULL CONSTRAINT graph_documents_section_known CHECK (section IN (
        'workspaces', 'traffic_sources', 'networks', 'offers', 'landers', 'funnels',
        'campaigns')),
    workspace_id text NOT NULL,
    document json NOT NULL
);
CREATE INDEX graph_documents_workspace ON graph_documents (workspace_id);
COMMENT ON TABLE graph_documents IS 'Entity documents of published versions by digest '
    '(config.manifest.digest_of), byte for byte as Redis holds them; no foreign keys: a '
    'version outlives the entities it names';
COMMENT ON COLUMN graph_documents.document IS
    'json, not jsonb: the exact bytes, so the digest still names them';

CREATE TABLE graph_version_workspaces (
    version bigint NOT NULL REFERENCES graph_versions ON DELETE CASCADE,
    workspace_id text NOT NULL,
    actors text[] NOT NULL DEFAULT '{}',
    notes text[] NOT NULL DEFAULT '{}',
    changed jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT graph_version_workspaces_changed_shape CHECK (jsonb_typeof(changed) = 'object'),
    PRIMARY KEY (workspace_id, version)
);
COMMENT ON TABLE graph_version_workspaces IS 'One graph serves every workspace: what each '
    'version changed in each workspace, who asked and why, so a key sees its own part only';
