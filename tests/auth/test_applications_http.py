"""The HTTP API of applications (``/applications``), with access control on, and the audit rows
its acts leave.  A fresh applying department is made here so that the shared callers' grants
(tests/conftest.py) are left as they are."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg2
import pytest
from starlette.testclient import TestClient

from spatialsvc.audit import verify
from spatialsvc.auth.keys import create_department, create_key
from tests.conftest import Caller

UNTIL = (datetime.now().astimezone() + timedelta(days=30)).isoformat(timespec="seconds")
CAMERA_ITEMS = "/collections/camera/items?f=json&limit=2"


@pytest.fixture(scope="module")
def who(db_url: str, callers: dict[str, Caller]) -> dict[str, Caller]:
    """The shared callers, plus ``applicant`` (a department of its own, no grant yet),
    ``publisher`` (ga-hs, the camera layer's owner) and its department's code."""
    code = f"h-{uuid.uuid4().hex[:6]}"
    conn = psycopg2.connect(db_url)
    try:
        with conn:
            create_department(conn, code, "测试：通过接口申请的部门")
            applicant = create_key(conn, code, "consumer", label="http tests: applicant")
            publisher = create_key(conn, "ga-hs", "publisher", label="http tests: owner")
    finally:
        conn.close()
    out = dict(callers)
    out["applicant"] = Caller("applicant", applicant.key, applicant.record.id)
    out["publisher"] = Caller("publisher", publisher.key, publisher.record.id)
    out["dept"] = Caller(code, None)
    return out


def acts(db_url: str, action: str, application_id: int) -> list[dict[str, Any]]:
    """The audit rows of one act on one application, oldest first."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT actor_key_id, department, role, resource, endpoint, method, params, status "
            "FROM audit.event WHERE action = %s AND params->>'application_id' = %s ORDER BY seq",
            (action, str(application_id)),
        )
        names = [d.name for d in cur.description or ()]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    conn.close()
    return rows


def apply(client: TestClient, caller: Caller, **body: Any) -> Any:
    body = {"resource": "camera", "purpose": "治安巡查", "valid_until": UNTIL, **body}
    return client.post("/applications", json=body, headers=caller.headers)


def clean_error(r: Any, status: int, words: str) -> None:
    """An error answered as a short JSON body naming the problem, nothing else."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"code", "description"}, body
    assert words in body["description"], body
    assert "Traceback" not in r.text and "psycopg2" not in r.text and "SQL" not in r.text


def test_public_gets_401_on_every_route(access_client: TestClient, who: dict[str, Caller]) -> None:
    public = who["public"].headers
    for method, path in [
        ("GET", "/applications"),
        ("GET", "/applications?status=pending"),
        ("POST", "/applications"),
        ("GET", "/applications/1"),
        ("POST", "/applications/1/approve"),
        ("POST", "/applications/1/reject"),
        ("POST", "/applications/1/revoke"),
    ]:
        r = access_client.request(method, path, headers=public, json={"reason": "x"})
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["code"] == "Unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_apply_approve_grants_access_then_revoke(
    access_client: TestClient, who: dict[str, Caller], db_url: str
) -> None:
    applicant, publisher, dept = who["applicant"], who["publisher"], who["dept"].name
    assert access_client.get(CAMERA_ITEMS, headers=applicant.headers).status_code == 403

    r = apply(access_client, applicant, fields=["name"])
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["status"] == "pending" and a["department"] == dept and a["resource"] == "camera"
    assert a["fields"] == ["name"] and a["decided_by"] is None
    assert r.headers["location"].endswith(f"/applications/{a['id']}")
    assert a["links"][0]["href"] == r.headers["location"]
    app_id = a["id"]
    [row] = acts(db_url, "application.apply", app_id)
    assert row["department"] == dept and row["actor_key_id"] == applicant.key_id
    assert row["role"] == "consumer" and row["resource"] == "camera" and row["status"] == 201
    assert row["endpoint"] == "/applications" and row["method"] == "POST"
    assert row["params"]["via"] == "http" and row["params"]["purpose"] == "治安巡查"
    assert row["params"]["fields"] == ["name"]

    # the applicant and the owner see it; a stranger does not, not even that it exists
    assert access_client.get(f"/applications/{app_id}", headers=applicant.headers).json() == a
    assert access_client.get(f"/applications/{app_id}", headers=publisher.headers).json() == a
    r = access_client.get(f"/applications/{app_id}", headers=who["stranger"].headers)
    clean_error(r, 404, f"no application {app_id}")

    # a stranger may not decide, nor learn that the application exists (404, as for GET); the
    # owner's consumer key sees it but may not decide: refused, and recorded
    r = access_client.post(f"/applications/{app_id}/approve", headers=who["stranger"].headers)
    clean_error(r, 404, f"no application {app_id}")
    r = access_client.post(f"/applications/{app_id}/approve", headers=who["owner"].headers)
    clean_error(r, 403, "publisher or admin")
    refused = acts(db_url, "application.approve", app_id)
    assert [(x["department"], x["status"]) for x in refused] == [("ga-hs", 403)]
    assert (
        refused[0]["resource"] == "camera" and "publisher or admin" in refused[0]["params"]["error"]
    )

    r = access_client.post(
        f"/applications/{app_id}/approve", headers=publisher.headers, json={"reason": "同意"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["decided_by"] == "ga-hs"
    approved = acts(db_url, "application.approve", app_id)[1:]
    assert len(approved) == 1
    assert approved[0]["status"] == 200 and approved[0]["department"] == "ga-hs"
    assert approved[0]["actor_key_id"] == publisher.key_id and approved[0]["role"] == "publisher"
    assert approved[0]["params"]["reason"] == "同意"
    assert approved[0]["params"]["applicant"] == dept

    # the grant works at once, with the name in clear as asked
    r = access_client.get(CAMERA_ITEMS, headers=applicant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["features"]

    # deciding twice: 409, recorded
    r = access_client.post(f"/applications/{app_id}/approve", headers=publisher.headers)
    clean_error(r, 409, "already decided")
    assert [x["status"] for x in acts(db_url, "application.approve", app_id)] == [
        403,
        200,
        409,
    ]

    # revoking needs a reason; then the grant stops working
    r = access_client.post(f"/applications/{app_id}/revoke", headers=publisher.headers)
    clean_error(r, 400, "reason")
    r = access_client.post(
        f"/applications/{app_id}/revoke", headers=publisher.headers, json={"reason": "项目结束"}
    )
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    assert [x["status"] for x in acts(db_url, "application.revoke", app_id)] == [400, 200]
    assert access_client.get(CAMERA_ITEMS, headers=applicant.headers).status_code == 403


def test_reject_needs_a_reason_and_is_final(
    access_client: TestClient, who: dict[str, Caller], db_url: str
) -> None:
    app_id = apply(access_client, who["applicant"]).json()["id"]
    admin = who["admin"].headers
    clean_error(access_client.post(f"/applications/{app_id}/reject", headers=admin), 400, "reason")
    r = access_client.post(f"/applications/{app_id}/reject", headers=admin, json={"reason": " "})
    clean_error(r, 400, "a rejection needs a reason")
    r = access_client.post(
        f"/applications/{app_id}/reject", headers=admin, json={"reason": "用途不明确"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["reason"] == "用途不明确"
    assert r.json()["decided_by"] == "acc-admin"  # a platform administrator may decide
    r = access_client.post(f"/applications/{app_id}/approve", headers=admin)
    clean_error(r, 409, "already decided")
    r = access_client.post(f"/applications/{app_id}/revoke", headers=admin, json={"reason": "x"})
    clean_error(r, 409, "not approved")
    rows = acts(db_url, "application.reject", app_id)
    assert [(x["status"], x["department"], x["role"]) for x in rows] == [
        (400, "acc-admin", "admin"),
        (400, "acc-admin", "admin"),
        (200, "acc-admin", "admin"),
    ]
    assert all(x["resource"] == "camera" for x in rows)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"camera"', "must be a JSON object"),
        (b'{"purpose": "p", "valid_until": "2099-01-01"}', "resource is required"),
        (b'{"resource": "camera", "valid_until": "2099-01-01"}', "purpose is required"),
        (b'{"resource": "camera", "purpose": "p"}', "valid_until is required"),
        (b'{"resource": "camera", "purpose": "p", "valid_until": "2099-13-45"}', "ISO 8601"),
        (b'{"resource": "camera", "purpose": "p", "valid_until": "tomorrow"}', "ISO 8601"),
        (b'{"resource": "camera", "purpose": "p", "valid_until": 20990101}', "must be a string"),
        (
            b'{"resource": "camera", "purpose": "p", "valid_until": "2099-01-01", '
            b'"valid_from": "2099-02-30"}',
            "valid_from",
        ),
        (
            b'{"resource": "camera", "purpose": "p", "valid_until": "2099-01-01", '
            b'"fields": "name"}',
            "fields must be a list",
        ),
        (
            b'{"resource": "camera", "purpose": "p", "valid_until": "2099-01-01", "until": 1}',
            "unknown member 'until'",
        ),
        (b'{"resource": 7, "purpose": "p", "valid_until": "2099-01-01"}', "resource must be"),
    ],
)
def test_bad_bodies_are_400(
    access_client: TestClient, who: dict[str, Caller], body: bytes, words: str
) -> None:
    headers = {**who["applicant"].headers, "Content-Type": "application/json"}
    clean_error(access_client.post("/applications", content=body, headers=headers), 400, words)


@pytest.mark.parametrize(
    ("extra", "status", "words"),
    [
        ({"resource": "nosuch"}, 404, "unknown resource"),
        ({"resource": "road"}, 400, "only conditional"),
        ({"valid_until": "2020-01-01"}, 400, "already ended"),
        ({"valid_from": "2099-06-01", "valid_until": "2099-01-01"}, 400, "ends before"),
        ({"fields": ["salary"]}, 400, "no field salary"),
        ({"purpose": "  "}, 400, "needs a purpose"),
    ],
)
def test_refused_applications_are_recorded(
    access_client: TestClient,
    who: dict[str, Caller],
    db_url: str,
    extra: dict[str, Any],
    status: int,
    words: str,
) -> None:
    def refused() -> list[str]:
        with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT params->>'error' FROM audit.event WHERE action = 'application.apply' "
                "AND department = %s AND status = %s ORDER BY seq",
                (who["dept"].name, status),
            )
            rows = [r[0] for r in cur.fetchall()]
        conn.close()
        return rows

    before = refused()
    clean_error(apply(access_client, who["applicant"], **extra), status, words)
    after = refused()
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert words in after[-1]


def test_the_owner_need_not_apply(access_client: TestClient, who: dict[str, Caller]) -> None:
    clean_error(apply(access_client, who["publisher"]), 400, "no need to apply")


def test_list_shows_what_the_caller_may_see(
    access_client: TestClient, who: dict[str, Caller]
) -> None:
    app_id = apply(access_client, who["applicant"]).json()["id"]

    def ids(caller: str, query: str = "") -> set[int]:
        r = access_client.get(f"/applications{query}", headers=who[caller].headers)
        assert r.status_code == 200, r.text
        return {a["id"] for a in r.json()}

    assert app_id in ids("applicant") and app_id in ids("publisher") and app_id in ids("admin")
    assert app_id in ids("owner")  # any key of the owning department sees it
    assert app_id not in ids("stranger") and app_id not in ids("grantee")
    assert app_id in ids("applicant", "?status=pending")
    assert app_id not in ids("applicant", "?status=approved")
    assert all(
        a["department"] == who["dept"].name
        for a in access_client.get("/applications", headers=who["applicant"].headers).json()
    )
    r = access_client.get("/applications?status=maybe", headers=who["admin"].headers)
    clean_error(r, 400, "status: one of pending")
    r = access_client.get("/applications?state=pending", headers=who["admin"].headers)
    clean_error(r, 400, "unknown parameter")


def test_unknown_ids_are_404(access_client: TestClient, who: dict[str, Caller]) -> None:
    admin = who["admin"].headers
    for path in ["/applications/999999999", "/applications/abc", "/applications/" + "9" * 30]:
        clean_error(access_client.get(path, headers=admin), 404, "no application")
    r = access_client.post("/applications/999999999/approve", headers=admin)
    clean_error(r, 404, "no application 999999999")
    r = access_client.post("/applications/1/approve", headers=admin, content=b"{oops")
    clean_error(r, 400, "not valid JSON")


def test_without_access_control_403(client: TestClient) -> None:
    for method, path in [("GET", "/applications"), ("POST", "/applications/1/approve")]:
        r = client.request(method, path, json={})
        clean_error(r, 403, "applications need access control (SPATIALSVC_ACCESS_CONTROL)")


def test_the_chain_is_intact(
    access_client: TestClient, who: dict[str, Caller], db_url: str
) -> None:
    apply(access_client, who["applicant"])  # at least one act of this module is in the log
    conn = psycopg2.connect(db_url)
    try:
        report = verify(conn)
    finally:
        conn.close()
    assert report.intact, report.summary()
    assert report.events > 0


def test_openapi_declares_the_applications_api(access_client: TestClient) -> None:
    paths = access_client.get("/openapi?f=json").json()["paths"]
    for path in ("/applications", "/applications/{id}", "/applications/{id}/approve"):
        assert path in paths
    assert set(paths["/applications"]) == {"get", "post"}
