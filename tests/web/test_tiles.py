"""The tile routes on the running application: bytes, headers, cache, invalidation, errors."""

from __future__ import annotations

import httpx
import mapbox_vector_tile
import psycopg2
import pytest

from spatialsvc.tiles.matrixsets import get_matrix_set

MVT = "application/vnd.mapbox-vector-tile"
CENTRE = (121.545, 29.87)


def tile_path(
    layer: str, tms_id: str, z: int, lon: float = CENTRE[0], lat: float = CENTRE[1]
) -> str:
    tile = get_matrix_set(tms_id).tms.tile(lon, lat, z)
    return f"/collections/{layer}/tiles/{tms_id}/{z}/{tile.y}/{tile.x}"


def raw_webmercator_tile(db_url: str, z: int, row: int, col: int) -> bytes:
    """The standard_address tile by a hand-written ST_AsMVT query (integer SRIDs)."""
    fields = (
        "address_id, admin_code, province, city, county, township, community, road, "
        "door_number, compound, building, unit, floor, room, full_address, level"
    )
    query = (
        f"WITH rows AS (SELECT ST_AsMVTGeom(ST_Transform(geom, 3857),"  # noqa: S608
        f" ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS g, {fields}"
        " FROM base.standard_address"
        " WHERE geom && ST_Transform("
        "  ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096), 4490))"
        " SELECT ST_AsMVT(rows.*, 'standard_address', 4096, 'g' ORDER BY address_id)"
        " FROM rows WHERE g IS NOT NULL"
    )
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(query, {"z": z, "x": col, "y": row})
        return bytes(cur.fetchone()[0])


@pytest.fixture(scope="module")
def service(app):  # type: ignore[no-untyped-def]
    return app.state.spatialsvc.extras["tiles"]


def test_route_bytes_equal_raw_st_asmvt(client, db_url) -> None:  # type: ignore[no-untyped-def]
    tile = get_matrix_set("WebMercatorQuad").tms.tile(*CENTRE, 16)
    response = client.get(
        f"/collections/standard_address/tiles/WebMercatorQuad/16/{tile.y}/{tile.x}"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == MVT
    assert response.content == raw_webmercator_tile(db_url, 16, tile.y, tile.x)
    assert len(mapbox_vector_tile.decode(response.content)["standard_address"]["features"]) > 20


@pytest.mark.parametrize("tms_id", ["WebMercatorQuad", "CGCS2000Quad"])
def test_both_matrix_sets_serve_decodable_tiles(client, tms_id) -> None:  # type: ignore[no-untyped-def]
    response = client.get(tile_path("building", tms_id, 15) + "?f=mvt")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    assert mapbox_vector_tile.decode(response.content)["building"]["features"]


def test_etag_cache_control_and_304(client) -> None:  # type: ignore[no-untyped-def]
    path = tile_path("road", "CGCS2000Quad", 14)
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == second.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag == second.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=300"  # road is an open layer
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_shared_caches_only_for_open_layers(client) -> None:  # type: ignore[no-untyped-def]
    restricted = client.get(tile_path("standard_address", "WebMercatorQuad", 16))
    assert restricted.headers["cache-control"] == "private, max-age=300"


def test_cache_hit_skips_sql(client, service) -> None:  # type: ignore[no-untyped-def]
    path = tile_path("compound", "WebMercatorQuad", 16)
    miss = client.get(path)
    renders = service.renders
    hit = client.get(path)
    assert hit.headers["x-tile-cache"] == "hit"
    assert service.renders == renders
    assert hit.content == miss.content
    files = list((service.settings.home / "tiles" / "compound").rglob("*.mvt"))
    assert files and not [f for f in files if f.name.startswith(".tmp-")]


def _poi_names(content: bytes) -> set[str]:
    return {f["properties"]["name"] for f in mapbox_vector_tile.decode(content)["poi"]["features"]}


def test_change_in_data_invalidates_the_cache(client, service, db_url) -> None:  # type: ignore[no-untyped-def]
    path = tile_path("poi", "WebMercatorQuad", 13)
    before = client.get(path)
    assert client.get(path).headers["x-tile-cache"] == "hit"
    names = _poi_names(before.content)
    old_name = sorted(names)[0]
    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE base.poi SET name = %s WHERE poi_id = ("
                " SELECT min(poi_id) FROM base.poi WHERE name = %s)",
                ("已改名的测试学校", old_name),
            )
        changed = client.get(path)
        assert changed.headers["x-tile-cache"] == "miss"
        assert "已改名的测试学校" in _poi_names(changed.content)
        assert changed.headers["etag"] != before.headers["etag"]
        assert (
            client.get(path, headers={"If-None-Match": before.headers["etag"]}).status_code == 200
        )
    finally:
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE base.poi SET name = %s WHERE name = %s", (old_name, "已改名的测试学校")
            )
        conn.close()
    restored = client.get(path)
    assert restored.headers["x-tile-cache"] == "miss"
    # features are ordered by id, so the same data gives the same bytes and ETag again
    assert restored.content == before.content
    assert restored.headers["etag"] == before.headers["etag"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/collections/poi/tiles/NoSuchTMS/13/0/0", 404),
        ("/collections/poi/tiles/WebMercatorQuad/13/abc/0", 400),
        ("/collections/poi/tiles/WebMercatorQuad/13/99999/0", 404),
        ("/collections/poi/tiles/WebMercatorQuad/13/0/8192", 404),
        ("/collections/poi/tiles/WebMercatorQuad/99/0/0", 404),
        ("/collections/poi/tiles/WebMercatorQuad/2/1/1", 404),  # below the layer's minzoom
        ("/collections/poi/tiles/CGCS2000Quad/0/0/2", 404),
        ("/collections/nothing/tiles/WebMercatorQuad/13/0/0", 404),
        ("/collections/poi/tiles/WebMercatorQuad/13/0/0?f=png", 400),
        ("/collections/poi/tiles/WebMercatorQuad/13/-1/0", 400),
        ("/collections/poi/tiles/WebMercatorQuad/99999999999/0/0", 400),
        ("/TileMatrixSets/NoSuchTMS", 404),
    ],
)
def test_bad_requests_are_ogc_4xx(client, path, status) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == status
    body = response.json()
    assert body["code"] in {"NotFound", "InvalidParameterValue"}
    assert "Traceback" not in response.text


def test_empty_tile_is_204(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get(tile_path("poi", "WebMercatorQuad", 12, lon=-70.0, lat=-40.0))
    assert response.status_code == 204
    assert response.content == b""


def test_tile_matrix_sets(client) -> None:  # type: ignore[no-untyped-def]
    listed = client.get("/TileMatrixSets?f=json").json()
    assert {t["id"] for t in listed["tileMatrixSets"]} == {"WebMercatorQuad", "CGCS2000Quad"}
    cgcs = client.get("/TileMatrixSets/CGCS2000Quad").json()
    assert cgcs["id"] == "CGCS2000Quad"
    assert cgcs["crs"].endswith("/EPSG/0/4490")
    assert cgcs["orderedAxes"] == ["Lat", "Lon"]
    zero = cgcs["tileMatrices"][0]
    assert (zero["matrixWidth"], zero["matrixHeight"]) == (2, 1)
    assert zero["pointOfOrigin"] == [90.0, -180.0]


def test_tileset_metadata(client) -> None:  # type: ignore[no-untyped-def]
    for tms_id, srid in (("WebMercatorQuad", 3857), ("CGCS2000Quad", 4490)):
        meta = client.get(f"/collections/standard_address/tiles/{tms_id}?f=json")
        assert meta.status_code == 200, meta.text
        body = meta.json()
        assert body["crs"].endswith(f"/EPSG/0/{srid}")
        assert body["dataType"] == "vector"
        limits = body["tileMatrixSetLimits"]
        assert [lim["tileMatrix"] for lim in limits] == [str(z) for z in range(14, 19)]
        item = next(link for link in body["links"] if link["rel"] == "item")
        assert item["href"].endswith(f"/tiles/{tms_id}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")
        # a tile inside the advertised limits is served
        z14 = limits[0]
        row, col = z14["minTileRow"], z14["minTileCol"]
        path = f"/collections/standard_address/tiles/{tms_id}/14/{row}/{col}"
        assert client.get(path).status_code in {200, 204}
    assert client.get("/collections/standard_address/tiles/Nope?f=json").status_code == 404


def test_owslib_reads_tile_metadata(live_server) -> None:  # type: ignore[no-untyped-def]
    """OWSLib 0.35 has no Tiles client: its generic OGC API client reads the tile documents."""
    from owslib.ogcapi import Collections

    api = Collections(live_server)
    assert "poi" in [c["id"] for c in api.collections()["collections"]]
    tiles = api._request(path="collections/poi/tiles", kwargs={"f": "json"})
    ids = {ts["tileMatrixSetURI"].rsplit("/", 1)[-1] for ts in tiles["tilesets"]}
    assert ids == {"WebMercatorQuad", "CGCS2000Quad"}
    meta = api._request(path="collections/poi/tiles/CGCS2000Quad", kwargs={"f": "json"})
    assert meta["crs"].endswith("/EPSG/0/4490")
    item = next(link for link in tiles["links"] if link["rel"] == "item")
    tile = get_matrix_set("WebMercatorQuad").tms.tile(*CENTRE, 13)
    href = (
        item["href"]
        .replace("{tileMatrixSetId}", "WebMercatorQuad")
        .replace("{tileMatrix}", "13")
        .replace("{tileRow}", str(tile.y))
        .replace("{tileCol}", str(tile.x))
    )
    response = httpx.get(href, timeout=10)
    assert response.status_code == 200
    assert mapbox_vector_tile.decode(response.content)["poi"]["features"]


def test_tileset_html_and_tilejson(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/collections/poi/tiles/CGCS2000Quad?f=html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    tilejson = client.get("/collections/poi/tiles/WebMercatorQuad?f=tilejson").json()
    assert tilejson["vector_layers"][0]["id"] == "poi"
    assert tilejson["minzoom"] == 10
    assert client.get("/collections/poi/tiles/Nope?f=html").status_code == 404
    assert client.get("/collections/poi/tiles/WebMercatorQuad?f=xml").status_code == 400
    listing = client.get("/collections/poi/tiles?f=html")
    assert listing.status_code == 200
