"""An application with access control on, and callers of every kind with their keys.

The callers' departments are made for these tests (``acc-*``) besides the camera layer's owner
``ga-hs``; grants are made through :mod:`spatialsvc.auth.applications` as the CLI would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from starlette.testclient import TestClient

from spatialsvc.auth import applications
from spatialsvc.auth.keys import create_department, create_key
from spatialsvc.auth.policy import resources_from_layers
from spatialsvc.auth.principal import Principal
from spatialsvc.errors import Conflict
from spatialsvc.layers import load_layers
from spatialsvc.settings import Settings

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
