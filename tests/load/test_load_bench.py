"""``bench/load.py`` at small scale: a real service under 20 locust clients mixing items, tiles,
geocode, catalogue search and the anchor, for a few seconds, on the session's demo district.

The full run (100 clients, 60 s, the full demo) is ``make bench``'s; this keeps the script and
its locustfile working and holds the service to the same bar: no failed request, figures for
every kind, memory reported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from spatialsvc.settings import Settings
from tests.conftest import ROOT

KINDS = ("items", "tile", "geocode", "catalogue", "conformance")


def test_load_script_runs_clean_under_mixed_load(settings: Settings, demo: dict[str, int]) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "SPATIALSVC_DATABASE_URL": str(settings.database_url),
        "SPATIALSVC_HOME": str(settings.home),
    }
    cli = str(Path(sys.executable).with_name("spatialsvc"))
    synced = subprocess.run([cli, "catalogue", "sync"], env=env, capture_output=True, text=True)
    assert synced.returncode == 0, synced.stderr
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--users",
            "20",
            "--seconds",
            "8",
            "--warmup",
            "3",
            "--workers",
            "1",
            "--flat",
            "0.5",
        ],  # fmt: skip
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(run.stdout)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = {}
    for line in run.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] in (*KINDS, "all") and len(fields) == 8:
            rows[fields[0]] = fields
    assert set(rows) == {*KINDS, "all"}, run.stdout
    for kind in KINDS:
        requests, failed = int(rows[kind][1].replace(",", "")), int(rows[kind][3])
        assert requests > 0, f"no {kind} request was sent"
        assert failed == 0, f"{failed} {kind} requests failed"
    total = sum(int(rows[k][1].replace(",", "")) for k in KINDS)
    assert int(rows["all"][1].replace(",", "")) == total
    memory = re.search(r"service memory \(RSS, (\d+) samples\): first tenth (\d+) MB", run.stdout)
    assert memory is not None and int(memory.group(1)) >= 5 and int(memory.group(2)) > 50
    assert "errors: 0; memory flat" in run.stdout
