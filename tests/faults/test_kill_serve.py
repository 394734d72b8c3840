"""``spatialsvc serve`` killed with -9 under load, then started again: nothing corrupt.

The tile cache holds only whole tiles (written to a temporary file, then renamed), the jobs
table holds only valid states and every finished job has its result, the audit chain verifies,
and the restarted service answers.  Kill -9 during an ingest and during a batch geocode are
tested beside the code they exercise: tests/ingest/test_kill.py, tests/geocoding/test_batch.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import psycopg2
import pytest

from tests.conftest import _free_port
from tests.faults.conftest import SPATIALSVC, Throwaway, serve_env, start_serve

CENTRE = (121.50, 29.87)
JOB_STATES = {"accepted", "running", "successful", "failed", "dismissed"}


def _tiles(zoom: int, n: int) -> list[str]:
    centre = morecantile.tms.get("WebMercatorQuad").tile(*CENTRE, zoom)
    side = int(n**0.5) + 1
    base = f"/collections/building/tiles/WebMercatorQuad/{zoom}"
    paths = [f"{base}/{centre.y + dy}/{centre.x + dx}" for dx in range(side) for dy in range(side)]
    return paths[:n]


def _load(url: str, key: str, addresses: list[str], stop: threading.Event) -> None:
    """Tiles, items and async jobs, until ``stop`` (errors expected once the service dies)."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        paths = iter(_tiles(17, 400))
        while not stop.is_set():
            try:
                client.get(next(paths))
                client.get("/collections/poi/items?f=json&limit=50")
                client.post(
                    "/processes/geocode-batch/execution",
                    json={"inputs": {"addresses": addresses}},
                    headers={"Prefer": "respond-async"},
                )
            except (httpx.HTTPError, StopIteration):
                time.sleep(0.01)


def _cached_tiles(home: Path) -> tuple[list[Path], list[Path]]:
    tiles, temporary = [], []
    for path in (home / "tiles").rglob("*"):
        if path.is_file():
            (temporary if path.name.startswith(".tmp-") else tiles).append(path)
    return tiles, temporary


def test_kill_9_under_load_leaves_nothing_corrupt(
    throwaway: Throwaway, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("kill-home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with psycopg2.connect(throwaway.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT full_address FROM base.standard_address ORDER BY address_id LIMIT 300")
        addresses = [str(r[0]) for r in cur.fetchall()]
    conn.close()
    proc = start_serve(throwaway, home, port)
    warm = httpx.post(  # builds the geocoder's index, so that the jobs below finish quickly
        f"{url}/processes/geocode-batch/execution",
        json={"inputs": {"addresses": addresses[:2]}},
        headers={"Authorization": f"Bearer {throwaway.key}"},
        timeout=120,
    )
    assert warm.status_code == 200, warm.text[:300]
    stop = threading.Event()
    loaders = [
        threading.Thread(target=_load, args=(url, throwaway.key, addresses, stop), daemon=True)
        for _ in range(4)
    ]
    try:
        for t in loaders:
            t.start()
        time.sleep(4.0)
        os.killpg(proc.pid, signal.SIGKILL)  # the server and anything it started
        proc.wait(timeout=10)
    finally:
        stop.set()
        for t in loaders:
            t.join(timeout=15)
        if proc.poll() is None:
            proc.kill()

    tiles, temporary = _cached_tiles(home)
    assert tiles, "no tile was cached before the kill"
    for path in tiles:  # every cached tile is whole
        mapbox_vector_tile.decode(path.read_bytes())
    print(f"{len(tiles)} cached tiles whole; {len(temporary)} temporary file(s) left by the kill")

    verified = subprocess.run(
        [SPATIALSVC, "audit", "verify"],
        env=serve_env(throwaway, home),
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr

    with psycopg2.connect(throwaway.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM meta.process_job")
        every_state = {str(r[0]) for r in cur.fetchall()}
        # this test's own jobs (the copied database holds other tests' jobs, files elsewhere)
        cur.execute(
            "SELECT identifier, status FROM meta.process_job WHERE owner_department = 'fault-ops'"
        )
        jobs = [(str(i), str(s)) for i, s in cur.fetchall()]
    conn.close()
    assert any(s == "successful" for _, s in jobs), "no job finished before the kill"
    assert every_state <= JOB_STATES

    proc = start_serve(throwaway, home, port)  # started again on the same home and database
    try:
        headers = {"Authorization": f"Bearer {throwaway.key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            assert client.get("/collections/poi/items?f=json&limit=5").status_code == 200
            for path in _tiles(17, 400)[:5]:  # served from the cache left by the killed process
                r = client.get(path)
                assert r.status_code in (200, 204), r.text[:200]
            done = [i for i, s in jobs if s == "successful"]
            for job_id in done[:20]:  # every finished job has its result
                r = client.get(f"/jobs/{job_id}/results?f=json")
                assert r.status_code == 200, (job_id, r.text[:200])
            left = [i for i, s in jobs if s in ("accepted", "running")]
            print(f"jobs: {len(done)} successful, {len(left)} left unfinished by the kill")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
