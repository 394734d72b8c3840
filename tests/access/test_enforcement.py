"""Credentials, deny by default, 401/403/429 bodies, the audit trail, and the default (off)."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2
import pytest
from starlette.testclient import TestClient

from spatialsvc.audit import verify
from spatialsvc.auth import tokens
from spatialsvc.auth.keys import revoke
from spatialsvc.auth.principal import Principal
from spatialsvc.db.connect import connect
from spatialsvc.errors import DatabaseUnavailable
from spatialsvc.settings import Settings
from spatialsvc.web.access import RateLimiter, _Pool, classify, credential
from tests.conftest import _free_port

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


def _buckets(db_url: str, subjects: list[str]) -> dict[str, float]:
    """The rate-limit buckets of these subjects in the database: subject → tokens left."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT subject, tokens FROM auth.rate_bucket WHERE subject = ANY(%s)", (subjects,)
        )
        rows = {str(k): float(v) for k, v in cur.fetchall()}
    conn.close()
    return rows


def _forget(db_url: str, subjects: list[str]) -> None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM auth.rate_bucket WHERE subject = ANY(%s)", (subjects,))
    conn.close()


@pytest.fixture()
def pool(settings: Settings) -> Iterator[_Pool]:
    """Connections to the session database, as the access middleware keeps them."""
    made = _Pool(lambda: connect(settings, "spatialsvc-test"))
    yield made
    made.close()


def test_rate_limiter_bucket(pool: _Pool, db_url: str) -> None:
    """The bucket is in PostgreSQL: a burst of ``per_minute``, then refilled over time."""
    limiter = RateLimiter(60, pool)  # one a second, bursts of 60
    who, other = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    try:
        assert [limiter.take(who) for _ in range(60)] == [0.0] * 60
        wait = limiter.take(who)
        assert 0.5 < wait <= 1.0  # the burst is spent: about a second to the next token
        assert limiter.take(other) == 0  # a bucket per caller
        rows = _buckets(db_url, [who, other])
        assert rows[who] < 0.5 and rows[other] == pytest.approx(59)
        time.sleep(wait + 0.05)
        assert limiter.take(who) == 0  # refilled: one token, not more
        assert limiter.take(who) > 0.5
    finally:
        _forget(db_url, [who, other])


def test_concurrent_takes_never_overspend(pool: _Pool, db_url: str) -> None:
    """Takes from many threads (many connections) on one bucket serialize on its row."""
    limiter = RateLimiter(60, pool)
    who = f"test:{uuid.uuid4().hex}"
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(8) as threads:
            waits = list(threads.map(lambda _: limiter.take(who), range(160)))
        elapsed = time.monotonic() - started
        granted = waits.count(0.0)
        # the burst, plus one token a second while the threads ran
        assert 60 <= granted <= 60 + math.floor(elapsed) + 1, (granted, elapsed)
        assert all(0 < w <= 1.0 for w in waits if w)
    finally:
        _forget(db_url, [who])


def test_rate_limiter_forgets_full_buckets(pool: _Pool, db_url: str) -> None:
    """A bucket that is full again is deleted by the occasional sweep; one in use is kept."""
    full, spent = f"test:{uuid.uuid4().hex}", f"test:{uuid.uuid4().hex}"
    sweeping = RateLimiter(60, pool, sweep_seconds=0.0)  # every call sweeps
    try:
        assert sweeping.take(full) == 0  # 59 left: full again a second later
        assert set(_buckets(db_url, [full])) == {full}
        time.sleep(1.1)
        assert sweeping.take(spent) == 0  # sweeps after taking
        assert set(_buckets(db_url, [full, spent])) == {spent}
        time.sleep(1.1)  # now that one is full again too
        assert RateLimiter(60, pool).forget_full() >= 1
        assert _buckets(db_url, [full, spent]) == {}
    finally:
        _forget(db_url, [full, spent])


def test_rate_limit_off_makes_no_database_call(settings: Settings) -> None:
    """Off, taking a token never connects; on, a database that cannot be reached is an error
    for the middleware to answer (503)."""
    gone = f"postgresql://postgres@127.0.0.1:{_free_port()}/nothing"
    dead = _Pool(lambda: connect(settings.model_copy(update={"database_url": gone}), "test"))
    off = RateLimiter(0, dead)
    assert not off.on
    assert [off.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert off.forget_full() == 0
    with pytest.raises(DatabaseUnavailable):
        RateLimiter(6, dead).take("k")


def test_429_with_retry_after(
    access_client: TestClient, access_app: Any, callers: dict[str, Any], db_url: str
) -> None:
    extras = access_app.state.spatialsvc.extras
    limiter = extras["rate_limiter"]
    # the test client's address is "testclient"; failed sign-ins have a bucket of their own
    subjects = [f"key:{callers['fields'].key_id}", "fail:ip:testclient"]
    other = f"key:{callers['owner'].key_id}"
    _forget(db_url, [*subjects, other])
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
        # both buckets are spent, in the database
        assert all(tokens < 1 for tokens in _buckets(db_url, subjects).values())
        assert set(_buckets(db_url, subjects)) == set(subjects)
    finally:
        limiter.capacity, limiter.rate = saved
        _forget(db_url, [*subjects, other])


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
