"""The project-local cluster: created, started and stopped by the tool itself."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import psycopg2

from tests.conftest import ROOT

SPATIALSVC = str(ROOT / ".venv" / "bin" / "spatialsvc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_db_up_url_down_in_a_private_home(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SPATIALSVC_HOME=str(tmp_path / "home"), SPATIALSVC_PG_PORT=str(_free_port()))
    up = subprocess.run([SPATIALSVC, "db", "up"], env=env, capture_output=True, text=True)
    try:
        assert up.returncode == 0, up.stderr
        assert "creating a PostgreSQL cluster" in up.stdout
        url = subprocess.run(
            [SPATIALSVC, "db", "url"], env=env, capture_output=True, text=True
        ).stdout.strip()
        assert url.endswith(f":{env['SPATIALSVC_PG_PORT']}/spatialsvc")
        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("SELECT ST_SRID(ST_SetSRID(ST_MakePoint(121.5, 29.8), 4490))")
            assert cur.fetchone()[0] == 4490
        conn.close()
        again = subprocess.run([SPATIALSVC, "db", "up"], env=env, capture_output=True, text=True)
        assert again.returncode == 0 and "already running" in again.stdout
    finally:
        down = subprocess.run([SPATIALSVC, "db", "down"], env=env, capture_output=True, text=True)
        cluster_dir = (tmp_path / "home" / "pg").resolve()
        if cluster_dir.exists():
            shutil.rmtree(cluster_dir)
    assert down.returncode == 0 and "stopped" in down.stdout
    try:
        psycopg2.connect(url, connect_timeout=3).close()
        reachable = True
    except psycopg2.OperationalError:
        reachable = False
    assert not reachable


def test_unreachable_database_is_one_clear_line() -> None:
    env = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_free_port()}/nope",
        "PATH": "/usr/bin",
    }
    out = subprocess.run([SPATIALSVC, "db", "migrate"], env=env, capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to PostgreSQL")
