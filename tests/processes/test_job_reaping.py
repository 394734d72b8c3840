"""Unfinished jobs of a dead process are marked failed; a live process's jobs are kept.

Against the session database: a worker lease (:mod:`spatialsvc.processes.lease`) held by an open
connection keeps its jobs; once that connection ends they are reaped by the one statement of
:func:`spatialsvc.processes.manager.reap_orphaned_jobs`. The killed ``spatialsvc serve`` case is
tests/faults/test_orphaned_jobs.py.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from spatialsvc.processes import lease
from spatialsvc.processes.manager import (
    INTERRUPTED,
    REAP_EVERY_SECONDS,
    REAP_GRACE_SECONDS,
    JobManager,
    reap_orphaned_jobs,
)
from spatialsvc.settings import Settings
from tests.conftest import _free_port


@pytest.fixture()
def conn(db_url: str) -> Iterator[Any]:
    c = psycopg2.connect(db_url)
    yield c
    c.close()


def _insert(conn: Any, status: str, worker: int | None, updated_seconds_ago: float = 0.0) -> str:
    job_id = f"reap-{uuid.uuid4()}"
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO meta.process_job (identifier, process_id, status, worker, created,"
            " started, updated) VALUES (%(id)s, 'geocode-batch', %(status)s, %(worker)s,"
            " now() - make_interval(secs => %(ago)s), now() - make_interval(secs => %(ago)s),"
            " now() - make_interval(secs => %(ago)s))",
            {"id": job_id, "status": status, "worker": worker, "ago": updated_seconds_ago},
        )
    return job_id


def _job(conn: Any, job_id: str) -> tuple[str, str | None, bool]:
    """Status, message and whether ``finished`` is set."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, message, finished IS NOT NULL FROM meta.process_job"
            " WHERE identifier = %s",
            (job_id,),
        )
        row = cur.fetchone()
    assert row is not None, job_id
    return str(row[0]), row[1], bool(row[2])


def _reap(conn: Any, **kw: float) -> list[str]:
    with conn:
        return reap_orphaned_jobs(conn, **kw)


def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _held(conn: Any, worker: int) -> list[int]:
    """The backends holding a worker's lease lock in this database."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = %s AND objsubid = 2",
            (lease.NAMESPACE, worker),
        )
        return [int(r[0]) for r in cur.fetchall()]


def _dead_worker(conn: Any) -> int:
    while True:
        worker = 1 + secrets.randbelow(2**31 - 1)
        if not _held(conn, worker):
            return worker


def _wait_out_grace(conn: Any) -> None:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM now() - pg_postmaster_start_time())")
        up = float(cur.fetchone()[0])
    if up < REAP_GRACE_SECONDS:
        time.sleep(REAP_GRACE_SECONDS - up + 0.5)


def test_jobs_are_kept_while_their_lease_is_held_and_failed_once_it_ends(
    conn: Any, db_url: str
) -> None:
    held = lease.WorkerLease.take(db_url)
    try:
        running = _insert(conn, "running", held.worker)
        accepted = _insert(conn, "accepted", held.worker)
        done = _insert(conn, "successful", held.worker)
        assert _held(conn, held.worker) == [held.backend_pid]
        reaped = _reap(conn, grace_seconds=0)
        assert not {running, accepted, done} & set(reaped)
        assert _job(conn, running)[0] == "running" and _job(conn, accepted)[0] == "accepted"
    finally:
        held.close()
    # the backend ends a moment after the client closed: the lock goes with it
    assert _until(lambda: not _held(conn, held.worker), 5.0)
    reaped = _reap(conn, grace_seconds=0)
    assert {running, accepted} <= set(reaped) and done not in reaped
    for job_id in (running, accepted):
        assert _job(conn, job_id) == ("failed", INTERRUPTED, True)
    assert _job(conn, done) == ("successful", None, False)
    assert not {running, accepted} & set(_reap(conn, grace_seconds=0))  # once only


def test_nothing_is_reaped_in_the_grace_period_after_postgresql_started(conn: Any) -> None:
    orphan = _insert(conn, "running", _dead_worker(conn))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM now() - pg_postmaster_start_time())")
        up = float(cur.fetchone()[0])
    assert orphan not in _reap(conn, grace_seconds=up + 3600)
    assert _job(conn, orphan)[0] == "running"
    assert orphan in _reap(conn, grace_seconds=max(up - 1, 0))
    assert _job(conn, orphan)[0] == "failed"


def test_a_job_without_a_worker_is_reaped_only_when_stale(conn: Any) -> None:
    stale = _insert(conn, "running", None, updated_seconds_ago=7200)
    fresh = _insert(conn, "accepted", None, updated_seconds_ago=60)
    reaped = _reap(conn, grace_seconds=0, stale_seconds=3600)
    assert stale in reaped and fresh not in reaped
    assert _job(conn, stale) == ("failed", INTERRUPTED, True)
    assert _job(conn, fresh)[0] == "accepted"


def _manager(tmp_path: Path) -> JobManager:
    return JobManager({"name": "JobManager", "connection": "x", "output_dir": str(tmp_path)})


def _metadata(job_id: str) -> dict[str, Any]:
    from pygeoapi.util import get_current_datetime

    now = get_current_datetime()
    return {
        "type": "process",
        "identifier": job_id,
        "process_id": "geocode-batch",
        "created": now,
        "started": now,
        "updated": now,
        "finished": None,
        "status": "accepted",
        "location": None,
        "mimetype": "application/octet-stream",
        "message": "Job accepted and ready for execution",
        "progress": 5,
    }


def test_the_manager_records_its_lease_and_reaps_when_jobs_are_read(
    client: Any, settings: Settings, conn: Any, tmp_path: Path
) -> None:
    _wait_out_grace(conn)
    manager = _manager(tmp_path)
    mine = manager.add_job(_metadata(f"reap-{uuid.uuid4()}"))
    worker = lease.worker_id(settings)
    own = lease.current(settings)
    assert own is not None and own.pid == os.getpid()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT worker FROM meta.process_job WHERE identifier = %s", (mine,))
        assert cur.fetchone() == (worker,)
        cur.execute(
            "SELECT application_name FROM pg_stat_activity WHERE pid = %s", (own.backend_pid,)
        )
        assert cur.fetchone() == (lease.APPLICATION_NAME,)
    assert _held(conn, worker) == [own.backend_pid]
    orphan = _insert(conn, "running", _dead_worker(conn))
    # reaped by a read, within the throttle of the process's reaping
    assert _until(lambda: manager.get_job(orphan)["status"] == "failed", REAP_EVERY_SECONDS + 3.0)
    assert manager.get_job(orphan)["message"] == INTERRUPTED
    assert manager.get_job(mine)["status"] == "accepted"  # its process (this one) lives
    assert any(j["identifier"] == orphan for j in manager.get_jobs(limit=1000)["jobs"])
    assert manager.delete_job(mine) and manager.delete_job(orphan)


def test_a_finished_job_is_not_changed_by_a_late_update(
    client: Any, conn: Any, tmp_path: Path
) -> None:
    manager = _manager(tmp_path)
    job_id = manager.add_job(_metadata(f"reap-{uuid.uuid4()}"))
    assert manager.update_job(job_id, {"status": "running", "progress": 50})
    with conn, conn.cursor() as cur:  # as the reaping marks it
        cur.execute(
            "UPDATE meta.process_job SET status = 'failed', message = %s, finished = now()"
            " WHERE identifier = %s",
            (INTERRUPTED, job_id),
        )
    result = tmp_path / f"geocode-batch-{job_id}"
    result.write_text("{}", encoding="utf-8")
    late = {"status": "successful", "location": str(result), "message": "Job complete"}
    assert manager.update_job(job_id, late) is False
    assert _job(conn, job_id) == ("failed", INTERRUPTED, True)
    assert not result.exists(), "the result of a job recorded failed was left behind"
    assert manager.get_job_result(job_id) == (None,)
    assert manager.delete_job(job_id)


def test_the_lease_is_taken_again_after_its_session_ended(conn: Any, db_url: str) -> None:
    held = lease.WorkerLease.take(db_url)
    held.watch()
    try:
        first = held.backend_pid
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (first,))
        assert _until(
            lambda: (
                held.backend_pid not in (None, first)
                and _held(conn, held.worker) == [held.backend_pid]
            ),
            5 * lease.CHECK_SECONDS,
        ), "the lease was not taken again"
    finally:
        held.close()
    assert _until(lambda: not _held(conn, held.worker), 5.0)


def test_an_outage_logs_one_warning_and_the_lease_comes_back(
    conn: Any, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    held = lease.WorkerLease.take(db_url)
    worker = held.worker
    held._discard()  # the session ended, and nothing answers at the database's address
    held.url = f"postgresql://postgres@127.0.0.1:{_free_port()}/spatialsvc"
    try:
        with caplog.at_level(logging.WARNING, logger=lease.__name__):
            assert [held.check() for _ in range(4)] == [False] * 4
            assert len(caplog.records) == 1 and "lost" in caplog.records[0].getMessage()
            held.url = db_url
            assert held.check() and held.worker == worker
            assert _held(conn, worker) == [held.backend_pid]
            assert len(caplog.records) == 2 and "again" in caplog.records[1].getMessage()
            assert held.check() and len(caplog.records) == 2
    finally:
        held.close()


def test_a_forked_child_takes_its_own_lease_and_leaves_the_parents(
    client: Any, settings: Settings, conn: Any
) -> None:
    parent = lease.worker_id(settings)
    own = lease.current(settings)
    assert own is not None
    backend = own.backend_pid
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its lease, then out without running the parent's cleanup
        code = 1
        try:
            os.close(read)
            os.write(write, str(lease.worker_id(settings)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = int(pipe.read() or "0")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child and child != parent
    # the parent's session and lock survived the child dropping the inherited connection
    assert own.check() and own.backend_pid == backend
    assert _held(conn, parent) == [backend]
    assert _until(lambda: not _held(conn, child), 5.0), "the child's lease outlived it"


def test_a_fork_while_the_lease_is_in_a_query_does_not_hang_the_child(
    client: Any, settings: Settings, conn: Any
) -> None:
    """The lease's thread checks its connection every second: a fork (a batch's worker pool)
    landing in that query must not leave the child a connection locked by a thread it does
    not have (closing it hung the child for ever, and the batch with it)."""
    import threading

    lease.worker_id(settings)
    own = lease.current(settings)
    assert own is not None and own._conn is not None
    busy, done = threading.Event(), threading.Event()

    def in_a_query() -> None:  # what check() does, made long
        with own._lock:
            busy.set()
            with own._conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(1.5)")
        done.set()

    worker = threading.Thread(target=in_a_query)
    worker.start()
    assert busy.wait(10)
    pid = os.fork()
    if pid == 0:
        os._exit(0)  # the at-fork hooks have run by now: detaching the inherited lease
    assert done.is_set(), "the fork did not wait for the lease's query to finish"
    deadline = time.monotonic() + 20
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung detaching the inherited lease")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(waited[1]) == 0
    worker.join()
    assert own.check() and _held(conn, own.worker) == [own.backend_pid]
