-- Access control in the database (issue 6): the masks of sensitive fields for vector tiles, and
-- who started each process job.
--
-- auth.mask_value(field, value) is the SQL twin of spatialsvc.auth.mask.mask_value, so that a
-- tile rendered by ST_AsMVT carries the same masked values as the GeoJSON items
-- (tests/access/test_tile_masks.py compares the two on the register's values). A field without
-- a mask gives NULL (left out), as in Python.
CREATE FUNCTION auth.mask_value(field text, value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    s    text;
    n    integer;
    head text;
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    s := regexp_replace(value, '^[[:space:]\u3000]+|[[:space:]\u3000]+$', '', 'g');
    n := char_length(s);
    IF field = 'id_number' THEN
        IF n <= 8 THEN RETURN repeat('*', n); END IF;
        RETURN left(s, 4) || repeat('*', n - 8) || right(s, 4);
    ELSIF field IN ('phone', 'mobile') THEN
        IF n <= 7 THEN RETURN repeat('*', n); END IF;
        RETURN left(s, 3) || repeat('*', n - 7) || right(s, 4);
    ELSIF field IN ('name', 'person_name') THEN
        IF n = 0 THEN RETURN s; END IF;
        RETURN left(s, 1) || repeat('*', greatest(n - 1, 1));
    ELSIF field = 'household_address' THEN
        -- everything before the first house / building / room number, cut after its last
        -- community, road or township word (the longest match ends there)
        head := substring(s FROM '^[^0-9０-９#＃]*');
        RETURN coalesce(substring(head FROM '^(.*(社区|居委会|村委会|村|大道|路|街道|街|巷|镇|乡))'), '')
            || '***';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION auth.mask_value(text, text) IS
    'The masked form of a sensitive value (twin of spatialsvc.auth.mask.mask_value); NULL = left out.';

-- Jobs belong to the department whose key started them: /jobs lists, and /jobs/{id} shows,
-- only the caller's department's jobs (administrators see all). NULL: started with access
-- control off, or before this migration.
ALTER TABLE meta.process_job
    ADD COLUMN owner_department text,
    ADD COLUMN owner text;
CREATE INDEX process_job_owner_idx ON meta.process_job (owner_department, created DESC);
