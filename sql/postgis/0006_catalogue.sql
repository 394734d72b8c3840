-- The resource catalogue (政务信息资源目录): one record per published layer, basemap and
-- service, plus layers ingested from departments' files.  Kept in step by
-- spatialsvc.catalogue.sync_catalogue; served as OGC API - Records.

CREATE TABLE meta.catalogue_record (
    identifier        text PRIMARY KEY CHECK (identifier ~ '^[a-z][a-z0-9_]{0,62}$'),
    kind              text NOT NULL CHECK (kind IN ('layer', 'basemap', 'service')),
    title             text NOT NULL CHECK (title <> ''),
    description       text NOT NULL DEFAULT '',
    keywords          text[] NOT NULL DEFAULT '{}',
    resource_code     text,
    department_code   text NOT NULL,
    department_name   text NOT NULL,
    category          text NOT NULL
                      CHECK (category IN ('人口', '法人', '空间地理', '宏观经济', '其他')),
    sharing           text NOT NULL CHECK (sharing IN ('open', 'unconditional', 'conditional', 'none')),
    sharing_attribute text NOT NULL CHECK (sharing_attribute IN ('无条件共享', '有条件共享', '不予共享')),
    open_attribute    text NOT NULL CHECK (open_attribute IN ('开放', '不开放')),
    update_cycle      text NOT NULL,
    fields            jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(fields) = 'array'),
    crs               text[] NOT NULL DEFAULT '{}',
    extent            geometry(Polygon, 4490),
    links             jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(links) = 'array'),
    updated           timestamptz NOT NULL DEFAULT now(),
    anytext           text NOT NULL DEFAULT ''
);

COMMENT ON TABLE meta.catalogue_record IS
    'Resource catalogue (政务信息资源目录): published layers, basemaps and the service itself';
COMMENT ON COLUMN meta.catalogue_record.links IS
    'Endpoints of the resource; href is a path relative to the service root';
COMMENT ON COLUMN meta.catalogue_record.anytext IS
    'Title, description, keywords, department, codes and field names: what q= searches';

CREATE INDEX catalogue_record_anytext_trgm ON meta.catalogue_record USING gin (anytext gin_trgm_ops);
CREATE INDEX catalogue_record_extent_gist ON meta.catalogue_record USING gist (extent);
CREATE INDEX catalogue_record_category ON meta.catalogue_record (category);
CREATE INDEX catalogue_record_department ON meta.catalogue_record (department_code);
