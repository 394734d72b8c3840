-- Data versions of published tables, bumped by statement-level triggers on every write.
-- The tile cache keys its entries with them, so a tile is never served from before a change.

CREATE TABLE meta.layer_version (
    table_name text PRIMARY KEY,          -- schema.table
    version    bigint NOT NULL DEFAULT 1,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE meta.layer_version IS 'Data version of each published table: bumped by meta.bump_layer_version() after every INSERT, UPDATE, DELETE or TRUNCATE statement.';

CREATE FUNCTION meta.bump_layer_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO meta.layer_version AS v (table_name, version, changed_at)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 1, now())
    ON CONFLICT (table_name)
    DO UPDATE SET version = v.version + 1, changed_at = now();
    RETURN NULL;
END
$$;

-- Attach the version trigger to a table (idempotent); ingest can call it on tables it creates.
CREATE FUNCTION meta.track_layer_version(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS layer_version_bump ON %s', target);
    EXECUTE format(
        'CREATE TRIGGER layer_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
        'FOR EACH STATEMENT EXECUTE FUNCTION meta.bump_layer_version()', target);
END
$$;

SELECT meta.track_layer_version(t::regclass)
FROM unnest(ARRAY[
    'base.admin_division', 'base.grid', 'base.road', 'base.compound', 'base.building',
    'base.standard_address', 'base.poi', 'registry.camera'
]) AS t;
