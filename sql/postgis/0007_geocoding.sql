-- Geocoding of the registers (`spatialsvc geocode registry person|legal_entity`).
-- The answers live beside the registers, one row per record, so that a register reloaded by a
-- department (TRUNCATE ... CASCADE) takes its stale geocodes with it, and the register's own
-- columns stay the department's.  address_text is the text that was geocoded: when the register's
-- address changes, the row is stale and the next run geocodes the record again.

CREATE TABLE registry.person_geocode (
    person_id      bigint PRIMARY KEY REFERENCES registry.person (person_id) ON DELETE CASCADE,
    address_text   text NOT NULL,
    address_id     text,
    full_address   text,
    match_level    text CHECK (match_level IN ('room', 'building', 'door', 'interpolated', 'road',
                                               'compound', 'community', 'township', 'county', 'city')),
    score          double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    geom           geometry(Point, 4490),
    county_code    text,
    township_code  text,
    community_code text,
    grid_code      text,
    geocoded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX person_geocode_grid_idx ON registry.person_geocode (grid_code);
CREATE INDEX person_geocode_community_idx ON registry.person_geocode (community_code);
CREATE INDEX person_geocode_geom_idx ON registry.person_geocode USING gist (geom);
COMMENT ON TABLE registry.person_geocode IS
    'Geocoded household_address of registry.person: best standard address, level, score, point (EPSG:4490), codes.';

CREATE TABLE registry.legal_entity_geocode (
    entity_id      bigint PRIMARY KEY REFERENCES registry.legal_entity (entity_id) ON DELETE CASCADE,
    address_text   text NOT NULL,
    address_id     text,
    full_address   text,
    match_level    text CHECK (match_level IN ('room', 'building', 'door', 'interpolated', 'road',
                                               'compound', 'community', 'township', 'county', 'city')),
    score          double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    geom           geometry(Point, 4490),
    county_code    text,
    township_code  text,
    community_code text,
    grid_code      text,
    geocoded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX legal_entity_geocode_grid_idx ON registry.legal_entity_geocode (grid_code);
CREATE INDEX legal_entity_geocode_community_idx ON registry.legal_entity_geocode (community_code);
CREATE INDEX legal_entity_geocode_geom_idx ON registry.legal_entity_geocode USING gist (geom);
COMMENT ON TABLE registry.legal_entity_geocode IS
    'Geocoded registered_address of registry.legal_entity: best standard address, level, score, point (EPSG:4490), codes.';

-- Records whose address scored below the run's --min-score, or did not match at all.
-- One row per record (a re-run replaces it; a record that now passes leaves the table).
CREATE TABLE registry.geocode_review (
    person_id              bigint UNIQUE REFERENCES registry.person (person_id) ON DELETE CASCADE,
    entity_id              bigint UNIQUE REFERENCES registry.legal_entity (entity_id) ON DELETE CASCADE,
    register               text GENERATED ALWAYS AS
                               (CASE WHEN person_id IS NOT NULL THEN 'person' ELSE 'legal_entity' END) STORED,
    record_id              bigint GENERATED ALWAYS AS (coalesce(person_id, entity_id)) STORED,
    address_text           text NOT NULL,
    candidate_address_id   text,
    candidate_full_address text,
    match_level            text,
    score                  double precision NOT NULL,
    reason                 text NOT NULL CHECK (reason <> ''),
    created                timestamptz NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(person_id, entity_id) = 1)
);
CREATE INDEX geocode_review_register_idx ON registry.geocode_review (register, score);
COMMENT ON TABLE registry.geocode_review IS
    'Register records to review by hand: geocoded below the minimum score, or not at all, with the reason.';
