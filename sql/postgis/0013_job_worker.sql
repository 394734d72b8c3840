-- Which service process runs each process job, so that a job left unfinished by a process that
-- died (kill -9, out of memory, a reboot) can be told from one still running.
--
-- Every service process that starts jobs holds a worker lease (spatialsvc.processes.lease): a
-- session advisory lock pg_advisory_lock(7202612, worker) on a connection of its own. A job
-- 'accepted' or 'running' whose worker's lock is in no session's pg_locks belongs to a dead
-- process: spatialsvc.processes.manager marks it 'failed' ("interrupted: ...") when jobs are
-- listed or read. NULL: started before this migration (such a job is marked failed once it has
-- not been updated for an hour).
ALTER TABLE meta.process_job ADD COLUMN worker integer;
COMMENT ON COLUMN meta.process_job.worker IS
    'Worker lease (advisory lock 7202612, worker) of the service process running the job; NULL: started before migration 0013.';
-- The unfinished jobs are the only ones the reaping looks at: few rows in a large table.
CREATE INDEX process_job_unfinished_idx ON meta.process_job (worker)
    WHERE status IN ('accepted', 'running');
