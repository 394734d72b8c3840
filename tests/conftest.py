"""Test fixtures: a real PostGIS database, made fresh for the session with the project's own
migrations.  Without PostgreSQL the tests fail; they never skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from psycopg2 import sql

from spatialsvc.db.cluster import database_url
from spatialsvc.db.migrate import migrate
from spatialsvc.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def with_database(url: str, name: str) -> str:
    """The same server URL, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin(url: str):  # type: ignore[no-untyped-def]
    conn = psycopg2.connect(with_database(url, "postgres"), connect_timeout=10)
    conn.autocommit = True
    return conn


def create_database(base_url: str, prefix: str = "spatialsvc_test") -> str:
    """Create an empty database beside the configured one and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = _admin(base_url)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    return with_database(base_url, name)


def drop_database(url: str) -> None:
    """Drop a database made by create_database."""
    name = urlsplit(url).path.lstrip("/")
    conn = _admin(url)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


@pytest.fixture(scope="session")
def base_url() -> str:
    """URL of the database configured for the project (the cluster must be up)."""
    url = database_url(get_settings())
    try:
        psycopg2.connect(url, connect_timeout=10).close()
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {url}: run `spatialsvc db up` ({exc})")
    return url


@pytest.fixture(scope="session")
def db_url(base_url: str) -> Iterator[str]:
    """A fresh database with every migration applied, for the whole session."""
    url = create_database(base_url)
    conn = psycopg2.connect(url)
    try:
        migrate(conn, echo=lambda _m: None)
    finally:
        conn.close()
    yield url
    if not os.environ.get("SPATIALSVC_KEEP_TEST_DB"):
        drop_database(url)


@pytest.fixture(scope="session")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the session's test database and a private home folder."""
    home = tmp_path_factory.mktemp("home")
    return Settings(database_url=db_url, home=home)


@pytest.fixture()
def conn(db_url: str) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the session database."""
    c = psycopg2.connect(db_url)
    yield c
    c.close()


DEMO_SEED = 5
DEMO_SCALE = 0.01


@pytest.fixture(scope="session")
def demo(settings: Settings) -> dict[str, int]:
    """The demo district loaded once into the session database (registers at 1% scale)."""
    from spatialsvc.demo.build import generate_and_load

    return generate_and_load(settings, DEMO_SEED, DEMO_SCALE, echo=lambda _m: None)


@pytest.fixture(scope="session")
def app(settings: Settings, demo: dict[str, int]):  # type: ignore[no-untyped-def]
    """The ASGI application over the demo data."""
    from spatialsvc.web.app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
def client(app):  # type: ignore[no-untyped-def]
    """An in-process HTTP client (Starlette's TestClient; server errors are not re-raised)."""
    from starlette.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(settings: Settings, demo: dict[str, int]) -> Iterator[str]:
    """The real service on a free loopback port, for real clients (GDAL, OWSLib); yields its URL.

    Runs uvicorn in a thread of the test process with the session's settings.
    """
    import threading
    import time

    import httpx
    import uvicorn

    from spatialsvc.web.app import create_app

    port = _free_port()
    live = settings.model_copy(update={"port": port, "public_url": f"http://127.0.0.1:{port}"})
    server = uvicorn.Server(
        uvicorn.Config(create_app(live), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/?f=json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        pytest.fail("the service did not start")
    yield url
    server.should_exit = True
    thread.join(timeout=10)
