-- Thematic layers (issue 5): the geocoded registers as points, their aggregates by grid,
-- community and township, and the townships' macro-economic indicators by year.  Written only
-- by spatialsvc.thematic.refresh (`spatialsvc stats refresh`, and after every geocoding run and
-- ingest).  In the stats_* tables small counts are already suppressed (NULL): the raw counts
-- are never stored.  Money in 10,000 yuan (万元), like registry.legal_entity.

CREATE SCHEMA IF NOT EXISTS thematic;
COMMENT ON SCHEMA thematic IS 'Thematic layers built from the registers and their geocodes (spatialsvc stats refresh)';

-- One row per geocoded person (layer `resident`, conditional: personal data).
CREATE TABLE thematic.resident (
    person_id         bigint PRIMARY KEY,
    name              text NOT NULL,
    id_number         text NOT NULL,
    sex               text NOT NULL,
    birth_date        date NOT NULL,
    age               integer NOT NULL,
    phone             text NOT NULL,
    household_id      bigint NOT NULL,
    household_address text NOT NULL,
    grid_code         text,
    community_code    text,
    township_code     text,
    match_level       text,
    geom              geometry(Point, 4490) NOT NULL
);
CREATE INDEX resident_grid_idx ON thematic.resident (grid_code);
COMMENT ON TABLE thematic.resident IS 'Geocoded persons (registry.person ⨝ registry.person_geocode); age on the refresh date.';

-- One row per geocoded legal entity (layer `legal_entity`).
CREATE TABLE thematic.legal_entity (
    entity_id          bigint PRIMARY KEY,
    uscc               text NOT NULL,
    name               text NOT NULL,
    industry_code      text NOT NULL,
    industry_section   text NOT NULL,
    industry_name      text,
    registered_capital numeric(14, 2) NOT NULL,
    employees          integer NOT NULL,
    revenue            numeric(16, 2) NOT NULL,
    tax                numeric(14, 2) NOT NULL,
    founding_date      date NOT NULL,
    grid_code          text,
    community_code     text,
    township_code      text,
    geom               geometry(Point, 4490) NOT NULL
);
CREATE INDEX legal_entity_industry_idx ON thematic.legal_entity (industry_code);
COMMENT ON TABLE thematic.legal_entity IS 'Geocoded legal entities (registry.legal_entity ⨝ registry.legal_entity_geocode).';

-- Aggregates by grid (layer stats_grid); stats_community and stats_township have the same
-- columns less their parents' codes.  Counted: persons and entities geocoded and not waiting
-- in registry.geocode_review.  entities_x counts the entities of GB/T 4754-2017 section X.
CREATE TABLE thematic.stats_grid (
    code               text PRIMARY KEY,
    name               text NOT NULL,
    community_code     text NOT NULL,
    township_code      text NOT NULL,
    as_of              date NOT NULL,
    area_km2           double precision NOT NULL,
    pop_total          integer,
    pop_male           integer,
    pop_female         integer,
    age_0_14           integer,
    age_15_59          integer,
    age_60_plus        integer,
    households         integer,
    pop_density        double precision,
    entities           integer,
    entities_a integer, entities_b integer, entities_c integer, entities_d integer,
    entities_e integer, entities_f integer, entities_g integer, entities_h integer,
    entities_i integer, entities_j integer, entities_k integer, entities_l integer,
    entities_m integer, entities_n integer, entities_o integer, entities_p integer,
    entities_q integer, entities_r integer, entities_s integer, entities_t integer,
    registered_capital numeric(16, 2),
    employees          integer,
    revenue            numeric(18, 2),
    tax                numeric(16, 2),
    suppressed         text NOT NULL DEFAULT '',
    geom               geometry(MultiPolygon, 4490) NOT NULL
);
COMMENT ON TABLE thematic.stats_grid IS 'Population and legal entities by grid; counts under 5, and cells that would give them away, are NULL (named in suppressed).';
CREATE TABLE thematic.stats_community (LIKE thematic.stats_grid INCLUDING ALL);
ALTER TABLE thematic.stats_community DROP COLUMN community_code;
CREATE TABLE thematic.stats_township (LIKE thematic.stats_community INCLUDING ALL);
ALTER TABLE thematic.stats_township DROP COLUMN township_code;

-- Township macro-economic indicators by year (registry.macro_indicator, 亿元), one feature per
-- township and year.  Statistics bureau totals, not counts of people: nothing is suppressed.
CREATE TABLE thematic.macro_township (
    id                  text PRIMARY KEY,
    township_code       text NOT NULL,
    name                text NOT NULL,
    year                integer NOT NULL,
    gdp                 numeric(12, 2) NOT NULL,
    industrial_output   numeric(12, 2) NOT NULL,
    retail_sales        numeric(12, 2) NOT NULL,
    fixed_investment    numeric(12, 2) NOT NULL,
    fiscal_revenue      numeric(12, 2) NOT NULL,
    resident_population integer NOT NULL,
    gdp_per_capita      numeric(12, 2),
    geom                geometry(MultiPolygon, 4490) NOT NULL,
    UNIQUE (township_code, year)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'resident', 'legal_entity', 'stats_grid', 'stats_community', 'stats_township',
        'macro_township'
    ] LOOP
        EXECUTE format('CREATE INDEX %I ON thematic.%I USING gist (geom)', t || '_geom_idx', t);
        PERFORM meta.track_layer_version(format('thematic.%I', t)::regclass);
    END LOOP;
END
$$;

-- Class breaks computed with mapclassify from the published values, kept while the table's
-- data version is the same (spatialsvc.thematic.legend).
CREATE TABLE thematic.legend (
    layer        text NOT NULL,
    field        text NOT NULL,
    scheme       text NOT NULL,
    k            integer NOT NULL,
    spec_hash    text NOT NULL,
    data_version bigint NOT NULL,
    legend       jsonb NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, field, scheme, k)
);

-- One row per refresh: when, on which date, what was counted and how much was suppressed.
CREATE TABLE thematic.refresh (
    refresh_id   bigserial PRIMARY KEY,
    as_of        date NOT NULL,
    trigger      text NOT NULL,
    persons      integer NOT NULL,
    entities     integer NOT NULL,
    report       jsonb NOT NULL,
    seconds      double precision NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now()
);
