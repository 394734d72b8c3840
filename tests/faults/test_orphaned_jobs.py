"""A job left unfinished by a ``spatialsvc serve`` killed with -9 is marked failed by another
service process; a job of a live process is left running.

Two real services (A and B, own ports and homes) over the throwaway cluster. A takes an async
geocode-batch job; the test holds the job's row lock (``SELECT ... FOR UPDATE``) once the job
is unfinished, so that the job's next write (its next progress report, or its end) waits and the
job stays unfinished in A for as long as the test needs, whatever the machine's speed. While A
lives, B lists and reads the job over two reaping rounds: it stays unfinished. A is killed with
SIGKILL (its process group); B then answers ``/jobs/{id}`` with ``failed`` and the interrupted
message within seconds. A job of a worker whose lease nobody holds, put in the table before
each of B's reads while A lives, shows that those reads did reap.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from typing import Any

import httpx
import psycopg2
import pytest

from spatialsvc.processes.lease import APPLICATION_NAME, NAMESPACE
from spatialsvc.processes.manager import INTERRUPTED, REAP_EVERY_SECONDS, REAP_GRACE_SECONDS
from tests.conftest import _free_port
from tests.faults.conftest import Throwaway, start_serve

BATCH = 10_000  # the most a job takes: 20 progress reports, each one a chance to be held
UNFINISHED = ("accepted", "running")


def _addresses(url: str) -> list[str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT full_address FROM base.standard_address ORDER BY address_id")
        found = [str(r[0]) for r in cur.fetchall()]
    conn.close()
    assert found
    return (found * (BATCH // len(found) + 1))[:BATCH]


def _hold_running(url: str, job_id: str) -> tuple[Any, int]:
    """A transaction holding the job's row once the job is running; and the job's worker."""
    hold = psycopg2.connect(url)
    deadline = time.monotonic() + 120  # A builds its geocoder index first (job 'accepted')
    while time.monotonic() < deadline:
        with hold.cursor() as cur:
            cur.execute(
                "SELECT status, worker FROM meta.process_job WHERE identifier = %s FOR UPDATE",
                (job_id,),
            )
            row = cur.fetchone()
        assert row is not None, "the job was not recorded"
        status, worker = str(row[0]), row[1]
        if status == "running":
            assert worker is not None, "the job does not record its worker"
            return hold, int(worker)
        hold.rollback()
        assert status == "accepted", f"the job ended ({status}) before it could be held"
        time.sleep(0.01)
    hold.close()
    pytest.fail("the job did not start running")


def _lease_holders(url: str, worker: int) -> list[str]:
    """The application names of the sessions holding a worker's lease."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT a.application_name FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s"
            " AND l.objsubid = 2",
            (NAMESPACE, worker),
        )
        names = [str(r[0]) for r in cur.fetchall()]
    conn.close()
    return names


def _dead_workers_job(url: str) -> str:
    """A running job of a worker whose lease nobody holds (as a killed process leaves it)."""
    worker = 1
    while _lease_holders(url, worker):
        worker += 1
    job_id = f"dead-worker-{uuid.uuid4()}"
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO meta.process_job (identifier, process_id, status, worker, started,"
            " updated, message, progress)"
            " VALUES (%s, 'geocode-batch', 'running', %s, now(), now(), 'running', 50)",
            (job_id, worker),
        )
    conn.close()
    return job_id


def _grace_left(url: str) -> float:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT extract(epoch FROM now() - pg_postmaster_start_time())")
        up = float(cur.fetchone()[0])  # type: ignore[index]
    conn.close()
    return max(0.0, REAP_GRACE_SECONDS - up)


def _status(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"/jobs/{job_id}?f=json")
    assert r.status_code == 200, r.text[:300]
    job: dict[str, Any] = r.json()
    return job


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_a_killed_process_s_job_is_failed_and_a_live_one_s_is_kept(
    throwaway: Throwaway, tmp_path_factory: pytest.TempPathFactory
) -> None:
    addresses = _addresses(throwaway.url)
    port_a, port_b = _free_port(), _free_port()
    headers = {"Authorization": f"Bearer {throwaway.key}"}
    a = b = None
    hold = None
    try:
        a = start_serve(throwaway, tmp_path_factory.mktemp("serve-a"), port_a)
        b = start_serve(throwaway, tmp_path_factory.mktemp("serve-b"), port_b)
        started = httpx.post(
            f"http://127.0.0.1:{port_a}/processes/geocode-batch/execution",
            json={"inputs": {"addresses": addresses}},
            headers={**headers, "Prefer": "respond-async"},
            timeout=60,
        )
        assert started.status_code == 201, started.text[:300]
        job_id = started.headers["location"].rstrip("/").rsplit("/", 1)[-1]
        hold, worker = _hold_running(throwaway.url, job_id)
        assert _lease_holders(throwaway.url, worker) == [APPLICATION_NAME]
        time.sleep(_grace_left(throwaway.url))  # so that B's reaping below does run

        with httpx.Client(
            base_url=f"http://127.0.0.1:{port_b}", headers=headers, timeout=30
        ) as client:
            # A lives: B keeps its job over two rounds of reaping, and reaps a dead worker's
            # job in the same rounds (so the rounds did run)
            for _ in range(2):
                dead = _dead_workers_job(throwaway.url)
                listed = client.get("/jobs?f=json&limit=1000")
                assert listed.status_code == 200, listed.text[:300]
                jobs = {j["jobID"]: j["status"] for j in listed.json()["jobs"]}
                assert jobs.get(dead) == "failed", jobs.get(dead)
                assert jobs.get(job_id) == "running", jobs.get(job_id)
                assert _status(client, job_id)["status"] == "running"
                time.sleep(REAP_EVERY_SECONDS + 0.2)

            os.killpg(a.pid, signal.SIGKILL)  # the server and anything it started
            a.wait(timeout=10)
            killed = time.monotonic()
            hold.rollback()  # A's blocked write may now land: it cannot revive the job
            hold.close()
            hold = None

            deadline = killed + _grace_left(throwaway.url) + REAP_EVERY_SECONDS + 10.0
            job = _status(client, job_id)
            while job["status"] in UNFINISHED and time.monotonic() < deadline:
                time.sleep(0.1)
                job = _status(client, job_id)
            took = time.monotonic() - killed
            assert job["status"] == "failed", job
            assert job["message"] == INTERRUPTED
            print(f"job {job_id} marked failed {took:.1f} s after its process was killed")
            listed = client.get("/jobs?f=json&status=failed&limit=1000")
            assert job_id in {j["jobID"] for j in listed.json()["jobs"]}
            results = client.get(f"/jobs/{job_id}/results?f=json")
            assert results.status_code == 400, results.text[:300]  # pygeoapi's "job failed"
        assert _lease_holders(throwaway.url, worker) == []
        with psycopg2.connect(throwaway.url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT status, finished IS NOT NULL FROM meta.process_job WHERE identifier = %s",
                (job_id,),
            )
            assert cur.fetchone() == ("failed", True)
        conn.close()
    finally:
        if hold is not None:
            hold.close()
        if a is not None and a.poll() is None:
            os.killpg(a.pid, signal.SIGKILL)
            a.wait(timeout=10)
        _stop(b)
