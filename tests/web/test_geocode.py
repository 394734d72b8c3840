"""``GET /geocode`` and ``GET /reverse`` on the application, over the small demo district."""

from __future__ import annotations

import numpy as np
import psycopg2
import pyproj
import pytest

from spatialsvc.geo import gcj02

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
GEOJSON = "application/geo+json"


@pytest.fixture(scope="module")
def addresses(db_url: str, demo) -> list[dict]:  # type: ignore[no-untyped-def]
    """A few standard addresses of each level, with coordinates and codes from SQL."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            """
            SELECT DISTINCT ON (level) address_id, full_address, level, ST_X(geom), ST_Y(geom),
                   admin_code, township_code
            FROM base.standard_address ORDER BY level, address_id
            """
        )
        rows = cur.fetchall()
    keys = ("id", "full_address", "level", "lon", "lat", "community_code", "township_code")
    return [dict(zip(keys, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def building(addresses: list[dict]) -> dict:
    return next(a for a in addresses if a["level"] == "building")


def expected_division(db_url: str, address_id: str) -> dict:
    """Hierarchy and grid of an address computed straight in SQL."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            """
            SELECT co.code, co.name, tw.code, tw.name, cm.code, cm.name,
                   (SELECT g.code FROM base.grid g WHERE ST_Intersects(g.geom, a.geom)
                     ORDER BY g.code LIMIT 1)
            FROM base.standard_address a
            JOIN base.admin_division cm ON cm.code = a.admin_code
            JOIN base.admin_division tw ON tw.code = cm.parent_code
            JOIN base.admin_division co ON co.code = tw.parent_code
            WHERE a.address_id = %s
            """,
            (address_id,),
        )
        row = cur.fetchone()
    return {
        "county": {"code": row[0], "name": row[1]},
        "township": {"code": row[2], "name": row[3]},
        "community": {"code": row[4], "name": row[5]},
        "grid_code": row[6],
    }


def assert_client_error(response, status: int = 400) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "description"}
    for leak in ("Traceback", "psycopg2", 'File "', "SELECT"):
        assert leak not in response.text
    return body


def test_canonical_addresses_geocode_to_themselves(client, addresses) -> None:  # type: ignore[no-untyped-def]
    for address in addresses:
        r = client.get("/geocode", params={"q": address["full_address"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["address_id"] == address["id"], (address, body)
        assert body["full_address"] == address["full_address"]
        assert body["crs"] == EPSG + "4490"
        assert body["lon"] == pytest.approx(address["lon"], abs=1e-7)
        assert body["lat"] == pytest.approx(address["lat"], abs=1e-7)
        assert body["community_code"] == address["community_code"]
        assert body["township_code"] == address["township_code"]
        assert body["grid_code"] and body["grid_code"].startswith(address["community_code"])
        assert 0 <= body["score"] <= 1 and body["match_level"]


def test_geocode_projected_crs_matches_pyproj(client, building) -> None:  # type: ignore[no-untyped-def]
    t = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4549", always_xy=True)
    east, north = t.transform(building["lon"], building["lat"])
    for crs in ("EPSG:4549", EPSG + "4549"):
        r = client.get("/geocode", params={"q": building["full_address"], "crs": crs})
        assert r.status_code == 200, r.text
        body = r.json()
        assert "lon" not in body and "lat" not in body
        assert body["x"] == pytest.approx(east, abs=0.01)
        assert body["y"] == pytest.approx(north, abs=0.01)
        assert body["crs"] == EPSG + "4549"
        assert r.headers["content-crs"] == f"<{EPSG}4549>"


def test_geocode_geojson_follows_the_crs_axis_order(client, building) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/geocode", params={"q": building["full_address"], "f": "geojson"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(GEOJSON)
    feature = r.json()
    assert feature["type"] == "Feature" and feature["id"] == building["id"]
    lat, lon = feature["geometry"]["coordinates"]  # EPSG:4490 is latitude first
    assert (lon, lat) == pytest.approx((building["lon"], building["lat"]), abs=1e-7)
    r = client.get(
        "/geocode",
        params={"q": building["full_address"], "crs": "CRS84"},
        headers={"Accept": GEOJSON},
    )
    assert r.headers["content-type"].startswith(GEOJSON)
    lon, lat = r.json()["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx((building["lon"], building["lat"]), abs=1e-7)


@pytest.mark.parametrize("offset", ["gcj02", "bd09"])
def test_offset_crs_round_trip(client, building, offset: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/geocode", params={"q": building["full_address"], "crs": offset})
    assert r.status_code == 200, r.text
    body = r.json()
    point = np.array([[building["lon"], building["lat"]]])
    x, y = gcj02.convert_coords(point, "wgs84", offset)[0]
    assert (body["lon"], body["lat"]) == pytest.approx((x, y), abs=1e-7)
    assert abs(body["lon"] - building["lon"]) > 0.003  # really moved (~500 m or more)
    back = client.get(
        "/reverse", params={"lon": body["lon"], "lat": body["lat"], "crs": offset, "radius": 5}
    )
    assert back.status_code == 200, back.text
    answer = back.json()
    assert answer["address_id"] == building["id"]
    assert answer["distance_m"] < 0.05
    assert (answer["lon"], answer["lat"]) == pytest.approx((body["lon"], body["lat"]), abs=1e-7)


def test_reverse_gives_hierarchy_and_grid_like_sql(client, db_url, addresses) -> None:  # type: ignore[no-untyped-def]
    for address in addresses:
        r = client.get("/reverse", params={"lon": address["lon"], "lat": address["lat"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["address_id"] == address["id"]
        assert body["distance_m"] == 0
        expected = expected_division(db_url, address["id"])
        assert body["divisions"] == {k: expected[k] for k in ("county", "township", "community")}
        assert body["grid_code"] == expected["grid_code"] is not None
        assert body["community_code"] == address["community_code"]
        assert body["county_code"] == expected["county"]["code"] == "330203"


def test_reverse_nearest_within_radius_and_projected_input(client, building) -> None:  # type: ignore[no-untyped-def]
    t = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4549", always_xy=True)
    east, north = t.transform(building["lon"], building["lat"])
    r = client.get("/reverse", params={"x": east + 0.5, "y": north, "crs": "EPSG:4549"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["distance_m"] <= 0.6
    assert body["x"] == pytest.approx(east, abs=1.0) and body["y"] == pytest.approx(north, abs=1)


def test_reverse_nothing_within_radius_is_404(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/reverse", params={"lon": 120.0, "lat": 31.0, "radius": 1000})
    body = assert_client_error(r, 404)
    assert body["code"] == "NotFound" and "1000 m" in body["description"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({}, "q"),
        ({"q": ""}, "empty"),
        ({"q": "   "}, "empty"),
        ({"q": "海" * 201}, "200"),
        ({"q": "海曙区", "crs": "EPSG:2000"}, "gcj02"),
        ({"q": "海曙区", "crs": "wgs"}, "bd09"),
        ({"q": "海曙区", "limit": "x"}, "limit"),
        ({"q": "海曙区", "f": "xml"}, "f"),
        ({"q": "海曙区", "sql": "1"}, "unknown parameter"),
    ],
)
def test_geocode_bad_input_is_400(client, params: dict, words: str) -> None:  # type: ignore[no-untyped-def]
    body = assert_client_error(client.get("/geocode", params=params))
    assert words in body["description"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"lat": "29.8"}, "lon"),
        ({"lon": "abc", "lat": "29.8"}, "lon"),
        ({"lon": "121.5", "lat": "nan"}, "lat"),
        ({"lon": "200", "lat": "29.8"}, "range"),
        ({"lon": "121.5", "lat": "-95"}, "range"),
        ({"lon": "121.5", "lat": "29.8", "radius": "1001"}, "1000"),
        ({"lon": "121.5", "lat": "29.8", "radius": "0"}, "radius"),
        ({"lon": "121.5", "lat": "29.8", "radius": "far"}, "radius"),
        ({"lon": "121.5", "lat": "29.8", "crs": "EPSG:9999"}, "gcj02"),
        ({"x": "1e30", "y": "1e30", "crs": "EPSG:4549"}, "outside"),
    ],
)
def test_reverse_bad_input_is_400(client, params: dict, words: str) -> None:  # type: ignore[no-untyped-def]
    body = assert_client_error(client.get("/reverse", params=params))
    assert words in body["description"]


def test_openapi_declares_geocoding_and_processes(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi", params={"f": "json"}).json()["paths"]
    assert {"/geocode", "/reverse", "/processes", "/jobs"} <= set(paths)
    names = {p["name"] for p in paths["/geocode"]["get"]["parameters"]}
    assert {"q", "crs", "limit", "f"} <= names


def test_a_new_standard_address_is_found_without_a_restart(client, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """The service's index follows base.standard_address: a room added by an ingest is found."""
    import time

    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT address_id, full_address, room FROM base.standard_address "
            "WHERE level = 'room' ORDER BY address_id LIMIT 1"
        )
        address_id, full_address, room = cur.fetchone()
    new_room = "9" + room  # a room number that exists nowhere in the building
    new_text = full_address.replace(f"{room}室", f"{new_room}室")
    assert new_text != full_address
    before = client.get("/geocode", params={"q": new_text}).json()
    assert before["address_id"] != "Z_TEST_NEW_ROOM"
    try:
        with psycopg2.connect(db_url) as c, c.cursor() as cur:
            cur.execute(
                """
                INSERT INTO base.standard_address
                SELECT 'Z_TEST_NEW_ROOM', admin_code, province, city, county, township,
                       community, road, door_number, compound, building, unit, floor, %s,
                       %s, level, geom, township_code, compound_id, building_id
                FROM base.standard_address WHERE address_id = %s
                """,
                (new_room, new_text, address_id),
            )
        time.sleep(1.2)  # the service reads the data versions at most once a second
        after = client.get("/geocode", params={"q": new_text}).json()
        assert (after["address_id"], after["match_level"]) == ("Z_TEST_NEW_ROOM", "room")
    finally:
        with psycopg2.connect(db_url) as c, c.cursor() as cur:
            cur.execute("DELETE FROM base.standard_address WHERE address_id = 'Z_TEST_NEW_ROOM'")
        time.sleep(1.2)
    gone = client.get("/geocode", params={"q": new_text}).json()
    assert gone["address_id"] != "Z_TEST_NEW_ROOM"
