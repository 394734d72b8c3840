"""How long finished jobs and their result files are kept.

pygeoapi records every execution as a job, synchronous ones too, and writes its result to a
file under the job manager's ``output_dir``; it never removes either ("there is no clean-up of
old process outputs"). A service answering ``/processes/geocode`` all day would fill its table
and its disk. :func:`prune` deletes the jobs finished (successful, failed or dismissed) before a
cutoff with their result files, and the result files older than the cutoff that no job points
at (left by a process killed between writing the file and recording it). Unfinished jobs are
never touched here: a dead process's jobs are marked failed first
(:func:`spatialsvc.processes.manager.reap_orphaned_jobs`), then pruned like any other.

The job manager prunes by itself, in a background thread, at most once an hour per process
(``SPATIALSVC_JOB_RETENTION_DAYS``, 7 by default; 0 keeps everything);
``spatialsvc jobs prune`` does it by hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg2 import sql

TABLE = sql.SQL("meta.process_job")
FINISHED = ["successful", "failed", "dismissed"]

PRUNE_SQL = sql.SQL(
    "DELETE FROM {} WHERE status = ANY(%(finished)s)"
    " AND coalesce(finished, updated, created) < now() - make_interval(secs => %(seconds)s)"
    " RETURNING location"
).format(TABLE)
LOCATIONS_SQL = sql.SQL("SELECT location FROM {} WHERE location IS NOT NULL").format(TABLE)


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed."""

    jobs: int
    files: int


def result_file(folder: Path | None, location: Any) -> Path | None:
    """The result file at a job's ``location`` if it lies directly in ``folder``, the job
    manager's (a file anywhere else is never removed)."""
    if folder is None or not location or location == "None":
        return None
    path = Path(str(location)).resolve()
    return path if path.parent == folder.resolve() else None


def prune(conn: Any, output_dir: Path | None, older_than_seconds: float) -> PruneReport:
    """Delete the jobs finished more than ``older_than_seconds`` ago and their result files,
    and the result files as old that no job points at; commits on ``conn``."""
    with conn, conn.cursor() as cur:
        cur.execute(PRUNE_SQL, {"finished": FINISHED, "seconds": float(older_than_seconds)})
        locations = [row[0] for row in cur.fetchall()]
        cur.execute(LOCATIONS_SQL)
        kept = {str(Path(str(row[0])).resolve()) for row in cur.fetchall()}
    files = 0
    if output_dir is None or not output_dir.is_dir():
        return PruneReport(len(locations), 0)
    for location in locations:
        path = result_file(output_dir, location)
        if path is not None and path.exists():
            path.unlink(missing_ok=True)
            files += 1
    cutoff = time.time() - older_than_seconds
    for path in output_dir.iterdir():  # left by a process killed before its job recorded them
        try:
            stale = path.is_file() and path.stat().st_mtime < cutoff
        except OSError:
            continue
        if stale and str(path.resolve()) not in kept:
            path.unlink(missing_ok=True)
            files += 1
    return PruneReport(len(locations), files)
