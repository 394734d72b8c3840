-- OGC API - Processes jobs, kept by spatialsvc.processes.manager.JobManager (a subclass of
-- pygeoapi's PostgreSQL manager) so that every worker of the service sees every job.
-- Columns are the job fields pygeoapi 0.21 writes; results are files under the service home.
CREATE TABLE meta.process_job (
    identifier text PRIMARY KEY,
    type       text NOT NULL DEFAULT 'process',
    process_id text NOT NULL,
    created    timestamptz NOT NULL DEFAULT now(),
    started    timestamptz,
    updated    timestamptz,
    finished   timestamptz,
    status     text NOT NULL
               CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    location   text,
    mimetype   text,
    message    text,
    progress   integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100)
);
CREATE INDEX process_job_created_idx ON meta.process_job (created DESC);
CREATE INDEX process_job_status_idx ON meta.process_job (status);
COMMENT ON TABLE meta.process_job IS 'OGC API - Processes jobs (geocode, reverse-geocode, geocode-batch): status and where the result file is.';
