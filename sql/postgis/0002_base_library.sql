-- The spatial base library, stored in CGCS2000 (EPSG:4490), lon/lat, with GiST indexes.

CREATE TABLE base.admin_division (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$'),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'city', 'county', 'township', 'community')),
    parent_code text REFERENCES base.admin_division (code),
    geom        geometry(MultiPolygon, 4490) NOT NULL
);
CREATE INDEX admin_division_geom_idx ON base.admin_division USING gist (geom);
CREATE INDEX admin_division_parent_idx ON base.admin_division (parent_code);
COMMENT ON TABLE base.admin_division IS 'Administrative divisions. Province, city and county polygons are real (Tianditu); township and community polygons are generated inside their parent, with real names and codes.';

CREATE TABLE base.grid (
    code           text PRIMARY KEY CHECK (code ~ '^[0-9]{15}$'),
    name           text NOT NULL,
    community_code text NOT NULL REFERENCES base.admin_division (code),
    geom           geometry(MultiPolygon, 4490) NOT NULL,
    CHECK (left(code, 12) = community_code)
);
CREATE INDEX grid_geom_idx ON base.grid USING gist (geom);
COMMENT ON TABLE base.grid IS 'Grids (网格): each community split into 2-8 grids; code = community code + 3 digits. Generated.';

CREATE TABLE base.road (
    road_id       text PRIMARY KEY,
    name          text NOT NULL,
    township_code text NOT NULL REFERENCES base.admin_division (code),
    road_class    text NOT NULL CHECK (road_class IN ('arterial', 'secondary', 'branch')),
    geom          geometry(LineString, 4490) NOT NULL
);
CREATE INDEX road_geom_idx ON base.road USING gist (geom);
CREATE INDEX road_name_idx ON base.road (name);
COMMENT ON TABLE base.road IS 'Roads, generated. township_code is the township the road belongs to for addressing; a road may cross township borders and names repeat across townships.';

CREATE TABLE base.compound (
    compound_id    text PRIMARY KEY,
    name           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('小区', '院落')),
    township_code  text NOT NULL REFERENCES base.admin_division (code),
    community_code text NOT NULL REFERENCES base.admin_division (code),
    road           text,
    door_number    text,
    geom           geometry(Polygon, 4490) NOT NULL
);
CREATE INDEX compound_geom_idx ON base.compound USING gist (geom);
CREATE INDEX compound_name_idx ON base.compound (name);
COMMENT ON TABLE base.compound IS 'Compounds (小区/院落), generated.';

CREATE TABLE base.building (
    building_id    text PRIMARY KEY,
    compound_id    text REFERENCES base.compound (compound_id),
    number         text NOT NULL,
    road           text,
    door_number    text,
    floors         integer NOT NULL CHECK (floors BETWEEN 1 AND 80),
    units          integer NOT NULL CHECK (units BETWEEN 1 AND 12),
    community_code text NOT NULL REFERENCES base.admin_division (code),
    geom           geometry(Polygon, 4490) NOT NULL
);
CREATE INDEX building_geom_idx ON base.building USING gist (geom);
CREATE INDEX building_compound_idx ON base.building (compound_id);
COMMENT ON TABLE base.building IS 'Buildings (幢): in a compound (compound_id set) or on a door plate (road + door_number). Generated.';

CREATE TABLE base.standard_address (
    address_id    text PRIMARY KEY,
    admin_code    text NOT NULL REFERENCES base.admin_division (code) CHECK (admin_code ~ '^[0-9]{12}$'),
    province      text NOT NULL,
    city          text NOT NULL,
    county        text NOT NULL,
    township      text NOT NULL,
    community     text NOT NULL,
    road          text,
    door_number   text,
    compound      text,
    building      text,
    unit          text,
    floor         text,
    room          text,
    full_address  text NOT NULL UNIQUE,
    level         text NOT NULL CHECK (level IN ('door', 'building', 'room')),
    geom          geometry(Point, 4490) NOT NULL,
    township_code text NOT NULL,
    compound_id   text,
    building_id   text
);
CREATE INDEX standard_address_geom_idx ON base.standard_address USING gist (geom);
CREATE INDEX standard_address_admin_idx ON base.standard_address (admin_code);
CREATE INDEX standard_address_road_idx ON base.standard_address (road, door_number);
CREATE INDEX standard_address_compound_idx ON base.standard_address (compound, building);
COMMENT ON TABLE base.standard_address IS 'Standard addresses (标准地址), generated: door plates, buildings and rooms.';

CREATE TABLE base.poi (
    poi_id    text PRIMARY KEY,
    name      text NOT NULL,
    category  text NOT NULL,
    osm_query text,
    county    text,
    geom      geometry(MultiPolygon, 4490) NOT NULL,
    centroid  geometry(Point, 4490) NOT NULL,
    source    text NOT NULL
);
CREATE INDEX poi_geom_idx ON base.poi USING gist (geom);
CREATE INDEX poi_centroid_idx ON base.poi USING gist (centroid);
COMMENT ON TABLE base.poi IS 'Schools, hospitals and malls of Haishu from OpenStreetMap. © OpenStreetMap contributors, ODbL 1.0.';
