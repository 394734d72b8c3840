"""`spatialsvc geocode batch --scheduler`: the batch on a Dask distributed cluster (a
LocalCluster of 2 worker processes here) writes the same file byte for byte as a local run,
and an interrupted Dask run resumes like a local one."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

from spatialsvc.geocoding.batch import run_batch
from spatialsvc.settings import Settings
from tests.geocoding.helpers import read_csv, run_cli, wait_for_progress

SPATIALSVC = Path(sys.executable).parent / "spatialsvc"
Canonical = list[tuple[str, str, float, float]]


def _input(tmp_path: Path, canonical: Canonical, rows: int) -> Path:
    """Distinct texts, some noisy, a comma and quotes in a column, an empty address."""
    out = [["n", "note", "address"]]
    for i in range(rows):
        _aid, full, _lon, _lat = canonical[i % len(canonical)]
        text = full if i < len(canonical) else f"{full.replace('浙江省宁波市', '')} {i}"
        out.append([str(i), f'户 {i}, "甲"', "" if i == 7 else text])
    path = tmp_path / "in.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(out)
    return path


def test_local_cluster_writes_the_same_file_as_a_local_run(
    settings: Settings, canonical: Canonical, tmp_path: Path
) -> None:
    src = _input(tmp_path, canonical, 400)
    reference, dask_out = tmp_path / "local.csv", tmp_path / "dask.csv"
    run_batch(settings, src, "address", reference, workers=1, chunk=50)
    report = run_batch(settings, src, "address", dask_out, workers=2, chunk=50, scheduler="local")
    assert dask_out.read_bytes() == reference.read_bytes()
    assert report.rows == 400 and sum(report.levels.values()) == 400
    assert len(read_csv(dask_out)) == 401
    assert not (tmp_path / "dask.csv.partial").exists()


def test_a_bad_scheduler_is_one_line(settings: Settings, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("address\n海曙区\n", encoding="utf-8")
    args = ["batch", "--input", str(src), "--column", "address"]
    args += ["--output", str(tmp_path / "out.csv"), "--scheduler", "http://nowhere"]
    result = run_cli(settings, *args)
    assert result.exit_code == 1
    assert "--scheduler takes 'local' or tcp://HOST:PORT" in result.output
    result = run_cli(settings, *args[:-1], "tcp://127.0.0.1:9")  # nothing listens there
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert not (tmp_path / "out.csv").exists()


def _command(src: Path, out: Path) -> list[str]:
    return [
        str(SPATIALSVC), "geocode", "batch", "--input", str(src), "--column", "address",
        "--output", str(out), "--workers", "2", "--chunk-size", "50", "--scheduler", "local",
    ]  # fmt: skip


def test_a_killed_dask_run_resumes_to_the_same_file(
    settings: Settings, canonical: Canonical, tmp_path: Path
) -> None:
    total = 3_000
    src = _input(tmp_path, canonical, total)
    reference = tmp_path / "reference.csv"
    run_batch(settings, src, "address", reference, workers=2, chunk=50)
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "SPATIALSVC_HOME": str(settings.home),
    }
    out = tmp_path / "resumed.csv"
    sidecar = tmp_path / "resumed.csv.progress.json"
    proc = subprocess.Popen(
        _command(src, out),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    rows = wait_for_progress(proc, sidecar, 300)
    assert proc.poll() is None, "the batch ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the client, its scheduler and its workers
    proc.wait()
    assert 300 <= rows < total
    assert not out.exists()

    again = subprocess.run(_command(src, out), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "resuming resumed.csv" in again.stderr
    assert out.read_bytes() == reference.read_bytes()
    assert not sidecar.exists()
