"""Fixtures of the fault tests: a throwaway PostgreSQL cluster that a test may stop and start
(the project's own cluster is shared by every test and never restarted), loaded with the
session's demo district through ``db backup`` / ``db restore``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg2
import pytest

from spatialsvc.auth.keys import create_department, create_key
from spatialsvc.db import cluster
from spatialsvc.db.backup import backup, restore
from spatialsvc.settings import Settings
from tests.conftest import ROOT, _free_port

SPATIALSVC = str(ROOT / ".venv" / "bin" / "spatialsvc")


@dataclass
class Throwaway:
    """A private cluster: its settings (for ``db up``/``db down``), URL and an admin's key."""

    settings: Settings  # database_url unset: the cluster code manages it
    url: str
    key: str

    def stop(self) -> None:
        """Stop PostgreSQL (fast shutdown: open sessions are ended)."""
        cluster.down(self.settings, echo=lambda _m: None)

    def start(self) -> None:
        """Start PostgreSQL again on the same port."""
        made = cluster.up(self.settings, echo=lambda _m: None)
        assert made.url() == self.url, "the throwaway cluster came back on another port"


@pytest.fixture(scope="session")
def throwaway(
    settings: Settings, demo: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Throwaway]:
    """A throwaway cluster on a free port holding a copy of the session's demo database."""
    home = tmp_path_factory.mktemp("throwaway")
    own = Settings(home=home, pg_port=_free_port(), pg_database="spatialsvc", database_url=None)
    made = cluster.up(own, echo=lambda _m: None)
    data_root = (home / "pg").resolve()  # under /var/lib/spatialsvc when postgres cannot reach
    try:
        dump = home / "demo.dump"
        backup(settings, dump, echo=lambda _m: None)
        restore(own, dump, echo=lambda _m: None)
        conn = psycopg2.connect(made.url())
        try:
            with conn:
                create_department(conn, "fault-ops", "测试：故障演练")
                key = create_key(conn, "fault-ops", "admin", label="fault tests").key
        finally:
            conn.close()
        yield Throwaway(own, made.url(), key)
    finally:
        cluster.down(own, echo=lambda _m: None)
        if data_root != home / "pg":
            shutil.rmtree(data_root, ignore_errors=True)


def service_settings(throwaway: Throwaway, home: Path, **update: object) -> Settings:
    """The service's settings over the throwaway cluster, access control on (the default)."""
    return Settings(
        database_url=throwaway.url, home=home, access_control=True, geocoder_preload=False
    ).model_copy(update=update)


def serve_env(throwaway: Throwaway, home: Path) -> dict[str, str]:
    """The environment of a ``spatialsvc`` command over the throwaway cluster."""
    return {
        **os.environ,
        "DATABASE_URL": throwaway.url,
        "SPATIALSVC_DATABASE_URL": throwaway.url,
        "SPATIALSVC_HOME": str(home),
        "SPATIALSVC_GEOCODER_PRELOAD": "false",
    }


def start_serve(throwaway: Throwaway, home: Path, port: int) -> subprocess.Popen[bytes]:
    """A real ``spatialsvc serve`` over the throwaway cluster, in its own process group (kill it
    with ``os.killpg``), once it answers."""
    proc = subprocess.Popen(
        [SPATIALSVC, "serve", "--port", str(port)],
        env=serve_env(throwaway, home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "spatialsvc serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/conformance?f=json", timeout=2).is_success:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail("spatialsvc serve did not start")
