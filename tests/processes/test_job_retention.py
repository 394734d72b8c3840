"""Old finished jobs and their result files are pruned; unfinished and recent ones are kept.

Against the session database, with jobs written the way the job manager writes them (a row in
``meta.process_job`` pointing at a result file in the manager's folder), dated into the past.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from click.testing import CliRunner

from spatialsvc.cli import main
from spatialsvc.processes.manager import JobManager
from spatialsvc.processes.retention import prune
from spatialsvc.settings import Settings

DAY = 86_400.0


@pytest.fixture()
def conn(db_url: str) -> Any:
    c = psycopg2.connect(db_url)
    yield c
    c.close()


def _job(conn: Any, folder: Path, status: str, days_ago: float, with_file: bool = True) -> str:
    """A job finished (or, unfinished, last updated) ``days_ago`` days ago, with its file."""
    job_id = f"keep-{uuid.uuid4()}"
    location = folder / f"geocode-{job_id}" if with_file else None
    if location is not None:
        location.write_text("{}", encoding="utf-8")
        past = time.time() - days_ago * DAY
        os.utime(location, (past, past))
    finished = status in ("successful", "failed", "dismissed")
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO meta.process_job (identifier, process_id, status, created, updated,"
            " finished, location) VALUES (%(id)s, 'geocode', %(status)s,"
            " now() - make_interval(secs => %(ago)s), now() - make_interval(secs => %(ago)s),"
            " CASE WHEN %(finished)s THEN now() - make_interval(secs => %(ago)s) END,"
            " %(location)s)",
            {
                "id": job_id,
                "status": status,
                "ago": days_ago * DAY,
                "finished": finished,
                "location": str(location) if location else None,
            },
        )
    return job_id


def _exists(conn: Any, job_id: str) -> bool:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM meta.process_job WHERE identifier = %s", (job_id,))
        return cur.fetchone() is not None


def _old_file(folder: Path, name: str, days_ago: float) -> Path:
    path = folder / name
    path.write_text("{}", encoding="utf-8")
    past = time.time() - days_ago * DAY
    os.utime(path, (past, past))
    return path


def test_prune_removes_old_finished_jobs_and_stray_files_only(conn: Any, tmp_path: Path) -> None:
    old_ok = _job(conn, tmp_path, "successful", 10)
    old_failed = _job(conn, tmp_path, "failed", 9, with_file=False)
    recent = _job(conn, tmp_path, "successful", 1)
    running = _job(conn, tmp_path, "running", 30)  # unfinished: never pruned here
    stray_old = _old_file(tmp_path, "geocode-killed-before-recording", 8)
    stray_new = _old_file(tmp_path, "geocode-being-recorded", 0)
    files_before = {p.name for p in tmp_path.iterdir()}

    done = prune(conn, tmp_path, 7 * DAY)
    assert done.jobs >= 2 and done.files == 2  # old_ok's file and the old stray one
    assert not _exists(conn, old_ok) and not _exists(conn, old_failed)
    assert _exists(conn, recent) and _exists(conn, running)
    left = {p.name for p in tmp_path.iterdir()}
    assert files_before - left == {f"geocode-{old_ok}", stray_old.name}
    assert stray_new.exists()
    again = prune(conn, tmp_path, 7 * DAY)  # nothing left to do
    assert again.files == 0 and _exists(conn, recent)
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM meta.process_job WHERE identifier IN (%s, %s)", (recent, running))


def test_a_file_outside_the_folder_is_never_removed(conn: Any, tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "jobs", tmp_path / "precious"
    folder.mkdir()
    elsewhere.mkdir()
    job_id = _job(conn, elsewhere, "successful", 10)  # a location outside the jobs folder
    assert prune(conn, folder, 7 * DAY).jobs >= 1
    assert not _exists(conn, job_id)
    assert (elsewhere / f"geocode-{job_id}").exists()


def test_cli_prune(settings: Settings, conn: Any) -> None:
    folder = settings.home / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    old = _job(conn, folder, "successful", 3)
    result = CliRunner().invoke(
        main, ["jobs", "prune", "--older-than", "2"], obj={"settings": settings}
    )
    assert result.exit_code == 0, result.output
    assert "more than 2 day(s) ago" in result.output
    assert not _exists(conn, old) and not (folder / f"geocode-{old}").exists()
    bad = CliRunner().invoke(main, ["jobs", "prune", "--older-than", "-1"])
    assert bad.exit_code != 0 and "-1" in bad.output


def test_the_manager_prunes_by_itself_once_an_hour(client: Any, conn: Any, tmp_path: Path) -> None:
    """``client`` starts the application: its settings (7 days) are the manager's."""
    manager = JobManager({"name": "JobManager", "connection": "x", "output_dir": str(tmp_path)})
    old = _job(conn, tmp_path, "successful", 8)
    manager.prune_later()
    deadline = time.monotonic() + 20
    while _exists(conn, old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _exists(conn, old), "the manager did not prune an 8-day-old job"
    assert not (tmp_path / f"geocode-{old}").exists()
    later = _job(conn, tmp_path, "successful", 8)
    manager.prune_later()  # within the hour: nothing more
    time.sleep(1.0)
    assert _exists(conn, later)
    assert prune(conn, tmp_path, 7 * DAY).jobs >= 1


def test_a_result_no_longer_kept_is_a_404_not_a_500(client: Any, conn: Any, tmp_path: Path) -> None:
    job_id = _job(conn, tmp_path, "successful", 0)
    (tmp_path / f"geocode-{job_id}").unlink()  # pruned, or in another machine's home
    r = client.get(f"/jobs/{job_id}/results", params={"f": "json"})
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["code"] == "NotFound" and "no longer kept" in body["description"]
    with conn, conn.cursor() as cur:
        cur.execute("DELETE FROM meta.process_job WHERE identifier = %s", (job_id,))
