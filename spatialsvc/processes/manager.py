"""A PostgreSQL job manager for pygeoapi, on our database and our ``meta.process_job`` table.

pygeoapi's own :class:`~pygeoapi.process.manager.postgresql.PostgreSQLManager` wants the
database connection in its configuration, a ``public.jobs`` table, and GeoAlchemy2 (it imports
pygeoapi's SQL feature provider). This one keeps the same behaviour (pygeoapi's
:class:`~pygeoapi.process.manager.base.BaseManager` runs the jobs; async jobs in a background
thread) and stores them through the service's connection pool:

- the configuration carries no connection (``connection: spatialsvc`` means "the service's own
  database"): the URL comes from the settings the app factory bound;
- nothing connects when the manager is built, so the service starts before the migration is
  applied; a missing table is then a clear error on the first job;
- the table is ``meta.process_job`` (``sql/postgis/0008_jobs.sql``); job lists are paged in SQL,
  newest first; dates are returned as pygeoapi formats them;
- results are files in ``output_dir`` (under the service's home): every worker sharing the home
  and the database sees every job;
- a job belongs to the department whose caller started it (:data:`CALLER`, set by the web
  layer for each request when access control is on): that department's callers list and read
  it, administrators read every job, others get 404. Without a caller (access control off, or
  the job's own background thread) nothing is filtered;
- a job records the worker lease of the process running it (``worker``,
  :mod:`spatialsvc.processes.lease`); listing or reading jobs first marks ``failed``
  (:data:`INTERRUPTED`) the unfinished jobs whose process died (:func:`reap_orphaned_jobs`, at
  most every :data:`REAP_EVERY_SECONDS` per process). A finished job is never changed again:
  pygeoapi's own updates only apply to an unfinished job.

Why a live job cannot be reaped: its process took its lease (the advisory lock) before inserting
it, and keeps that session open while it lives; the lock leaves ``pg_locks`` only when that
session ends. The session also ends when PostgreSQL restarts, while the process lives on: no job
is reaped in the first :data:`REAP_GRACE_SECONDS` after PostgreSQL started, and the lease's
thread takes the same lock again within about a second. What is left is a lease session ended
alone (``pg_terminate_backend``, a network cut longer than the keepalives) for more than the
second the lease needs to come back, with a reader reaping in that second: the job is then marked
failed although its thread runs on; when that thread finishes, its update is refused (the job is
finished) and the result file it wrote is removed, so the job stays a consistent failed job.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from pygeoapi.process.base import JobNotFoundError
from pygeoapi.process.manager.base import BaseManager
from pygeoapi.util import DATETIME_FORMAT, JobStatus

from spatialsvc.db.pool import connection
from spatialsvc.errors import ConfigError, NotFound
from spatialsvc.processes import lease, retention
from spatialsvc.providers import context

LOG = logging.getLogger(__name__)

TABLE = sql.SQL("meta.process_job")
COLUMNS = (
    "identifier",
    "type",
    "process_id",
    "created",
    "started",
    "updated",
    "finished",
    "status",
    "location",
    "mimetype",
    "message",
    "progress",
)
OWNER_COLUMNS = ("owner_department", "owner")
UNFINISHED = ("accepted", "running")
DATE_FIELDS = frozenset({"created", "started", "updated", "finished"})
JSON_TYPES = (None, "application/json", "application/ld+json")


@dataclass(frozen=True)
class JobCaller:
    """Who is asking for jobs: a department (None for the public), a name, whether admin."""

    department: str | None
    who: str
    admin: bool = False


CALLER: ContextVar[JobCaller | None] = ContextVar("spatialsvc_job_caller", default=None)
"""The caller of the current request, set by :mod:`spatialsvc.web.processes`."""


def _owner_filter(caller: JobCaller | None) -> tuple[sql.Composable, dict[str, Any]]:
    """The WHERE condition that keeps the caller's department's jobs (TRUE for no caller)."""
    if caller is None or caller.admin:
        return sql.SQL("TRUE"), {}
    if caller.department is None:
        return sql.SQL("owner_department IS NULL AND owner = %(owner)s"), {"owner": caller.who}
    return sql.SQL("owner_department = %(owner_department)s"), {
        "owner_department": caller.department
    }


def _formatted(row: tuple[Any, ...]) -> dict[str, Any]:
    job = dict(zip(COLUMNS, row[: len(COLUMNS)], strict=True))
    for name in DATE_FIELDS:
        value = job[name]
        if isinstance(value, datetime):
            job[name] = value.astimezone(UTC).strftime(DATETIME_FORMAT)
    return job


INTERRUPTED = (
    "interrupted: the service process running this job stopped before it finished;"
    " run the process again"
)
"""The message of a job marked failed because the process running it died."""
REAP_GRACE_SECONDS = 30.0
"""No job is reaped this soon after PostgreSQL started: the live processes' leases ended with
the old server and are being taken again (their threads retry every second)."""
REAP_EVERY_SECONDS = 2.0
"""A process reaps at most this often, when jobs are listed or read."""
PRUNE_EVERY_SECONDS = 3600.0
"""A process prunes old finished jobs (:mod:`spatialsvc.processes.retention`) at most this
often, when a job is added."""
LEGACY_STALE_SECONDS = 3600.0
"""A job without a worker (started before migration 0013, or by a process of an older release
still running beside this one) is reaped once it has not been updated for this long: a running
batch records its progress every 500 addresses, and no job of the service runs an hour."""

REAP_SQL = sql.SQL(
    """UPDATE {table} AS j
SET status = 'failed', finished = now(), updated = now(), message = %(message)s
WHERE j.status IN ('accepted', 'running')
  AND now() - pg_postmaster_start_time() >= make_interval(secs => %(grace)s)
  AND CASE
    WHEN j.worker IS NULL THEN
      coalesce(j.updated, j.created) < now() - make_interval(secs => %(stale)s)
    ELSE NOT EXISTS (
      SELECT 1 FROM pg_locks AS l
      WHERE l.locktype = 'advisory'
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = %(namespace)s AND l.objid = j.worker AND l.objsubid = 2 AND l.granted)
  END
RETURNING j.identifier"""
).format(table=TABLE)


def reap_params(
    grace_seconds: float = REAP_GRACE_SECONDS, stale_seconds: float = LEGACY_STALE_SECONDS
) -> dict[str, Any]:
    """The parameters of :data:`REAP_SQL`."""
    return {
        "message": INTERRUPTED,
        "grace": float(grace_seconds),
        "stale": float(stale_seconds),
        "namespace": lease.NAMESPACE,
    }


def reap_orphaned_jobs(
    conn: Any,
    grace_seconds: float = REAP_GRACE_SECONDS,
    stale_seconds: float = LEGACY_STALE_SECONDS,
) -> list[str]:
    """Mark failed (:data:`INTERRUPTED`) every unfinished job whose process died, in one
    statement on ``conn`` (the caller commits); returns their identifiers.

    A job's process is dead when no session holds its worker's lease; a job without a worker
    when it was not updated for ``stale_seconds``. Nothing is reaped while PostgreSQL has been
    up for less than ``grace_seconds``.
    """
    with conn.cursor() as cur:
        cur.execute(REAP_SQL, reap_params(grace_seconds, stale_seconds))
        return [str(row[0]) for row in cur.fetchall()]


PROGRESS_SQL = sql.SQL(
    "UPDATE {} SET status = 'running', progress = %s, message = %s, updated = now()"
    " WHERE identifier = %s AND status IN ('accepted', 'running')"
).format(TABLE)


def report_progress(job_id: str, done: int, total: int) -> None:
    """Record how far a running job is (5-94 %: pygeoapi writes 95 and 100 itself).

    pygeoapi leaves a job 'accepted' until it writes the output: the first report marks it
    'running'.
    """
    percent = 5 + int(89 * done / total) if total else 5
    settings = context.current().settings
    with connection(settings) as conn, conn.cursor() as cur:
        cur.execute(PROGRESS_SQL, (percent, f"{done} of {total} addresses geocoded", job_id))


class JobManager(BaseManager):
    """Asynchronous jobs in ``meta.process_job``, shared by every worker of the service."""

    def __init__(self, manager_def: dict[str, Any]) -> None:
        super().__init__(manager_def)
        self.is_async = True
        self.supports_subscribing = True
        folder = manager_def.get("output_dir")
        self.output_dir: Path | None = Path(folder) if folder else None
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        self._next_reap = 0.0
        self._reap_lock = threading.Lock()
        self._next_prune = 0.0

    def _run(self, query: sql.Composable, params: Any = None) -> list[tuple[Any, ...]]:
        settings = context.current().settings
        with connection(settings) as conn, conn.cursor() as cur:
            try:
                cur.execute(query, params)
            except psycopg2.errors.UndefinedTable:
                raise ConfigError(
                    "the job table meta.process_job is missing: run `spatialsvc db migrate`"
                ) from None
            except psycopg2.errors.UndefinedColumn:
                raise ConfigError(
                    "the job table meta.process_job is out of date: run `spatialsvc db migrate`"
                ) from None
            return cur.fetchall() if cur.description is not None else [(cur.rowcount,)]

    def reap(self) -> list[str]:
        """Mark failed the unfinished jobs of dead processes, at most every
        :data:`REAP_EVERY_SECONDS` in this process; returns their identifiers."""
        with self._reap_lock:
            now = time.monotonic()
            if now < self._next_reap:
                return []
            self._next_reap = now + REAP_EVERY_SECONDS
        reaped = [str(r[0]) for r in self._run(REAP_SQL, reap_params())]
        if reaped:
            LOG.warning(
                "%d job(s) marked failed: their service process stopped (%s)",
                len(reaped),
                ", ".join(reaped[:10]),
            )
        return reaped

    def prune_later(self) -> None:
        """Start pruning old finished jobs in a background thread, at most every
        :data:`PRUNE_EVERY_SECONDS` in this process (``job_retention_days``; 0: never)."""
        settings = context.current().settings
        days = settings.job_retention_days
        if days <= 0:
            return
        with self._reap_lock:
            now = time.monotonic()
            if now < self._next_prune:
                return
            self._next_prune = now + PRUNE_EVERY_SECONDS

        def run() -> None:
            try:
                with connection(settings) as conn:
                    done = retention.prune(conn, self.output_dir, days * 86_400)
            except Exception:  # housekeeping: never fail a request over it
                LOG.warning("pruning old jobs failed; will try again", exc_info=True)
                with self._reap_lock:
                    self._next_prune = time.monotonic() + 60.0
                return
            if done.jobs or done.files:
                LOG.info("pruned %d old job(s) and %d result file(s)", done.jobs, done.files)

        threading.Thread(target=run, name="spatialsvc-job-prune", daemon=True).start()

    def _select(self) -> sql.Composed:
        return sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), TABLE
        )

    def get_jobs(
        self, status: JobStatus | None = None, limit: int | None = None, offset: int | None = None
    ) -> dict[str, Any]:
        """A page of jobs, newest first, and how many there are."""
        self.reap()
        owned, owner_params = _owner_filter(CALLER.get())
        where = sql.SQL(" WHERE {}{}").format(
            owned, sql.SQL(" AND status = %(status)s") if status is not None else sql.SQL("")
        )
        params = {
            "status": status.value if status is not None else None,
            "limit": limit,
            "offset": offset or 0,
            **owner_params,
        }
        query = sql.SQL("{}{} ORDER BY created DESC, identifier LIMIT %(limit)s OFFSET %(offset)s")
        rows = self._run(query.format(self._select(), where), params)
        count = self._run(sql.SQL("SELECT count(*) FROM {}{}").format(TABLE, where), params)
        return {"jobs": [_formatted(r) for r in rows], "numberMatched": int(count[0][0])}

    def add_job(self, job_metadata: dict[str, Any]) -> str:
        """Insert a job, recording this process's worker lease; returns its identifier."""
        caller = CALLER.get()
        if caller is not None:
            job_metadata = {
                **job_metadata,
                "owner_department": caller.department,
                "owner": caller.who,
            }
        self.prune_later()
        # the lease is held before the job exists: no reader can see the job without it
        job_metadata = {**job_metadata, "worker": lease.worker_id(context.current().settings)}
        names = [c for c in (*COLUMNS, *OWNER_COLUMNS, "worker") if c in job_metadata]
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            TABLE,
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder(n) for n in names),
        )
        self._run(query, {n: job_metadata[n] for n in names})
        return str(job_metadata["identifier"])

    def update_job(self, job_id: str, update_dict: dict[str, Any]) -> bool:
        """Update an unfinished job's known fields; True if it was updated.

        A finished job (successful, failed, dismissed: here, one reaped as interrupted) is left
        as it is, and the result file written for the refused update is removed.
        """
        names = [c for c in COLUMNS if c in update_dict and c != "identifier"]
        if not names:
            return False
        query = sql.SQL(
            "UPDATE {} SET {} WHERE identifier = %(job_id)s AND status = ANY(%(unfinished)s)"
        ).format(
            TABLE,
            sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(n), sql.Placeholder(n)) for n in names
            ),
        )
        params = {n: update_dict[n] for n in names} | {
            "job_id": job_id,
            "unfinished": list(UNFINISHED),
        }
        if self._run(query, params)[0][0] == 1:
            return True
        self._drop_refused_result(job_id, update_dict.get("location"))
        return False

    def _drop_refused_result(self, job_id: str, location: Any) -> None:
        """Remove the result file of an update refused because the job was finished (or
        deleted): no job row points at it, so nobody could ever read it."""
        path = retention.result_file(self.output_dir, location)
        if path is None:
            return
        rows = self._run(
            sql.SQL("SELECT status, location FROM {} WHERE identifier = %s").format(TABLE),
            (job_id,),
        )
        if rows and retention.result_file(self.output_dir, rows[0][1]) == path:
            return  # the result the job row points at
        was = rows[0][0] if rows else "deleted"
        LOG.warning("job %s finished here but was already %s: its result is dropped", job_id, was)
        path.unlink(missing_ok=True)

    def get_job(self, job_id: str) -> dict[str, Any]:
        """One job, with its dates as pygeoapi writes them."""
        if "\x00" in job_id:  # PostgreSQL text cannot hold NUL: psycopg2 refuses it (a 500)
            raise JobNotFoundError()
        self.reap()
        owned, owner_params = _owner_filter(CALLER.get())
        query = sql.SQL("{} WHERE identifier = %(job_id)s AND {}").format(self._select(), owned)
        rows = self._run(query, {"job_id": job_id, **owner_params})
        if not rows:  # or another department's job: it does not exist for this caller
            raise JobNotFoundError()
        return _formatted(rows[0])

    def delete_job(self, job_id: str) -> bool:
        """Delete a job and its result file."""
        job = self.get_job(job_id)
        deleted = self._run(
            sql.SQL("DELETE FROM {} WHERE identifier = %s").format(TABLE), (job_id,)
        )
        path = retention.result_file(self.output_dir, job.get("location"))
        if path is not None:
            path.unlink(missing_ok=True)
        return bool(deleted[0][0] == 1)

    def get_job_result(self, job_id: str) -> tuple[Any, ...]:
        """The job's MIME type and output (JSON decoded, anything else as bytes)."""
        job = self.get_job(job_id)
        if job["status"] != JobStatus.successful.value:
            return (None,)
        location, mimetype = job.get("location"), job.get("mimetype")
        try:
            if not location or location == "None":
                raise FileNotFoundError(location)
            path = Path(location)
            if mimetype in JSON_TYPES:
                return mimetype, json.loads(path.read_text(encoding="utf-8"))
            return mimetype, path.read_bytes()
        except (OSError, ValueError):
            # pygeoapi would answer its JobResultNotFoundError with a 500: a result pruned, or
            # kept in another machine's home, is not a server error
            raise NotFound(
                f"the result of job {job_id[:64]!r} is no longer kept (results are kept"
                " SPATIALSVC_JOB_RETENTION_DAYS days, in the home of the machine that ran it)"
            ) from None

    def __repr__(self) -> str:
        return "<JobManager> meta.process_job"
