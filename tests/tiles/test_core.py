"""The tiles core against the demo district: matrix sets, ST_AsMVT contents, versions, cache."""

from __future__ import annotations

import mapbox_vector_tile
import pytest

from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.layers import load_layers
from spatialsvc.tiles import mvt
from spatialsvc.tiles.cache import TileCache, etag
from spatialsvc.tiles.matrixsets import (
    CGCS2000_QUAD,
    WEB_MERCATOR_QUAD,
    TileAddress,
    get_matrix_set,
    tile_address,
)
from spatialsvc.tiles.versions import data_version, is_superseded

CENTRE = (121.545, 29.87)


def address_at(tms_id: str, z: int, lon: float = CENTRE[0], lat: float = CENTRE[1]) -> TileAddress:
    ms = get_matrix_set(tms_id)
    tile = ms.tms.tile(lon, lat, z)
    return TileAddress(ms, z, tile.y, tile.x)


@pytest.fixture(scope="module")
def layers(settings):  # type: ignore[no-untyped-def]
    return load_layers(settings.layers_dir)


def test_cgcs2000_quad_is_geographic_two_by_one() -> None:
    ms = get_matrix_set(CGCS2000_QUAD)
    assert ms.srid == 4490
    zero = ms.tms.matrix(0)
    assert (zero.matrixWidth, zero.matrixHeight) == (2, 1)
    west, south, east, north = address_at(CGCS2000_QUAD, 15).bounds()
    assert west < CENTRE[0] < east and south < CENTRE[1] < north  # lon first, lat second
    assert east - west == pytest.approx(180 / 2**15)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("Nope", "1", "0", "0"), NotFound),
        ((WEB_MERCATOR_QUAD, "x", "0", "0"), InvalidInput),
        ((WEB_MERCATOR_QUAD, "-1", "0", "0"), InvalidInput),
        ((WEB_MERCATOR_QUAD, "1", "2", "0"), NotFound),
        ((WEB_MERCATOR_QUAD, "23", "0", "0"), NotFound),
        ((CGCS2000_QUAD, "0", "0", "2"), NotFound),
        ((CGCS2000_QUAD, "0", "1", "0"), NotFound),
    ],
)
def test_bad_tile_addresses(args: tuple[str, str, str, str], error: type) -> None:
    with pytest.raises(error):
        tile_address(*args)


def test_top_left_tiles_exist() -> None:
    assert tile_address(CGCS2000_QUAD, "0", "0", "1").bounds() == (0.0, -90.0, 180.0, 90.0)
    assert tile_address(WEB_MERCATOR_QUAD, "0", "0", "0").z == 0


def _ids_in_envelope(conn, address: TileAddress) -> set[str]:  # type: ignore[no-untyped-def]
    """Address ids whose points fall in the tile plus its 64/4096 buffer, by plain SQL."""
    minx, miny, maxx, maxy = address.bounds()
    pad = (maxx - minx) * 64 / 4096
    with conn.cursor() as cur:
        cur.execute(
            "SELECT address_id FROM base.standard_address WHERE ST_Intersects("
            " ST_Transform(geom, %(srid)s),"
            " ST_MakeEnvelope(%(a)s, %(b)s, %(c)s, %(d)s, %(srid)s))",
            {
                "srid": address.matrix_set.srid,
                "a": minx - pad,
                "b": miny - pad,
                "c": maxx + pad,
                "d": maxy + pad,
            },
        )
        return {row[0] for row in cur.fetchall()}


@pytest.mark.parametrize("tms_id", [WEB_MERCATOR_QUAD, CGCS2000_QUAD])
def test_tile_holds_the_addresses_inside_it(conn, demo, layers, tms_id) -> None:  # type: ignore[no-untyped-def]
    address = address_at(tms_id, 16)
    data = mvt.render(conn, layers["standard_address"], address)
    decoded = mapbox_vector_tile.decode(data)
    assert list(decoded) == ["standard_address"]
    features = decoded["standard_address"]["features"]
    expected = _ids_in_envelope(conn, address)
    assert len(expected) > 20
    assert {f["properties"]["address_id"] for f in features} == expected
    assert len(features) == len(expected)
    for feature in features:
        assert feature["geometry"]["type"] == "Point"
        x, y = feature["geometry"]["coordinates"]
        assert -64 <= x <= 4096 + 64 and -64 <= y <= 4096 + 64
        assert set(feature["properties"]) <= set(layers["standard_address"].fields)


def test_only_published_fields_and_clipped_polygons(conn, demo, layers) -> None:  # type: ignore[no-untyped-def]
    layer = layers["poi"]
    seen = 0
    for z in (12, 13):
        decoded = mapbox_vector_tile.decode(
            mvt.render(conn, layer, address_at(WEB_MERCATOR_QUAD, z))
        )
        for feature in decoded.get("poi", {}).get("features", []):
            seen += 1
            assert set(feature["properties"]) <= set(layer.fields)
            assert "osm_query" not in feature["properties"]
            assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert seen > 0


def test_empty_tile_is_empty_bytes(conn, demo, layers) -> None:  # type: ignore[no-untyped-def]
    far_away = address_at(WEB_MERCATOR_QUAD, 15, lon=-70.0, lat=-40.0)
    assert mvt.render(conn, layers["standard_address"], far_away) == b""


def test_simplification_shrinks_low_zoom_polygons(conn, demo, layers) -> None:  # type: ignore[no-untyped-def]
    layer = layers["admin_division"]
    address = address_at(WEB_MERCATOR_QUAD, 10)
    simplified = mvt.render(conn, layer, address)
    query = mvt.tile_query(layer, address)
    query.params["tolerance"] = 0.0
    with conn.cursor() as cur:
        cur.execute(query.statement, query.params)
        full = bytes(cur.fetchone()[0])
    assert 0 < len(simplified) < len(full)


def test_data_version_follows_writes(conn, demo, layers) -> None:  # type: ignore[no-untyped-def]
    layer = layers["poi"]
    conn.autocommit = True
    before = data_version(conn, layer)
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE base.poi SET name = name WHERE poi_id = (SELECT min(poi_id) FROM base.poi)"
        )
    after = data_version(conn, layer)
    assert after != before
    with conn.cursor() as cur:
        cur.execute("SELECT 1")  # a read does not bump it
    assert data_version(conn, layer) == after
    assert data_version(conn, layers["road"]) == data_version(conn, layers["road"])


def test_cache_round_trip_and_prune(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = TileCache(tmp_path)
    address = address_at(CGCS2000_QUAD, 14)
    assert cache.get("poi", "1.0.abc", address) is None
    assert cache.put("poi", "1.0.abc", address, b"abc")
    assert cache.get("poi", "1.0.abc", address) == b"abc"
    assert not list(tmp_path.rglob(".tmp-*"))
    # a newer version prunes the older one when its folder is first made
    assert cache.put("poi", "2.0.abc", address, b"")
    assert cache.get("poi", "2.0.abc", address) == b""
    assert cache.get("poi", "1.0.abc", address) is None
    # a late request of an older version never removes the newer one
    assert cache.put("poi", "1.0.abc", address, b"old")
    assert cache.get("poi", "2.0.abc", address) == b""
    # a new layer definition (hash) at the same numbers supersedes the old one
    assert cache.put("poi", "2.0.def", address, b"x")
    assert cache.get("poi", "2.0.abc", address) is None
    assert cache.prune("nothing", "1.0.abc") == 0
    assert etag(b"abc") == etag(b"abc") != etag(b"abd")
    assert etag(b"abc").startswith('"') and not etag(b"abc").startswith("W/")


@pytest.mark.parametrize(
    ("old", "new", "superseded"),
    [
        ("1.0.a", "2.0.a", True),
        ("1.3.a", "1.4.a", True),
        ("2.0.a", "1.0.a", False),
        ("2.0.a", "2.0.a", False),
        ("2.0.a", "2.0.b", True),
        ("junk", "2.0.a", True),
        ("2.0.a", "junk", False),
    ],
)
def test_superseded_versions(old: str, new: str, superseded: bool) -> None:
    assert is_superseded(old, new) is superseded


def test_ingested_table_version_follows_dataset_and_tracked_writes(conn, layers) -> None:  # type: ignore[no-untyped-def]
    """A table swapped into ``data`` has no trigger: meta.dataset's version carries the change;
    meta.track_layer_version() attaches the trigger to such a table."""
    layer = layers["camera"].model_copy(update={"id": "tile_probe", "table": "data.tile_probe"})
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE data.tile_probe (camera_id text PRIMARY KEY, geom geometry(Point, 4490))"
        )
        try:
            assert data_version(conn, layer).startswith("0.0.")
            cur.execute(
                "INSERT INTO meta.dataset (layer, department, kind, version, table_name,"
                " source_file, source_crs, report) VALUES ('tile_probe', 'test', 'vector', 1,"
                " 'data.tile_probe', 'probe.gpkg', 'EPSG:4490', '{}')"
            )
            first = data_version(conn, layer)
            assert first.startswith("0.1.")
            cur.execute("UPDATE meta.dataset SET version = 2 WHERE layer = 'tile_probe'")
            second = data_version(conn, layer)
            assert second.startswith("0.2.") and is_superseded(first, second)
            cur.execute("SELECT meta.track_layer_version('data.tile_probe'::regclass)")
            cur.execute("INSERT INTO data.tile_probe VALUES ('c1', ST_Point(121.5, 29.8, 4490))")
            assert data_version(conn, layer).startswith("1.2.")
            cur.execute("TRUNCATE data.tile_probe")
            assert data_version(conn, layer).startswith("2.2.")
        finally:
            cur.execute("DELETE FROM meta.dataset WHERE layer = 'tile_probe'")
            cur.execute("DELETE FROM meta.layer_version WHERE table_name = 'data.tile_probe'")
            cur.execute("DROP TABLE data.tile_probe")
