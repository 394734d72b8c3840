"""OGC API - Features on the running application, against the demo district in PostGIS."""

from __future__ import annotations

import json
from urllib.parse import quote

import psycopg2
import pyproj
import pytest

from spatialsvc.geo.crs import CRS84_URI, PUBLISHED_CRS
from spatialsvc.layers import load_layers

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
GEOJSON = "application/geo+json"


def db_count(db_url: str, query: str, params: tuple = ()) -> int:
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(query, params)
        return int(cur.fetchone()[0])


def all_ids(client, path: str, limit: int = 50) -> list[str]:
    """Every feature id by following next links."""
    url = f"{path}{'&' if '?' in path else '?'}limit={limit}&skipGeometry=true"
    ids: list[str] = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        ids += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else ""
        assert len(ids) < 100_000
    return ids


@pytest.fixture(scope="module")
def address(db_url: str, demo) -> dict:  # type: ignore[no-untyped-def]
    """A known standard address: its id and its CGCS2000 longitude/latitude."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT address_id, ST_X(geom), ST_Y(geom) FROM base.standard_address"
            " ORDER BY address_id LIMIT 1 OFFSET 7"
        )
        aid, lon, lat = cur.fetchone()
    return {"id": aid, "lon": lon, "lat": lat}


def expected_xy(uri: str, lon: float, lat: float) -> tuple[float, float]:
    """The coordinates in the CRS's EPSG axis order, computed with pyproj."""
    srid, lat_first = PUBLISHED_CRS[uri]
    t = pyproj.Transformer.from_crs("EPSG:4490", f"EPSG:{srid}", always_xy=True)
    x, y = t.transform(lon, lat)
    return (y, x) if lat_first else (x, y)


def tolerance(uri: str) -> float:
    return 1.0 if PUBLISHED_CRS[uri][0] in (3857, 4549, 4550) else 1e-6


def test_every_layer_returns_features(client, settings, db_url: str, geocoded) -> None:
    """Every layer, the thematic ones included (``geocoded``: the registers are geocoded and
    the thematic tables refreshed, as after `make demo`)."""
    for layer in load_layers(settings.layers_dir).values():
        n = db_count(db_url, f"SELECT count(*) FROM {layer.table}")  # noqa: S608
        r = client.get(f"/collections/{layer.id}/items?limit=5")
        assert r.status_code == 200, (layer.id, r.text)
        assert r.headers["content-type"].startswith(GEOJSON)
        assert r.headers["content-crs"] == f"<{CRS84_URI}>"
        body = r.json()
        assert n > 0, layer.id
        assert body["numberReturned"] == len(body["features"]) == min(5, n)
        feature = body["features"][0]
        assert set(feature["properties"]) == set(layer.fields)
        assert feature["geometry"]["type"].endswith(layer.geometry_type.replace("Multi", ""))


@pytest.mark.parametrize(
    ("layer", "table"), [("poi", "base.poi"), ("admin_division", "base.admin_division")]
)
def test_paging_reaches_every_feature(client, db_url: str, layer: str, table: str) -> None:
    ids = all_ids(client, f"/collections/{layer}/items", limit=40)
    assert len(ids) == len(set(ids)) == db_count(db_url, f"SELECT count(*) FROM {table}")  # noqa: S608


@pytest.mark.parametrize("uri", list(PUBLISHED_CRS))
def test_axis_order_of_every_crs(client, address: dict, uri: str) -> None:
    r = client.get(f"/collections/standard_address/items/{address['id']}?crs={quote(uri)}")
    assert r.status_code == 200, r.text
    assert r.headers["content-crs"] == f"<{uri}>"
    got = r.json()["geometry"]["coordinates"]
    want = expected_xy(uri, address["lon"], address["lat"])
    assert got[0] == pytest.approx(want[0], abs=tolerance(uri))
    assert got[1] == pytest.approx(want[1], abs=tolerance(uri))
    # the same through /items with a bbox
    r = client.get(
        f"/collections/standard_address/items?crs={quote(uri)}&address_id={address['id']}"
    )
    assert r.json()["features"][0]["geometry"]["coordinates"] == got


@pytest.mark.parametrize(
    "uri", [CRS84_URI, EPSG + "4490", EPSG + "4326", EPSG + "3857", EPSG + "4549", EPSG + "4550"]
)
def test_bbox_crs_finds_the_address(client, address: dict, uri: str) -> None:
    a, b = expected_xy(uri, address["lon"], address["lat"])
    d = 20.0 if tolerance(uri) == 1.0 else 0.0002
    bbox = f"{a - d},{b - d},{a + d},{b + d}"
    r = client.get(
        f"/collections/standard_address/items?bbox={bbox}&bbox-crs={quote(uri)}"
        "&properties=address_id&limit=1000"
    )
    assert r.status_code == 200, r.text
    ids = [f["id"] for f in r.json()["features"]]
    assert address["id"] in ids
    # a bbox shifted 1 km away does not find it
    far = 1000.0 if tolerance(uri) == 1.0 else 0.01
    bbox = f"{a + far},{b + far},{a + far + d},{b + far + d}"
    r = client.get(
        f"/collections/standard_address/items?bbox={bbox}&bbox-crs={quote(uri)}&limit=1000"
    )
    assert address["id"] not in [f["id"] for f in r.json()["features"]]


def test_crs84_bbox_matches_database(client, db_url: str) -> None:
    bbox = (121.53, 29.86, 121.56, 29.88)
    n = db_count(
        db_url,
        "SELECT count(*) FROM base.standard_address"
        " WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4490))",
        bbox,
    )
    ids = all_ids(
        client, "/collections/standard_address/items?bbox=" + ",".join(map(str, bbox)), 1000
    )
    assert len(set(ids)) == n > 0


def _filter_ids(
    client, layer: str, text: str, lang: str = "cql2-text", extra: str = ""
) -> set[str]:
    r = client.get(
        f"/collections/{layer}/items?limit=10000&skipGeometry=true&filter-lang={lang}"
        f"&filter={quote(text)}{extra}"
    )
    assert r.status_code == 200, r.text
    return {f["id"] for f in r.json()["features"]}


POLYGON = "POLYGON((121.50 29.85, 121.56 29.85, 121.56 29.90, 121.50 29.90, 121.50 29.85))"
POLYGON_LATLON = "POLYGON((29.85 121.50, 29.85 121.56, 29.90 121.56, 29.90 121.50, 29.85 121.50))"


def _db_ids(db_url: str, where: str, params: tuple = ()) -> set[str]:
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(f"SELECT poi_id FROM base.poi WHERE {where}", params)  # noqa: S608
        return {row[0] for row in cur.fetchall()}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("category = 'school'", "category = 'school'"),
        ("category <> 'school'", "category <> 'school'"),
        ("name LIKE '%学%'", "name LIKE '%%学%%'"),
        ("category IN ('hospital', 'cbd')", "category IN ('hospital', 'cbd')"),
        ("poi_id BETWEEN 'osm-1' AND 'osm-5'", "poi_id BETWEEN 'osm-1' AND 'osm-5'"),
        ("NOT (category = 'school') AND name IS NOT NULL", "category <> 'school'"),
        (
            f"S_INTERSECTS(geom, {POLYGON})",
            f"ST_Intersects(geom, ST_GeomFromText('{POLYGON}', 4490))",
        ),
        (f"S_WITHIN(geom, {POLYGON})", f"ST_Within(geom, ST_GeomFromText('{POLYGON}', 4490))"),
        (
            "S_INTERSECTS(geom, BBOX(121.50, 29.85, 121.56, 29.90))",
            f"ST_Intersects(geom, ST_GeomFromText('{POLYGON}', 4490))",
        ),
    ],
)
def test_cql2_text_matches_database(client, db_url: str, text: str, where: str) -> None:
    want = _db_ids(db_url, where)
    assert want, "the case must select something"
    assert _filter_ids(client, "poi", text) == want


def test_cql2_json_and_filter_crs(client, db_url: str) -> None:
    want = _db_ids(
        db_url, f"category = 'school' AND ST_Intersects(geom, ST_GeomFromText('{POLYGON}', 4490))"
    )
    doc = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "category"}, "school"]},
            {
                "op": "s_intersects",
                "args": [
                    {"property": "geom"},
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [121.50, 29.85],
                                [121.56, 29.85],
                                [121.56, 29.90],
                                [121.50, 29.90],
                                [121.50, 29.85],
                            ]
                        ],
                    },
                ],
            },
        ],
    }
    assert want and _filter_ids(client, "poi", json.dumps(doc), "cql2-json") == want
    lat_first = f"category = 'school' AND S_INTERSECTS(geom, {POLYGON_LATLON})"
    got = _filter_ids(client, "poi", lat_first, extra=f"&filter-crs={quote(EPSG + '4490')}")
    assert got == want


def test_sortby_properties_offset(client, db_url: str) -> None:
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute("SELECT poi_id FROM base.poi ORDER BY name DESC, poi_id LIMIT 10")
        want = [r[0] for r in cur.fetchall()]
    r = client.get("/collections/poi/items?sortby=-name&limit=5&properties=name,category")
    body = r.json()
    assert [f["id"] for f in body["features"]] == want[:5]
    assert set(body["features"][0]["properties"]) == {"name", "category"}
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "alternate", "collection", "next"} <= rels and "prev" not in rels
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    body2 = client.get(nxt).json()
    assert [f["id"] for f in body2["features"]] == want[5:10]
    assert "prev" in {link["rel"] for link in body2["links"]}
    r = client.get("/collections/poi/items?sortby=%2Bname&limit=1&offset=0")
    assert r.status_code == 200


def test_last_page_has_no_next_link(client, db_url: str) -> None:
    n = db_count(db_url, "SELECT count(*) FROM base.poi")
    body = client.get(f"/collections/poi/items?limit={n}&offset=0&skipGeometry=true").json()
    assert body["numberReturned"] == n  # a full page may still carry next; an empty one ends
    body = client.get(f"/collections/poi/items?limit={n}&offset={n}").json()
    assert body["numberReturned"] == 0 and "next" not in {link["rel"] for link in body["links"]}


def test_item_by_id_and_missing(client, db_url: str) -> None:
    r = client.get("/collections/poi/items/osm-1")
    assert r.status_code == 200 and r.json()["id"] == "osm-1"
    assert r.headers["content-type"].startswith(GEOJSON)
    for bad in [
        "nope",
        "..%2F..%2Fetc",
        "a%2Fb",
        "a/b",
        "x" * 300,
        "%27%3B%20DROP%20TABLE%20base.poi",
    ]:
        r = client.get(f"/collections/poi/items/{bad}")
        assert r.status_code == 404, (bad, r.text)
        assert r.json()["code"] == "NotFound"


def test_vendor_parameters_are_ignored(client) -> None:
    # pygeoapi's OpenAPI document declares vendorSpecificParameters: any further parameter
    r = client.get("/collections/poi/items?limit=2&nosuch=1")
    assert r.status_code == 200 and r.json()["numberReturned"] == 2


def test_other_formats_fall_through_to_pygeoapi(client) -> None:
    r = client.get("/collections/poi/items?f=jsonld&limit=2")
    assert r.status_code == 200 and "@context" in r.json()
    r = client.get("/collections/poi/items?f=csv&limit=2")
    assert r.status_code == 200 and "poi_id" in r.text


def test_html(client) -> None:
    r = client.get("/collections/poi/items?f=html&limit=3")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    r = client.get("/collections/poi/items/osm-1", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


def test_queryables_and_conformance(client) -> None:
    q = client.get("/collections/poi/queryables?f=json").json()
    assert {"poi_id", "name", "category", "county", "source", "geometry"} <= set(q["properties"])
    assert q["properties"]["name"]["type"] == "string"
    conf = set(client.get("/conformance?f=json").json()["conformsTo"])
    for cls in [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    ]:
        assert cls in conf
    assert not any("ogcapi-features-4" in c for c in conf)


BAD = [
    ("/collections/nosuch/items", 404),
    ("/collections/nosuch/items/1", 404),
    ("/collections/poi/items?bbox=1,2,3", 400),
    ("/collections/poi/items?bbox=122,29,121,30", 400),
    ("/collections/poi/items?bbox=a,b,c,d", 400),
    ("/collections/poi/items?bbox=121,29,122,30&bbox-crs=EPSG:9999", 400),
    ("/collections/poi/items?crs=http://www.opengis.net/def/crs/EPSG/0/2385", 400),
    ("/collections/poi/items/osm-1?crs=urn:nope", 400),
    ("/collections/poi/items?filter=name%20%3D", 400),
    ("/collections/poi/items?filter=name%3D'x'&filter-lang=sql", 400),
    ("/collections/poi/items?filter=%7Bbad&filter-lang=cql2-json", 400),
    ("/collections/poi/items?filter=nosuch%3D'x'", 400),
    ("/collections/poi/items?filter=S_INTERSECTS(geom,POLYGON((1%201,2%202,3%201)))", 400),
    ("/collections/poi/items?limit=0", 400),
    ("/collections/poi/items?limit=10001", 400),
    ("/collections/poi/items?limit=abc", 400),
    ("/collections/poi/items?offset=-1", 400),
    ("/collections/poi/items?sortby=nosuch", 400),
    ("/collections/poi/items?properties=name,nosuch", 400),
    ("/collections/poi/items?f=xml", 400),
    ("/collections/poi/items?skipGeometry=maybe", 400),
]


@pytest.mark.parametrize(("path", "status"), BAD)
def test_bad_requests_give_ogc_exceptions(client, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] and body["description"]
    text = r.text.lower()
    assert "traceback" not in text and "psycopg2" not in text and "syntax error" not in text


INJECTIONS = [
    "name = 'x'; DROP TABLE base.poi",
    "1=1) OR (1=1",
    "name = 'x' OR 1=1 --",
    "name = 'x'' OR ''1''=''1'",
    "\"name\"; DELETE FROM base.poi; --' = 'x'",
    "name = 'x\\' OR 1=1 --'",
    "name LIKE '%'' OR 1=1; DROP TABLE base.poi; --'",
    "S_INTERSECTS(geom, POLYGON((0 0, 1 1, 0 0))); DROP TABLE base.poi",
    "category IN ('a'); DELETE FROM base.poi; --')",
    "pg_sleep(5) = 1",
]


@pytest.mark.parametrize("attack", INJECTIONS)
def test_injection_is_refused_or_harmless(client, db_url: str, attack: str) -> None:
    before = db_count(db_url, "SELECT count(*) FROM base.poi")
    for lang, text in [
        ("cql2-text", attack),
        ("cql2-json", json.dumps({"op": "=", "args": [{"property": "name"}, attack]})),
    ]:
        r = client.get(f"/collections/poi/items?filter-lang={lang}&filter={quote(text)}")
        assert r.status_code in (200, 400), r.text
        if r.status_code == 200:
            assert r.json()["numberReturned"] == 0
        else:
            assert "malformed" in r.json()["description"] or "filter" in r.json()["description"]
    r = client.get(f"/collections/poi/items?name={quote(attack)}&sortby=name")
    assert r.status_code == 200 and r.json()["numberReturned"] == 0
    assert db_count(db_url, "SELECT count(*) FROM base.poi") == before
