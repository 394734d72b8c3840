-- What was loaded, when, and by whom.

CREATE TABLE meta.dataset (
    layer        text PRIMARY KEY CHECK (layer ~ '^[a-z][a-z0-9_]{0,47}$'),
    department   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('vector', 'raster')),
    version      integer NOT NULL CHECK (version >= 1),
    table_name   text,
    file_path    text,
    source_file  text NOT NULL,
    source_crs   text NOT NULL,
    features     bigint,
    extent       geometry(Polygon, 4490),
    report       jsonb NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE meta.dataset IS 'Current version of each layer ingested from a department''s file.';

CREATE TABLE meta.demo_run (
    run_id       bigserial PRIMARY KEY,
    seed         bigint NOT NULL,
    scale        double precision NOT NULL,
    counts       jsonb NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now()
);
