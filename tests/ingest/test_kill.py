"""kill -9 in the middle of an ingest leaves the previous version untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyogrio

from tests.ingest.helpers import points, query, run_cli

SPATIALSVC = Path(sys.executable).parent / "spatialsvc"


def _ingest_backends(db_url: str) -> int:
    name = urlsplit(db_url).path.lstrip("/")
    rows = query(
        db_url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
        "AND application_name = 'spatialsvc-ingest'",
        (name,),
    )
    return int(rows[0][0])


def test_kill_during_copy_keeps_previous_version(settings, db_url, tmp_path: Path) -> None:
    small = tmp_path / "v1.geojson"
    pyogrio.write_dataframe(points(7), small)
    result = run_cli(settings, str(small), "--layer", "killme", "--department", "x")
    assert result.exit_code == 0, result.stderr

    big = tmp_path / "big.gpkg"
    pyogrio.write_dataframe(points(300_000, seed=3), big)
    env = {**os.environ, "DATABASE_URL": db_url, "SPATIALSVC_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            str(SPATIALSVC),
            "ingest",
            str(big),
            "--layer",
            "killme",
            "--department",
            "x",
            "--chunk-size",
            "20000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:
        seen = line
        if line.startswith("writing "):
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert seen.startswith("writing 20,000/300,000 rows"), (seen, proc.stderr.read())
    assert proc.returncode == -signal.SIGKILL

    deadline = time.monotonic() + 60
    while _ingest_backends(db_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ingest_backends(db_url) == 0
    assert query(db_url, "SELECT count(*) FROM data.killme") == [(7,)]
    assert query(db_url, "SELECT version, features FROM meta.dataset WHERE layer='killme'") == [
        (1, 7)
    ]
    left = query(db_url, "SELECT count(*) FROM pg_class WHERE relname = 'killme__load'")
    assert left == [(0,)]
