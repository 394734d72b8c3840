"""Helpers for the geocoding tests: run the CLI, query the database, read CSV files."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg2
from click.testing import CliRunner, Result

from spatialsvc.cli import main
from spatialsvc.settings import Settings


def run_cli(settings: Settings, *args: str) -> Result:
    """Invoke `spatialsvc geocode ...` in-process with the test settings."""
    return CliRunner().invoke(main, ["geocode", *args], obj={"settings": settings})


def query(db_url: str, text: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement in its own committed transaction and return all rows."""
    conn = psycopg2.connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(text, params)
            return cur.fetchall()
    finally:
        conn.close()


def read_csv(path: Path) -> list[list[str]]:
    """All rows of a UTF-8 CSV file, header first."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def wait_for_progress(
    proc: subprocess.Popen[bytes], sidecar: Path, rows: int, timeout: float = 120
) -> int:
    """Wait until a running batch's progress record (``OUT.progress.json``) says ``rows`` rows
    are written, or the batch ends; returns the rows it said last."""
    done = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            done = json.loads(sidecar.read_text(encoding="utf-8"))["rows"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= rows:
            break
        time.sleep(0.02)
    return done
