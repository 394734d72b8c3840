"""``/map/`` and ``/map/api/session`` without a browser: the page is served to anyone, and the
session says what each caller may read, as ``policy.decide`` does for the data routes."""

from __future__ import annotations

import re
from typing import Any

import psycopg2
from starlette.testclient import TestClient

from tests.conftest import Caller


def test_the_page_and_its_files_are_served_to_anyone(access_client: TestClient) -> None:
    page = access_client.get("/map/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "数据服务门户" in page.text and "{{base}}" not in page.text
    assert "/static/vendor/maplibre-gl/maplibre-gl.js" in page.text
    base = re.search(r'data-base="([^"]+)"', page.text)
    assert base is not None
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):  # nothing from elsewhere
        assert url.startswith(base.group(1) + "/") or url.startswith("data:"), url
    moved = access_client.get("/map", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"].endswith("/map/")
    for name in ("portal.js", "gcj02.js", "portal.css"):
        assert access_client.get(f"/static/portal/{name}").status_code == 200


def _session(client: TestClient, caller: Caller) -> dict[str, Any]:
    answer = client.get("/map/api/session", headers=caller.headers)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    doc: dict[str, Any] = answer.json()
    return doc


def test_session_agrees_with_the_data_routes(
    access_client: TestClient, callers: dict[str, Caller]
) -> None:
    for name in ("public", "stranger", "grantee", "fields", "expired", "owner", "admin"):
        caller = callers[name]
        doc = _session(access_client, caller)
        assert doc["active"] is True and doc["signed_in"] is (caller.key is not None)
        listed = access_client.get("/collections?f=json", headers=caller.headers).json()
        listed_ids = {c["id"] for c in listed["collections"]}
        for layer in doc["layers"]:
            assert layer["id"] in listed_ids  # never more than /collections lists
            items = access_client.get(
                f"/collections/{layer['id']}/items?f=json&limit=1", headers=caller.headers
            )
            assert (items.status_code == 200) is layer["readable"], (name, layer["id"])
    grantee = {x["id"]: x for x in _session(access_client, callers["grantee"])["layers"]}
    fields = {x["id"]: x for x in _session(access_client, callers["fields"])["layers"]}
    assert grantee["camera"]["readable"] and "name" in grantee["camera"]["masked_fields"]
    assert fields["camera"]["readable"] and "name" not in fields["camera"]["masked_fields"]
    owner = _session(access_client, callers["owner"])
    assert owner["department"] == "ga-hs" and owner["department_name"]


def test_a_bad_credential_is_a_401_and_audited(access_app, access_client, db_url) -> None:  # type: ignore[no-untyped-def]
    """The session goes through the access middleware: signed in, limited and audited there."""
    marker = "ssk_nothing_" + "x" * 40
    for headers in (
        {"Authorization": f"Bearer {marker}"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
    ):
        answer = access_client.get("/map/api/session", headers=headers)
        assert answer.status_code == 401, answer.text
        body = answer.json()
        assert body["code"] == "Unauthorized" and body["description"]
        assert "layers" not in body and "Traceback" not in answer.text
    public = access_client.get("/map/api/session")  # no credential: the public's session
    assert public.status_code == 200 and public.json()["signed_in"] is False
    assert access_app.state.spatialsvc.extras["audit"].drain(timeout=20)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, count(*) FROM audit.event"
            " WHERE endpoint = '/map/api/session' AND action = 'account.session'"
            " GROUP BY status"
        )
        counted = dict(cur.fetchall())
    conn.close()
    assert counted.get(401, 0) >= 3 and counted.get(200, 0) >= 1


def test_thematic_layers_get_a_legend_only_where_it_can_be_reached(
    access_client: TestClient, client: TestClient, callers: dict[str, Caller]
) -> None:
    from spatialsvc.web.access import classify

    open_session = _session(client, Caller("public", None))  # access control off
    assert open_session["access_control"] is False
    thematic = [x for x in open_session["layers"] if x["thematic"]]
    for layer in thematic:
        assert layer["legend"] == f"/collections/{layer['id']}/legend"
        legend = client.get(layer["legend"], params={"f": "json"})
        assert legend.status_code == 200 and isinstance(legend.json()["classes"], list)
    for layer in _session(access_client, callers["stranger"])["layers"]:
        reachable = classify(f"/collections/{layer['id']}/legend") is not None
        wanted = bool(layer["thematic"]) and layer["readable"] and reachable
        assert (layer["legend"] is not None) is wanted
        if layer["legend"]:
            got = access_client.get(layer["legend"], headers=callers["stranger"].headers)
            assert got.status_code == 200
