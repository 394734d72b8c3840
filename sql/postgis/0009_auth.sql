-- Access control (issue 6): departments, API keys (hashes only) and applications for
-- conditional resources.  Kept by spatialsvc.auth; decisions are made by spatialsvc.auth.policy.
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE auth.department (
    code    text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name    text NOT NULL CHECK (btrim(name) <> ''),
    created timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE auth.department IS 'Departments (部门) that hold keys and apply for resources';

-- A key is shown once as ssk_<id>_<secret>; only sha256 of the whole key is stored.
CREATE TABLE auth.api_key (
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9]{8}$'),
    department text NOT NULL REFERENCES auth.department (code) ON UPDATE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'publisher', 'consumer')),
    label      text NOT NULL DEFAULT '',
    key_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(key_sha256) = 32),
    created    timestamptz NOT NULL DEFAULT now(),
    expires    timestamptz,
    revoked_at timestamptz,
    last_used  timestamptz,
    CHECK (expires IS NULL OR expires > created),
    CHECK (revoked_at IS NULL OR revoked_at >= created)
);
COMMENT ON TABLE auth.api_key IS 'API keys: the public id (the ssk_<id>_ prefix) and the sha256 of the key, never the key';
CREATE INDEX api_key_department_idx ON auth.api_key (department);

CREATE TABLE auth.application (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    department   text NOT NULL REFERENCES auth.department (code) ON UPDATE CASCADE,
    resource     text NOT NULL CHECK (resource ~ '^[a-z][a-z0-9_]{0,62}$'),
    purpose      text NOT NULL CHECK (btrim(purpose) <> ''),
    fields       text[] CHECK (fields IS NULL OR cardinality(fields) > 0),
    valid_from   timestamptz NOT NULL DEFAULT now(),
    valid_until  timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'rejected', 'revoked')),
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_key  text REFERENCES auth.api_key (id),
    decided_by   text REFERENCES auth.department (code) ON UPDATE CASCADE,
    decided_key  text REFERENCES auth.api_key (id),
    decided_at   timestamptz,
    reason       text,
    CHECK (valid_until > valid_from),
    -- pending: undecided; every other status names who decided and when
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'pending') = (decided_by IS NULL))
);
COMMENT ON TABLE auth.application IS 'Applications (共享申请) for conditional resources; an approved one whose period covers now is a grant';
COMMENT ON COLUMN auth.application.fields IS 'Sensitive fields asked for in clear; NULL: the default fields (sensitive ones masked)';
CREATE INDEX application_grants_idx ON auth.application (department, resource)
    WHERE status = 'approved';
CREATE INDEX application_resource_idx ON auth.application (resource, status);
