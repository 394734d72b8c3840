-- Extensions and the schemas the spatial base library lives in.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE SCHEMA IF NOT EXISTS base;      -- the spatial base library (空间地理库)
CREATE SCHEMA IF NOT EXISTS registry;  -- population, legal-entity and other registers
CREATE SCHEMA IF NOT EXISTS data;      -- layers ingested from departments' files
CREATE SCHEMA IF NOT EXISTS meta;      -- what was loaded, when, by whom

COMMENT ON SCHEMA base IS 'Spatial base library: divisions, grids, roads, compounds, buildings, standard addresses, POIs (CGCS2000, EPSG:4490)';
COMMENT ON SCHEMA registry IS 'Registers. In the demo every row is generated and fictitious.';
COMMENT ON SCHEMA data IS 'Layers ingested from departments'' files (spatialsvc ingest)';
