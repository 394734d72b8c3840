-- Audit (issue 6, item 5): every data access and administrative act, append-only and
-- hash-chained.  Written only by spatialsvc.audit.log (which assigns seq and the hashes under
-- the anchor's row lock); checked by spatialsvc.audit.verify.  See docs/audit.md.
CREATE SCHEMA IF NOT EXISTS audit;

-- seq is gapless: the writer assigns it under a lock (a sequence would leave gaps on rollback).
-- hash = sha256 of the canonical serialisation of every column but hash (spatialsvc.audit.event).
CREATE TABLE audit.event (
    seq          bigint PRIMARY KEY CHECK (seq > 0),
    at           timestamptz NOT NULL,
    actor_key_id text,
    department   text,
    role         text NOT NULL,
    action       text NOT NULL,
    resource     text,
    endpoint     text NOT NULL,
    method       text NOT NULL,
    params       jsonb NOT NULL DEFAULT '{}',
    returned     integer,
    status       integer NOT NULL,
    duration_ms  real,
    client       text,
    prev_hash    text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash         text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
COMMENT ON TABLE audit.event IS 'Audit log (用户日志): append-only, hash-chained; verify with `spatialsvc audit verify`';
COMMENT ON COLUMN audit.event.returned IS 'Features or tiles returned (NULL: not a data access)';
CREATE INDEX event_at_brin ON audit.event USING brin (at);
CREATE INDEX event_department_idx ON audit.event (department, at);
CREATE INDEX event_resource_idx ON audit.event (resource, at);

-- The head of the chain, one row, advanced in the same transaction as every append.  The
-- writer chains from it (so rows deleted from the tail leave a gap the next append reveals)
-- and verify compares the last row with it (so a deleted tail or a forged row appended after
-- it is detected).  Genesis: seq 0 and 64 zeros.
CREATE TABLE audit.anchor (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq     bigint NOT NULL CHECK (seq >= 0),
    hash    text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    updated timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit.anchor IS 'Head (seq, hash) of the audit chain, advanced with every append; only moves forward';
INSERT INTO audit.anchor (seq, hash) VALUES (0, repeat('0', 64));

-- Append-only for ordinary use.  A superuser or the owner can still disable these triggers
-- (ALTER TABLE ... DISABLE TRIGGER, session_replication_role = replica): that is what the
-- hash chain and `spatialsvc audit verify` are for.
CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE FUNCTION audit.anchor_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq <= OLD.seq THEN
        RAISE EXCEPTION 'audit.anchor only moves forward (seq % to %)', OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER event_no_update_delete BEFORE UPDATE OR DELETE ON audit.event
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON audit.event
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER anchor_forward BEFORE UPDATE ON audit.anchor
    FOR EACH ROW EXECUTE FUNCTION audit.anchor_forward();
CREATE TRIGGER anchor_no_delete BEFORE DELETE ON audit.anchor
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER anchor_no_truncate BEFORE TRUNCATE ON audit.anchor
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Nobody but the owner gets anything by default.  A service role should be granted exactly:
--   GRANT USAGE ON SCHEMA audit TO svc;
--   GRANT SELECT, INSERT ON audit.event TO svc;  GRANT SELECT, UPDATE ON audit.anchor TO svc;
-- (UPDATE on the anchor is needed to advance it; its trigger refuses moving it back.)
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
REVOKE ALL ON audit.event, audit.anchor FROM PUBLIC;
