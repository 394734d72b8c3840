"""The generated matrix: every kind of caller x every route, for the conditional camera layer
(owned by ga-hs, ``name`` sensitive) and an open layer (road), with zero leaks."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import pytest
from starlette.testclient import TestClient

from spatialsvc.auth.mask import mask_name
from spatialsvc.tiles.matrixsets import get_matrix_set

CALLERS = ["public", "stranger", "grantee", "fields", "expired", "owner", "admin"]
CAMERA_TITLE = "视频监控点位"
CENTRE = (121.545, 29.87)

# Expected status per caller for the camera layer, route by route.
SEES_METADATA = {c: 200 for c in CALLERS} | {"public": 401}
READS_DATA = SEES_METADATA | {"stranger": 403, "expired": 403}
READS_TILES = READS_DATA  # with the names masked in the tile for MASKED callers
CAMERA_EXPECTED = {
    "collection": SEES_METADATA,
    "queryables": SEES_METADATA,
    "tileset": SEES_METADATA,
    "items": READS_DATA,
    "item": READS_DATA,
    "tile": READS_TILES,
}
# Who sees the camera's names masked (the others with data see them in clear).
MASKED = {"grantee", "admin"}


def tile_path(layer: str, z: int = 15, at: tuple[float, float] = CENTRE) -> str:
    tile = get_matrix_set("WebMercatorQuad").tms.tile(*at, z)
    return f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{tile.y}/{tile.x}"


def route(kind: str, layer: str, fid: str, at: tuple[float, float] = CENTRE) -> str:
    return {
        "collection": f"/collections/{layer}?f=json",
        "queryables": f"/collections/{layer}/queryables?f=json",
        "tileset": f"/collections/{layer}/tiles/WebMercatorQuad?f=json",
        "items": f"/collections/{layer}/items?f=json&limit=50",
        "item": f"/collections/{layer}/items/{fid}?f=json",
        "tile": tile_path(layer, at=at),
    }[kind]


def tile_names(content: bytes, layer: str) -> dict[str, str]:
    """camera_id → name in one vector tile."""
    decoded = mapbox_vector_tile.decode(content)
    return {
        str(f["properties"]["camera_id"]): f["properties"].get("name")
        for f in decoded[layer]["features"]
    }


def assert_no_camera(response: Any, cameras: list[tuple[str, str]]) -> None:
    """Nothing of the camera layer's data in a refused answer."""
    text = response.content.decode("utf-8", "replace")
    for camera_id, name in cameras:
        assert camera_id not in text and name not in text, (response.url, camera_id)


@pytest.fixture(scope="module")
def camera_fid(cameras: list[tuple[str, str]]) -> str:
    return cameras[0][0]


@pytest.fixture(scope="module")
def camera_at(db_url: str, camera_fid: str) -> tuple[float, float]:
    """Where the first camera is (its tile has at least that camera)."""
    import psycopg2

    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM registry.camera WHERE camera_id = %s",
            (camera_fid,),
        )
        x, y = cur.fetchone()
    return float(x), float(y)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", list(CAMERA_EXPECTED))
def test_camera_matrix(
    access_client: TestClient,
    callers: dict[str, Any],
    cameras: list[tuple[str, str]],
    camera_fid: str,
    camera_at: tuple[float, float],
    caller: str,
    kind: str,
) -> None:
    who = callers[caller]
    r = access_client.get(route(kind, "camera", camera_fid, camera_at), headers=who.headers)
    expected = CAMERA_EXPECTED[kind][caller]
    assert r.status_code == expected, (r.status_code, r.text[:300])
    if kind == "tile" and r.status_code == 200:
        clear = dict(cameras)
        names = tile_names(r.content, "camera")
        assert camera_fid in names
        for camera_id, name in names.items():
            if caller in MASKED:
                assert name == mask_name(clear[camera_id]) and name != clear[camera_id]
            else:
                assert name == clear[camera_id]
    if r.status_code >= 400:
        body = r.json()
        assert body["code"] == {401: "Unauthorized", 403: "Forbidden"}[r.status_code]
        assert body["description"]
        assert_no_camera(r, cameras)
        if caller == "expired" and kind in ("items", "item"):
            assert "expired" in body["description"]
    if r.status_code == 200 and kind in ("items", "item"):
        body = r.json()
        features = body["features"] if kind == "items" else [body]
        assert features
        clear = dict(cameras)
        for feature in features:
            name = feature["properties"]["name"]
            real = clear[str(feature["id"])]
            if caller in MASKED:
                assert name != real and "*" in name, (caller, name)
            else:
                assert name == real


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", list(CAMERA_EXPECTED))
def test_open_layer_matrix(
    access_client: TestClient, callers: dict[str, Any], caller: str, kind: str, db_url: str
) -> None:
    import psycopg2

    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT road_id::text FROM base.road ORDER BY 1 LIMIT 1")
        fid = cur.fetchone()[0]
    r = access_client.get(route(kind, "road", fid), headers=callers[caller].headers)
    assert r.status_code in ((200, 204) if kind == "tile" else (200,)), r.text[:300]


@pytest.mark.parametrize("caller", CALLERS)
def test_collection_list_hides_what_the_caller_may_not_see(
    access_client: TestClient, callers: dict[str, Any], caller: str
) -> None:
    r = access_client.get("/collections?f=json", headers=callers[caller].headers)
    assert r.status_code == 200
    ids = {c["id"] for c in r.json()["collections"]}
    assert "road" in ids
    if caller == "public":
        assert not ids & {"camera", "building", "standard_address"}
        assert CAMERA_TITLE not in r.text
    else:  # conditional metadata is visible to every department, so that it can apply
        assert {"camera", "building"} <= ids


def test_landing_page_and_openapi_for_the_public(access_client: TestClient) -> None:
    r = access_client.get("/?f=json")
    assert r.status_code == 200
    assert CAMERA_TITLE not in r.text
    r = access_client.get("/openapi?f=json")
    assert r.status_code == 200
    assert not [p for p in r.json()["paths"] if p.startswith("/collections/camera")]
    assert any(p.startswith("/collections/road") for p in r.json()["paths"])


@pytest.mark.parametrize("caller", ["public", "stranger", "owner"])
def test_catalogue_records_follow_metadata_visibility(
    access_client: TestClient, callers: dict[str, Any], caller: str
) -> None:
    r = access_client.get(
        "/collections/catalogue/items?f=json&limit=500", headers=callers[caller].headers
    )
    assert r.status_code == 200, r.text[:300]
    ids = {f["id"] for f in r.json()["features"]}
    assert "road" in ids
    assert ("camera" in ids) == (caller != "public")
    item = access_client.get(
        "/collections/catalogue/items/camera?f=json", headers=callers[caller].headers
    )
    assert item.status_code == (404 if caller == "public" else 200)
    if caller == "public":
        assert CAMERA_TITLE not in item.text


def test_unshared_resource_does_not_exist_for_outsiders(
    access_client: TestClient, access_app: Any, callers: dict[str, Any]
) -> None:
    """A `none` resource answers 404 to everyone but its owner and administrators."""
    from dataclasses import replace

    resources = access_app.state.spatialsvc.extras["access_resources"]
    saved = resources["camera"]
    resources["camera"] = replace(saved, sharing="none")
    try:
        for caller, expected in [
            ("public", 404),
            ("stranger", 404),
            ("grantee", 404),
            ("admin", 200),
            ("owner", 200),
        ]:
            r = access_client.get(
                "/collections/camera/items?f=json", headers=callers[caller].headers
            )
            assert r.status_code == expected, (caller, r.status_code)
            lst = access_client.get("/collections?f=json", headers=callers[caller].headers)
            listed = "camera" in {c["id"] for c in lst.json()["collections"]}
            assert listed == (expected == 200)
    finally:
        resources["camera"] = saved


def test_masked_field_cannot_be_queried(access_client: TestClient, callers: dict[str, Any]) -> None:
    h = callers["grantee"].headers
    for query in ["name=x", "q=x", "sortby=name", "filter=name%20LIKE%20%27a%25%27"]:
        r = access_client.get(f"/collections/camera/items?f=json&{query}", headers=h)
        assert r.status_code == 403, (query, r.status_code)
        assert r.json()["code"] == "Forbidden"
    # the owner may
    r = access_client.get(
        "/collections/camera/items?f=json&sortby=name", headers=callers["owner"].headers
    )
    assert r.status_code == 200


def test_masked_resource_only_as_json(access_client: TestClient, callers: dict[str, Any]) -> None:
    r = access_client.get("/collections/camera/items?f=html", headers=callers["grantee"].headers)
    assert r.status_code == 406
    assert r.json()["code"] == "NotAcceptable"
    r = access_client.get("/collections/camera/items?f=html", headers=callers["owner"].headers)
    assert r.status_code == 200


def test_tile_cache_is_not_shared_across_access_classes(
    access_client: TestClient,
    callers: dict[str, Any],
    cameras: list[tuple[str, str]],
    camera_at: tuple[float, float],
) -> None:
    """The owner's whole tile is cached; a caller who sees names masked gets a tile of its own
    view (rendered, then cached apart), never the owner's; refused callers never reach the
    cache."""
    path = tile_path("camera", z=18, at=camera_at)  # a tile no other test asks for
    first = access_client.get(path, headers=callers["owner"].headers)  # fills the cache
    assert first.status_code == 200
    again = access_client.get(path, headers=callers["owner"].headers)
    assert again.headers.get("x-tile-cache") == "hit" and again.content == first.content
    clear = dict(cameras)
    assert all(n == clear[c] for c, n in tile_names(first.content, "camera").items())
    masked = access_client.get(path, headers=callers["grantee"].headers)
    assert masked.status_code == 200 and masked.headers.get("x-tile-cache") == "miss"
    assert masked.headers["etag"] != first.headers["etag"]
    names = tile_names(masked.content, "camera")
    assert names and all(n == mask_name(clear[c]) for c, n in names.items())
    # the admin sees the same masked view: the grantee's cached tile
    admin = access_client.get(path, headers=callers["admin"].headers)
    assert admin.headers.get("x-tile-cache") == "hit" and admin.content == masked.content
    # a grant with the name in clear sees the owner's view
    fields = access_client.get(path, headers=callers["fields"].headers)
    assert fields.content == first.content
    for caller in ["public", "stranger", "expired"]:
        r = access_client.get(path, headers=callers[caller].headers)
        assert r.status_code in (401, 403)
        assert "x-tile-cache" not in r.headers and r.headers["content-type"] == "application/json"
    assert first.headers["cache-control"].startswith("private")


def test_html_pages_for_the_public(access_client: TestClient, callers: dict[str, Any]) -> None:
    """The landing page's HTML lists no resource; the collection list's HTML is rendered from
    the caller's filtered list."""
    r = access_client.get("/?f=html")
    assert r.status_code == 200 and CAMERA_TITLE not in r.text
    for headers in ({"Accept": "text/html"}, {}):
        url = "/collections" if headers else "/collections?f=html"
        r = access_client.get(url, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert CAMERA_TITLE not in r.text and "/collections/camera" not in r.text
        assert "/collections/road" in r.text  # the open layers are listed
    r = access_client.get("/collections?f=html", headers=callers["grantee"].headers)
    assert r.status_code == 200 and CAMERA_TITLE in r.text


def test_answers_vary_on_credentials(access_client: TestClient, callers: dict[str, Any]) -> None:
    for headers in ({}, callers["grantee"].headers):
        r = access_client.get("/collections/camera/items?f=json&limit=1", headers=headers)
        assert "Authorization" in r.headers["vary"]
    r = access_client.get("/collections/road/items?f=json&limit=1")
    assert "Authorization" in r.headers["vary"]


def test_head_on_filtered_paths(access_client: TestClient, callers: dict[str, Any]) -> None:
    assert access_client.head("/collections?f=json").status_code == 200
    r = access_client.head("/collections/camera/items?f=json", headers=callers["grantee"].headers)
    assert r.status_code == 200 and not r.content
    assert access_client.head("/collections/camera/items?f=json").status_code == 401
