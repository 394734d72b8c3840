"""Fixtures for the audit tests: a database of their own (the tests tamper with the chain),
emptied before each test, and a maker of varied events."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg2
import psycopg2.extensions
import pytest

from spatialsvc.audit.event import GENESIS_HASH, Event
from spatialsvc.db.migrate import migrate
from spatialsvc.settings import Settings
from tests.conftest import create_database, drop_database

T0 = datetime(2026, 11, 22, 8, 0, 0, 123456, tzinfo=UTC)
ACTIONS = ["data.read", "tile.read", "process.execute", "admin.create_key", "application.approve"]
DEPARTMENTS = ["gaj", "mzj", "zrzyj", None]
RESOURCES = ["buildings", "roads", "persons", None]


@pytest.fixture(scope="session")
def audit_url(base_url: str) -> Iterator[str]:
    """A fresh migrated database for the audit tests only."""
    url = create_database(base_url, "spatialsvc_audit_test")
    conn = psycopg2.connect(url)
    try:
        migrate(conn, echo=lambda _m: None)
    finally:
        conn.close()
    yield url
    if not os.environ.get("SPATIALSVC_KEEP_TEST_DB"):
        drop_database(url)


@pytest.fixture()
def audit_db(audit_url: str) -> str:
    """The audit database with an empty log (emptied as a superuser, triggers off)."""
    conn = psycopg2.connect(audit_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("DELETE FROM audit.event")
            cur.execute("UPDATE audit.anchor SET seq = 0, hash = %s", (GENESIS_HASH,))
    finally:
        conn.close()
    return audit_url


@pytest.fixture()
def aconn(audit_db: str) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the emptied audit database."""
    c = psycopg2.connect(audit_db)
    yield c
    c.close()


@pytest.fixture()
def audit_settings(audit_db: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the audit database."""
    return Settings(database_url=audit_db, home=tmp_path_factory.mktemp("audit-home"))


def make_event(i: int, **overrides: object) -> Event:
    """A varied, deterministic event number i."""
    fields: dict[str, object] = {
        "action": ACTIONS[i % len(ACTIONS)],
        "endpoint": f"/collections/{RESOURCES[i % 4] or 'x'}/items",
        "method": "GET" if i % 3 else "POST",
        "status": [200, 200, 403, 404, 500][i % 5],
        "role": ["consumer", "publisher", "admin", "public"][i % 4],
        "at": T0 + timedelta(seconds=i, microseconds=i),
        "actor_key_id": None if i % 4 == 3 else f"k{i % 7:07d}",
        "department": DEPARTMENTS[i % 4],
        "resource": RESOURCES[(i // 2) % 4],
        "params": {"limit": 10 + i, "bbox": [121.5, 29.8, 121.6, 29.9], "q": f"海曙 {i}"},
        "returned": None if i % 5 == 3 else i * 3,
        "duration_ms": 1.2345678 * i,
        "client": "127.0.0.1",
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]
