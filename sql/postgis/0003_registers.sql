-- Registers. In the demo every row is generated and plainly fictitious.
-- eval_address_id keeps the standard address a free-text address was written from: it is for
-- evaluating the geocoder only, and the geocoder must never read it.

CREATE TABLE registry.industry (
    code    text PRIMARY KEY CHECK (code ~ '^[A-T]([0-9]{2})?$'),
    section char(1) NOT NULL,
    name    text NOT NULL
);
COMMENT ON TABLE registry.industry IS 'GB/T 4754-2017 industry sections (A-T) and divisions (2 digits).';

CREATE TABLE registry.person (
    person_id         bigint PRIMARY KEY,
    name              text NOT NULL,
    id_number         char(18) NOT NULL UNIQUE,
    sex               text NOT NULL CHECK (sex IN ('男', '女')),
    birth_date        date NOT NULL,
    phone             text NOT NULL,
    household_id      bigint NOT NULL,
    household_address text NOT NULL,
    eval_address_id   text
);
CREATE INDEX person_household_idx ON registry.person (household_id);
COMMENT ON TABLE registry.person IS 'Population register (人口库). Demo rows are fictitious.';
COMMENT ON COLUMN registry.person.eval_address_id IS 'For geocoder evaluation only: never read by the geocoder.';

CREATE TABLE registry.legal_entity (
    entity_id          bigint PRIMARY KEY,
    uscc               char(18) NOT NULL UNIQUE,
    name               text NOT NULL,
    industry_code      text NOT NULL REFERENCES registry.industry (code),
    industry_section   char(1) NOT NULL,
    registered_address text NOT NULL,
    registered_capital numeric(14, 2) NOT NULL,
    employees          integer NOT NULL CHECK (employees >= 0),
    revenue            numeric(16, 2) NOT NULL,
    tax                numeric(14, 2) NOT NULL,
    founding_date      date NOT NULL,
    eval_address_id    text
);
CREATE INDEX legal_entity_industry_idx ON registry.legal_entity (industry_code);
COMMENT ON TABLE registry.legal_entity IS 'Legal-entity register (法人库). Demo rows are fictitious. Money in 10,000 yuan (万元).';
COMMENT ON COLUMN registry.legal_entity.eval_address_id IS 'For geocoder evaluation only: never read by the geocoder.';

CREATE TABLE registry.camera (
    camera_id     text PRIMARY KEY,
    name          text NOT NULL,
    road          text NOT NULL,
    township_code text NOT NULL,
    kind          text NOT NULL,
    geom          geometry(Point, 4490) NOT NULL
);
CREATE INDEX camera_geom_idx ON registry.camera USING gist (geom);
COMMENT ON TABLE registry.camera IS 'Video points along roads. Demo rows are fictitious.';

CREATE TABLE registry.macro_indicator (
    township_code        text NOT NULL,
    year                 integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
    gdp                  numeric(12, 2) NOT NULL,
    industrial_output    numeric(12, 2) NOT NULL,
    retail_sales         numeric(12, 2) NOT NULL,
    fixed_investment     numeric(12, 2) NOT NULL,
    fiscal_revenue       numeric(12, 2) NOT NULL,
    resident_population  integer NOT NULL,
    PRIMARY KEY (township_code, year)
);
COMMENT ON TABLE registry.macro_indicator IS 'Township macro-economic indicators by year (money in 100 million yuan, 亿元). Demo rows are fictitious.';
