-- Rate limits shared by every service worker (spatialsvc.web.access.RateLimiter): one token
-- bucket per caller (`key:ID`, `oidc:SUB`, `ip:ADDRESS`, `fail:ip:ADDRESS`) in PostgreSQL, so
-- that N workers on M machines give a key its limit once, not N x M times.
--
-- UNLOGGED: the buckets are not written to the WAL (cheaper, and not replicated); a crash
-- empties the table, which only gives every caller a full bucket again.
--
-- A row holds the tokens left at `at`; the refill since then (capacity and rate come with each
-- call, from SPATIALSVC_RATE_LIMIT_PER_MINUTE) is computed when the bucket is next used, so
-- nothing runs between requests. A bucket that has refilled completely says nothing a missing
-- row would not say: auth.forget_full_buckets deletes those, called now and then by each
-- worker (off the request's critical work: once every few minutes).
CREATE UNLOGGED TABLE auth.rate_bucket (
    subject text PRIMARY KEY CHECK (subject <> ''),
    tokens  double precision NOT NULL CHECK (tokens >= 0),
    at      timestamptz NOT NULL
);
COMMENT ON TABLE auth.rate_bucket IS 'Rate-limit token buckets, one per caller, shared by every worker; unlogged (a crash only refills them); no row = a full bucket';
COMMENT ON COLUMN auth.rate_bucket.subject IS 'Who: key:ID, oidc:SUB, ip:ADDRESS (the public), fail:ip:ADDRESS (failed sign-ins)';
COMMENT ON COLUMN auth.rate_bucket.tokens IS 'Tokens left at `at` (the refill since then is added when the bucket is next used)';
COMMENT ON COLUMN auth.rate_bucket.at IS 'When tokens was last computed (clock_timestamp() of the last token taken)';

-- The tokens in a bucket at `upto`: what it held at `since` plus the refill, at most capacity.
CREATE FUNCTION auth.bucket_level(
    tokens double precision,
    since timestamptz,
    upto timestamptz,
    capacity double precision,
    per_second double precision
) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT least(
        capacity,
        tokens + greatest(extract(epoch FROM upto - since)::double precision, 0) * per_second
    )
$$;
COMMENT ON FUNCTION auth.bucket_level(double precision, timestamptz, timestamptz, double precision, double precision) IS
    'Tokens in a bucket at upto, given what it held at since: refilled at per_second, capped at capacity.';

-- Take one token from subject's bucket: 0 when the request may go ahead, else the seconds until
-- a token is there. One call is one transaction: the INSERT ... ON CONFLICT locks the row
-- (callers on one subject wait for each other there), and the refill is computed from
-- clock_timestamp() once the lock is held. A refused call changes nothing (the refill is
-- linear, so leaving `tokens` and `at` as they are is the same as moving both to now).
CREATE FUNCTION auth.take_token(
    subject text,
    capacity double precision,
    per_second double precision
) RETURNS double precision
LANGUAGE plpgsql VOLATILE STRICT AS $$
DECLARE
    refilled double precision;
BEGIN
    IF capacity < 1 OR per_second <= 0 THEN
        RAISE EXCEPTION 'auth.take_token: capacity must be at least 1 and per_second above 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO auth.rate_bucket AS b (subject, tokens, at)
    VALUES (take_token.subject, capacity - 1, clock_timestamp())
    ON CONFLICT ON CONSTRAINT rate_bucket_pkey DO UPDATE
        SET tokens = auth.bucket_level(b.tokens, b.at, clock_timestamp(), capacity, per_second) - 1,
            at = clock_timestamp()
        WHERE auth.bucket_level(b.tokens, b.at, clock_timestamp(), capacity, per_second) >= 1;
    IF FOUND THEN
        RETURN 0;
    END IF;
    -- refused: the statement above left the row locked by this transaction
    SELECT auth.bucket_level(b.tokens, b.at, clock_timestamp(), capacity, per_second)
      INTO refilled
      FROM auth.rate_bucket AS b
     WHERE b.subject = take_token.subject;
    RETURN greatest(1 - refilled, 0) / per_second;
END
$$;
COMMENT ON FUNCTION auth.take_token(text, double precision, double precision) IS
    'Token bucket: take one token from subject''s bucket (capacity, refilled at per_second); 0 = go ahead, else seconds to wait.';

-- Forget the buckets that have refilled completely (a missing row is a full bucket). Rows a
-- concurrent auth.take_token holds are skipped, not waited for.
CREATE FUNCTION auth.forget_full_buckets(
    capacity double precision,
    per_second double precision
) RETURNS bigint
LANGUAGE sql VOLATILE STRICT AS $$
    WITH gone AS (
        DELETE FROM auth.rate_bucket
         WHERE subject IN (
                SELECT b.subject
                  FROM auth.rate_bucket AS b
                 WHERE auth.bucket_level(b.tokens, b.at, clock_timestamp(), capacity, per_second)
                       >= capacity
                   FOR UPDATE SKIP LOCKED)
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
COMMENT ON FUNCTION auth.forget_full_buckets(double precision, double precision) IS
    'Delete the rate-limit buckets that are full again (they carry no information); returns how many.';
