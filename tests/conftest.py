"""Test fixtures: a real PostGIS database, made fresh for the session with the project's own
migrations.  Without PostgreSQL the tests fail; they never skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from psycopg2 import sql
from starlette.testclient import TestClient

from spatialsvc.auth import applications
from spatialsvc.auth.keys import create_department, create_key
from spatialsvc.auth.policy import resources_from_layers
from spatialsvc.auth.principal import Principal
from spatialsvc.db.cluster import database_url
from spatialsvc.db.migrate import migrate
from spatialsvc.errors import Conflict
from spatialsvc.layers import load_layers
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
    # Access control is the service's default; the functional tests of publishing, geocoding
    # and processes run without it, and the `access_*` fixtures below turn it on.
    return Settings(database_url=db_url, home=home, access_control=False)


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
def geocoded(settings: Settings, db_url: str, demo: dict[str, int]) -> dict[str, int]:
    """Both registers of the demo geocoded (``spatialsvc geocode registry``), once a session;
    returns how many persons and legal entities have a point."""
    from spatialsvc.geocoding.registry import run_registry

    def located(name: str) -> int:
        table = sql.Identifier("registry", f"{name}_geocode")
        with psycopg2.connect(db_url) as c, c.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(geom) FROM {}").format(table))
            return int(cur.fetchone()[0])  # type: ignore[index]

    counts = {}
    for name in ("person", "legal_entity"):
        if located(name) == 0:
            run_registry(settings, name, workers=1, echo=lambda _m: None)
        counts[name] = located(name)
    assert min(counts.values()) > 0
    return counts


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


def serve(settings: Settings) -> Iterator[str]:
    """Run the real service on a free loopback port in a thread; yield its URL."""
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
            if httpx.get(url + "/conformance?f=json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        pytest.fail("the service did not start")
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Settings, demo: dict[str, int]) -> Iterator[str]:
    """The real service on a free loopback port, for real clients (GDAL, OWSLib); yields its URL.

    Runs uvicorn in a thread of the test process with the session's settings (access control
    off: see ``secure_server`` for the service as it is deployed).
    """
    yield from serve(settings)


@dataclass(frozen=True)
class SecureServer:
    """The service with access control on, and an administrator's key made by the CLI."""

    url: str
    key: str


@pytest.fixture(scope="session")
def secure_server(access_settings: Settings, demo: dict[str, int]) -> Iterator[SecureServer]:
    """The real service with access control on (its default), on a free loopback port, and a
    key printed by ``spatialsvc auth create-key`` for a platform administrator's department
    (reads every layer, sensitive fields masked), as an operator would make one."""
    import subprocess
    import sys

    env = {
        **os.environ,
        "DATABASE_URL": str(access_settings.database_url),
        "SPATIALSVC_DATABASE_URL": str(access_settings.database_url),
        "SPATIALSVC_HOME": str(access_settings.home),
    }
    cli = [str(Path(sys.executable).with_name("spatialsvc"))]  # the venv's command
    subprocess.run(
        [*cli, "auth", "create-department", "gis-ops", "--name", "测试：平台运维"],
        env=env,
        capture_output=True,
        text=True,
        check=False,  # made already by another run of this session: fine
    )
    made = subprocess.run(
        [*cli, "auth", "create-key", "--department", "gis-ops", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("ssk_"), made.stdout
    for url in serve(access_settings):
        yield SecureServer(url, key)


# -- access control on: callers of every kind with their keys -----------------------------

DEPARTMENTS = {
    "ga-hs": "宁波市公安局海曙分局",
    "acc-stranger": "测试：无申请的部门",
    "acc-grantee": "测试：持有申请的部门",
    "acc-fields": "测试：申请了姓名字段的部门",
    "acc-expired": "测试：申请已过期的部门",
    "acc-admin": "测试：平台管理",
}


@dataclass(frozen=True)
class Caller:
    """A kind of caller and the headers it sends."""

    name: str
    key: str | None
    key_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}


@pytest.fixture(scope="session")
def access_settings(settings: Settings) -> Settings:
    """The session's settings with access control on."""
    return settings.model_copy(
        update={"access_control": True, "geocoder_preload": False, "auth_cache_seconds": 0}
    )


@pytest.fixture(scope="session")
def callers(access_settings: Settings, db_url: str) -> dict[str, Caller]:
    """public, stranger, grantee, fields (grant with name in clear), expired, owner, admin."""
    resources = resources_from_layers(load_layers(access_settings.layers_dir))
    conn = psycopg2.connect(db_url)
    try:
        with conn:
            for code, name in DEPARTMENTS.items():
                try:
                    with conn.cursor() as cur:
                        cur.execute("SAVEPOINT d")
                    create_department(conn, code, name)
                except Conflict:
                    with conn.cursor() as cur:
                        cur.execute("ROLLBACK TO SAVEPOINT d")
        made = {}
        with conn:
            for name, dept, role in [
                ("stranger", "acc-stranger", "consumer"),
                ("grantee", "acc-grantee", "consumer"),
                ("fields", "acc-fields", "consumer"),
                ("expired", "acc-expired", "consumer"),
                ("owner", "ga-hs", "consumer"),
                ("owner_publisher", "ga-hs", "publisher"),
                ("admin", "acc-admin", "admin"),
            ]:
                made[name] = create_key(conn, dept, role, label=f"access tests: {name}")
        owner = Principal("ga-hs", "publisher", made["owner_publisher"].record.id)
        until = datetime.now(UTC) + timedelta(days=30)
        with conn:
            for name, fields in [("grantee", None), ("fields", ["name"]), ("expired", None)]:
                rec = made[name].record
                who = Principal(rec.department, "consumer", rec.id)
                app_ = applications.apply(
                    conn, who, resources, "camera", "测试", until, fields=fields
                )
                applications.approve(conn, owner, resources, app_.id)
                if name == "expired":
                    with conn.cursor() as cur:
                        cur.execute(
                            "UPDATE auth.application SET valid_from = now() - interval '10 days',"
                            " valid_until = now() - interval '1 day' WHERE id = %s",
                            (app_.id,),
                        )
    finally:
        conn.close()
    out = {"public": Caller("public", None)}
    for name, new in made.items():
        if name != "owner_publisher":
            out[name] = Caller(name, new.key, new.record.id)
    return out


@pytest.fixture(scope="session")
def access_app(access_settings: Settings, demo: dict[str, int]):  # type: ignore[no-untyped-def]
    """The application over the demo data with access control on."""
    from spatialsvc.web.app import create_app

    return create_app(access_settings)


@pytest.fixture(scope="session")
def access_client(access_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An in-process client of the access-controlled application (lifespan run)."""
    with TestClient(access_app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def cameras(db_url: str) -> list[tuple[str, str]]:
    """Every camera's id and name, to look for leaks."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT camera_id::text, name FROM registry.camera ORDER BY camera_id")
        return [(str(a), str(b)) for a, b in cur.fetchall()]
