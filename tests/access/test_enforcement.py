"""Credentials, deny by default, 401/403/429 bodies, the audit trail, and the default (off)."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
import pytest
from starlette.testclient import TestClient

from spatialsvc.audit import verify
from spatialsvc.auth import tokens
from spatialsvc.auth.keys import revoke
from spatialsvc.auth.principal import Principal
from spatialsvc.settings import Settings
from spatialsvc.web.access import RateLimiter, classify, credential

BAD_KEY = "ssk_AAAAAAAA_" + "A" * 43


def test_access_control_is_on_by_default(monkeypatch: Any) -> None:
    monkeypatch.delenv("SPATIALSVC_ACCESS_CONTROL", raising=False)
    assert Settings(_env_file=None).access_control is True  # type: ignore[call-arg]
    monkeypatch.setenv("SPATIALSVC_ACCESS_CONTROL", "false")
    assert Settings(_env_file=None).access_control is False  # type: ignore[call-arg]


def test_functional_tests_run_with_access_control_off(client: TestClient) -> None:
    """The publishing tests' app (``client``) serves the conditional layer to anyone."""
    assert client.get("/collections/camera/items?f=json&limit=1").status_code == 200


def test_basic_credentials_carry_the_key_as_password(
    access_client: TestClient, callers: dict[str, Any]
) -> None:
    """Desktop GIS clients (QGIS, GDAL's USERPWD) send the key as an HTTP Basic password."""
    import base64

    key = callers["grantee"].key
    for user in ("key", "anything", ""):
        basic = base64.b64encode(f"{user}:{key}".encode()).decode()
        r = access_client.get(
            "/collections/camera/items?f=json&limit=1", headers={"Authorization": f"Basic {basic}"}
        )
        assert r.status_code == 200, r.text
    for bad in (f"{key}:", "user:not-a-key", "no colon"):
        basic = base64.b64encode(bad.encode()).decode()
        r = access_client.get(
            "/collections/camera/items?f=json&limit=1", headers={"Authorization": f"Basic {basic}"}
        )
        assert r.status_code == 401 and r.json()["code"] == "Unauthorized"
    r = access_client.get("/collections/camera/items?f=json", headers={"Authorization": "Basic %%"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {BAD_KEY}"},
        {"X-API-Key": BAD_KEY},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_wrong_credentials_401(access_client: TestClient, headers: dict[str, str]) -> None:
    r = access_client.get("/collections/road/items?f=json&limit=1", headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "Unauthorized" and body["description"]
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_x_api_key_and_token_work(
    access_client: TestClient, callers: dict[str, Any], access_settings: Settings
) -> None:
    owner = callers["owner"]
    r = access_client.get(
        "/collections/camera/items?f=json&limit=1", headers={"X-API-Key": owner.key}
    )
    assert r.status_code == 200
    token = tokens.issue(access_settings, Principal("ga-hs", "consumer", owner.key_id), ttl=60)
    r = access_client.get(
        "/collections/camera/items?f=json&limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200


def test_revoked_key_401(access_client: TestClient, access_settings: Settings, db_url: str) -> None:
    from spatialsvc.auth.keys import create_key

    with psycopg2.connect(db_url) as conn:
        new = create_key(conn, "acc-stranger", "consumer", label="to revoke")
    h = {"Authorization": f"Bearer {new.key}"}
    assert access_client.get("/collections/building?f=json", headers=h).status_code == 200
    with psycopg2.connect(db_url) as conn:
        revoke(conn, new.record.id)
    r = access_client.get("/collections/building?f=json", headers=h)
    assert r.status_code == 401 and r.json()["code"] == "Unauthorized"


def test_signed_in_callers_are_remembered_briefly(
    access_settings: Settings, db_url: str, demo: Any
) -> None:
    """With auth_cache_seconds, a revoked key stops working once that time has passed."""
    from spatialsvc.auth.keys import create_key
    from spatialsvc.web.app import create_app

    settings = access_settings.model_copy(update={"auth_cache_seconds": 1.0})
    with psycopg2.connect(db_url) as conn:
        new = create_key(conn, "acc-stranger", "consumer", label="cached then revoked")
    h = {"Authorization": f"Bearer {new.key}"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        assert c.get("/collections/building?f=json", headers=h).status_code == 200
        with psycopg2.connect(db_url) as conn:
            revoke(conn, new.record.id)
        time.sleep(1.2)
        r = c.get("/collections/building?f=json", headers=h)
        assert r.status_code == 401 and r.json()["code"] == "Unauthorized"


@pytest.mark.parametrize(
    "path", ["/nowhere", "/collections/camera/elsewhere", "/collections/nothing/items", "/admin"]
)
def test_unclassified_paths_are_refused(access_client: TestClient, path: str) -> None:
    r = access_client.get(path)
    assert r.status_code == 404
    assert r.json()["code"] == "NotFound"


@pytest.mark.parametrize(
    "path",
    ["/", "/conformance", "/openapi", "/processes", "/TileMatrixSets", "/basemaps/fonts.json"],
)
def test_free_paths_need_no_credentials(access_client: TestClient, path: str) -> None:
    assert access_client.get(path, params={"f": "json"}).status_code == 200


def test_geocode_follows_standard_address_sharing(
    access_client: TestClient, callers: dict[str, Any]
) -> None:
    # standard_address is shared `unconditional`: the public must sign in
    assert access_client.get("/geocode", params={"q": "中山西路"}).status_code == 401
    r = access_client.get("/geocode", params={"q": "中山西路"}, headers=callers["stranger"].headers)
    assert r.status_code != 401 and r.status_code != 403


def test_classify() -> None:
    assert classify("/collections/camera/items/7").item  # type: ignore[union-attr]
    assert classify("/collections/camera/items/").kind == "data"  # type: ignore[union-attr]
    assert classify("/collections/camera/tiles/WebMercatorQuad/1/2/3").kind == "tile"  # type: ignore[union-attr]
    assert classify("/collections/camera/tiles/WebMercatorQuad").kind == "metadata"  # type: ignore[union-attr]
    assert classify("/collections/catalogue/items").kind == "records"  # type: ignore[union-attr]
    assert classify("/jobs/abc/results").resource == "standard_address"  # type: ignore[union-attr]
    assert classify("/somewhere/else") is None
    assert classify("/collections/camera/items/7/more") is None
    for tail in ("legend", "styles/default"):
        target = classify(f"/collections/stats_grid/{tail}")
        assert target is not None and (target.kind, target.resource) == ("metadata", "stats_grid")
    analysis = classify("/processes/zonal-stats/execution")
    assert analysis is not None and analysis.resource == "analysis"
    nearby = classify("/processes/nearby-entities/execution")
    assert nearby is not None and nearby.resource == "legal_entity"
    assert classify("/applications/3/approve").kind == "account"  # type: ignore[union-attr]
    assert classify("/map/").kind == "free"  # type: ignore[union-attr]


def test_credential_headers() -> None:
    from starlette.datastructures import Headers

    assert credential(Headers({"authorization": "Bearer abc"})) == "abc"
    assert credential(Headers({"x-api-key": " abc "})) == "abc"
    assert credential(Headers({"authorization": "Basic abc"})) == ""
    assert credential(Headers({})) is None


def test_rate_limiter_bucket() -> None:
    limiter = RateLimiter(60)  # one a second, bursts of 60
    assert all(limiter.take("k", now=0.0) == 0 for _ in range(60))
    assert limiter.take("k", now=0.0) == pytest.approx(1.0)
    assert limiter.take("other", now=0.0) == 0
    assert limiter.take("k", now=1.0) == 0
    assert RateLimiter(0).take("k") == 0


def test_429_with_retry_after(
    access_client: TestClient, access_app: Any, callers: dict[str, Any]
) -> None:
    extras = access_app.state.spatialsvc.extras
    limiter = extras["rate_limiter"]
    saved = (limiter.capacity, limiter.rate)
    limiter.capacity, limiter.rate = 3.0, 3 / 60
    try:
        h = callers["fields"].headers
        codes = [
            access_client.get("/collections/road?f=json", headers=h).status_code for _ in range(5)
        ]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        r = access_client.get("/collections/road?f=json", headers=h)
        assert r.status_code == 429
        assert r.json()["code"] == "TooManyRequests" and r.json()["description"]
        assert int(r.headers["retry-after"]) >= 1
        # guessing keys is limited per address
        bad = [
            access_client.get("/collections/road", headers={"X-API-Key": BAD_KEY}).status_code
            for _ in range(5)
        ]
        assert bad[:3] == [401, 401, 401] and bad[3:] == [429, 429]
        # another key is not limited by this one's bucket
        assert (
            access_client.get(
                "/collections/road?f=json", headers=callers["owner"].headers
            ).status_code
            == 200
        )
    finally:
        limiter.capacity, limiter.rate = saved
        limiter._buckets.clear()


def test_audit_rows_written_and_chain_intact(
    access_client: TestClient, access_app: Any, callers: dict[str, Any], db_url: str
) -> None:
    grantee = callers["grantee"]
    marker = f"t{time.time_ns()}"
    ok = access_client.get(
        f"/collections/camera/items?f=json&limit=3&marker={marker}&token=secret",
        headers=grantee.headers,
    )
    assert ok.status_code == 200
    refused = access_client.get(f"/collections/camera/items?f=json&marker={marker}")
    assert refused.status_code == 401
    assert access_app.state.spatialsvc.extras["audit"].drain(timeout=20)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT actor_key_id, department, role, resource, action, status, returned, params"
            " FROM audit.event WHERE params->>'marker' = %s ORDER BY seq",
            (marker,),
        )
        rows = cur.fetchall()
    assert len(rows) == 2
    key_id, dept, role, resource, action, status, returned, params = rows[0]
    assert (key_id, dept, role, resource, action, status, returned) == (
        grantee.key_id,
        "acc-grantee",
        "consumer",
        "camera",
        "data.read",
        200,
        3,
    )
    assert "token" not in params and params["limit"] == "3"
    assert rows[1][2] == "public" and rows[1][5] == 401 and rows[1][0] is None
    conn = psycopg2.connect(db_url)
    try:
        report = verify(conn)
    finally:
        conn.close()
    assert report.intact, report.summary()


def test_audit_buffer_never_drops(tmp_path: Any) -> None:
    """A buffer whose writer cannot write spills to its file rather than losing events."""
    from spatialsvc.audit import Event
    from spatialsvc.web.audit_buffer import AuditBuffer

    def broken() -> Any:
        raise OSError("no database")

    buffer = AuditBuffer(broken, capacity=2, block_seconds=0.1, spill_file=tmp_path / "s.jsonl")
    for i in range(4):
        event = Event(action="data.read", endpoint=f"/x{i}", method="GET", status=200)
        if not buffer.put(event):
            buffer.put_blocking(event)
    buffer.stop(timeout=20)
    lines = (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
