"""spatialsvc.client against the real service (uvicorn, access control off), checked against
direct SQL on the same database: collections, the catalogue, layers with paging, CRS and axis
order, filters, processes into GeoDataFrames, and the errors."""

from __future__ import annotations

import socket

import geopandas as gpd
import numpy as np
import psycopg2
import pyproj
import pytest
from psycopg2 import sql

from spatialsvc.client import (
    BadRequest,
    Client,
    ClientError,
    ConnectionFailed,
    NotFound,
    connect,
)
from spatialsvc.layers import load_layers
from spatialsvc.settings import Settings


def rows(db_url: str, query: str | sql.Composable, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def test_collections_carry_sharing_category_and_department(
    service: Client, settings: Settings
) -> None:
    frame = service.collections()
    layers = load_layers(settings.layers_dir)
    assert set(layers) <= set(frame["id"])
    for layer in layers.values():
        row = frame.set_index("id").loc[layer.id]
        assert row["title"] == layer.title
        assert row["sharing"] == layer.sharing
        assert row["category"] == layer.category
        assert row["department"] == layer.department.name
        assert row["department_code"] == layer.department.code
        assert row["item_type"] == "feature"


def test_catalogue_filters_match_sql(service: Client, db_url: str) -> None:
    everything = service.catalogue()
    in_db = rows(db_url, "SELECT identifier, kind, category, sharing FROM meta.catalogue_record")
    assert sorted(everything["id"]) == sorted(r[0] for r in in_db)
    by_id = everything.set_index("id")
    for identifier, kind, category, sharing in in_db:
        assert by_id.loc[identifier, "kind"] == kind
        assert by_id.loc[identifier, "category"] == category
        assert by_id.loc[identifier, "sharing"] == sharing
    assert everything["items_url"].dropna().str.contains("/collections/").all()

    (category,) = rows(
        db_url, "SELECT category FROM meta.catalogue_record GROUP BY 1 ORDER BY count(*) LIMIT 1"
    )[0]
    expected = rows(
        db_url, "SELECT identifier FROM meta.catalogue_record WHERE category = %s", (category,)
    )
    assert sorted(service.catalogue(category=category)["id"]) == sorted(r[0] for r in expected)

    code, name = rows(
        db_url,
        "SELECT department_code, department_name FROM meta.catalogue_record"
        " WHERE identifier = 'grid'",
    )[0]
    expected = rows(
        db_url, "SELECT identifier FROM meta.catalogue_record WHERE department_code = %s", (code,)
    )
    assert sorted(service.catalogue(department=code)["id"]) == sorted(r[0] for r in expected)
    assert sorted(service.catalogue(department=name)["id"]) == sorted(r[0] for r in expected)

    expected = rows(
        db_url, "SELECT identifier FROM meta.catalogue_record WHERE anytext LIKE %s", ("%网格%",)
    )
    found = service.catalogue(q="网格")
    assert "grid" in set(found["id"])
    assert sorted(found["id"]) == sorted(r[0] for r in expected)
    assert service.catalogue(q="没有这样的资源名称").empty


def test_read_follows_pages_and_matches_sql(service: Client, db_url: str) -> None:
    ids = [r[0] for r in rows(db_url, "SELECT code FROM base.grid ORDER BY code")]
    assert len(ids) >= 8, "the demo has too few grids to page through"
    page = len(ids) // 4 + 1  # 4 pages, the last one short
    seen: list[tuple[int, int]] = []
    frame = service.read("grid", limit=page, progress=lambda n, p: seen.append((n, p)))
    assert isinstance(frame, gpd.GeoDataFrame)
    assert len(frame) == len(ids)
    assert list(frame.index) == ids  # the service orders by id; no page repeated or lost
    assert frame.index.is_unique
    assert [p for _n, p in seen] == [1, 2, 3, 4]
    assert seen[-1][0] == len(ids)
    assert list(frame.columns) == ["code", "name", "community_code", "geometry"]
    assert frame.crs == pyproj.CRS("OGC:CRS84")
    in_db = dict(rows(db_url, "SELECT code, community_code FROM base.grid"))
    assert frame["community_code"].to_dict() == in_db
    assert frame.geom_type.isin(["MultiPolygon"]).all()


def test_max_features_and_properties(service: Client, db_url: str) -> None:
    ids = [r[0] for r in rows(db_url, "SELECT code FROM base.grid ORDER BY code LIMIT 7")]
    frame = service.read("grid", limit=3, max_features=7, properties=["name"])
    assert list(frame.index) == ids
    assert list(frame.columns) == ["name", "geometry"]
    names = dict(rows(db_url, "SELECT code, name FROM base.grid WHERE code = ANY(%s)", (ids,)))
    assert frame["name"].to_dict() == names


@pytest.fixture(scope="module")
def addresses(db_url: str, demo: dict[str, int]) -> dict[str, tuple[float, float]]:
    """200 standard addresses (the first by id) with their stored longitude and latitude."""
    got = rows(
        db_url,
        "SELECT address_id, ST_X(geom), ST_Y(geom) FROM base.standard_address"
        " ORDER BY address_id LIMIT 200",
    )
    return {r[0]: (r[1], r[2]) for r in got}


@pytest.mark.parametrize("crs", [None, "EPSG:4490", 4326])
def test_geographic_crs_come_back_longitude_first(
    service: Client, addresses: dict[str, tuple[float, float]], crs: object
) -> None:
    frame = service.read("standard_address", crs=crs, max_features=len(addresses), limit=64)
    assert list(frame.index) == list(addresses)
    expected = np.array([addresses[i] for i in frame.index])
    got = np.column_stack([frame.geometry.x, frame.geometry.y])
    assert np.abs(got - expected).max() < 1e-6  # 7 decimals on the wire
    wanted = {None: "OGC:CRS84", "EPSG:4490": "EPSG:4490", 4326: "EPSG:4326"}[crs]  # type: ignore[index]
    assert frame.crs == pyproj.CRS(wanted)


def test_gauss_kruger_crs_matches_pyproj(
    service: Client, addresses: dict[str, tuple[float, float]]
) -> None:
    frame = service.read("standard_address", crs="EPSG:4549", max_features=len(addresses))
    assert frame.crs.to_epsg() == 4549
    assert list(frame.index) == list(addresses)
    to_4549 = pyproj.Transformer.from_crs(4490, 4549, always_xy=True)
    lon, lat = np.array([addresses[i] for i in frame.index]).T
    east, north = to_4549.transform(lon, lat)
    assert np.abs(frame.geometry.x.to_numpy() - east).max() < 0.002  # mm on the wire
    assert np.abs(frame.geometry.y.to_numpy() - north).max() < 0.002
    assert 500_000 < frame.geometry.x.min() and frame.geometry.y.min() > 3_000_000
    # and back: GeoPandas reprojects the frame to where the database has it
    back = frame.to_crs(4490)
    assert np.abs(back.geometry.x.to_numpy() - lon).max() < 1e-7


def test_bbox_in_any_crs_and_filters_match_sql(service: Client, db_url: str) -> None:
    (minx, miny, maxx, maxy), community = rows(
        db_url,
        "SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)], c FROM ("
        " SELECT ST_Extent(geom)::geometry AS e, min(community_code) AS c FROM base.grid) s",
    )[0]
    box = (minx, miny, minx + (maxx - minx) / 3, miny + (maxy - miny) / 3)
    expected = [
        r[0]
        for r in rows(
            db_url,
            "SELECT code FROM base.grid WHERE ST_Intersects(geom,"
            " ST_MakeEnvelope(%s, %s, %s, %s, 4490)) ORDER BY code",
            box,
        )
    ]
    assert expected, "the bbox holds no grid"
    assert list(service.read("grid", bbox=box).index) == expected
    # EPSG:4490 is latitude first on the wire; the client takes x/y and turns it round
    assert list(service.read("grid", bbox=box, bbox_crs="EPSG:4490").index) == expected

    in_community = [
        r[0]
        for r in rows(
            db_url,
            "SELECT code FROM base.grid WHERE community_code = %s ORDER BY code",
            (community,),
        )
    ]
    text = service.read("grid", filter=f"community_code = '{community}'")
    assert list(text.index) == in_community
    as_json = service.read(
        "grid", filter={"op": "=", "args": [{"property": "community_code"}, community]}
    )
    assert list(as_json.index) == in_community
    assert list(service.read("grid", where={"community_code": community}).index) == in_community


def test_errors_are_client_errors_with_the_service_description(service: Client) -> None:
    with pytest.raises(NotFound) as missing:
        service.read("no_such_layer")
    assert missing.value.status == 404
    assert missing.value.description
    assert "404" in str(missing.value) and "no_such_layer" in str(missing.value)

    with pytest.raises(BadRequest) as bad:
        service.read("grid", crs="EPSG:2385")
    assert bad.value.status == 400
    assert bad.value.code == "InvalidParameterValue"
    assert "unsupported CRS" in (bad.value.description or "")
    assert isinstance(bad.value, ClientError)

    with pytest.raises(BadRequest) as cql:
        service.read("grid", filter="community_code = = 'x'")
    assert cql.value.status == 400


def test_connection_refused_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(ConnectionFailed) as failed:
        connect(f"http://127.0.0.1:{port}")
    assert failed.value.status is None
    assert "connection refused" in str(failed.value)
    assert f"127.0.0.1:{port}" in str(failed.value)


def test_geocode_and_batch_into_points(service: Client, db_url: str) -> None:
    sample = rows(
        db_url,
        "SELECT address_id, full_address, ST_X(geom), ST_Y(geom) FROM base.standard_address"
        " WHERE level = 'door' ORDER BY md5(address_id) LIMIT 5",
    )
    one = service.geocode(sample[0][1])
    assert one["address_id"] == sample[0][0]
    assert abs(one["lon"] - sample[0][2]) < 1e-6 and abs(one["lat"] - sample[0][3]) < 1e-6

    texts = [r[1] for r in sample] + ["这不是一个地址"]
    frame = service.geocode(texts)
    assert isinstance(frame, gpd.GeoDataFrame)
    assert frame.crs.to_epsg() == 4490
    assert list(frame["text"]) == texts
    assert list(frame["address_id"][:5]) == [r[0] for r in sample]
    assert np.abs(frame.geometry.x[:5].to_numpy() - [r[2] for r in sample]).max() < 1e-6
    assert np.abs(frame.geometry.y[:5].to_numpy() - [r[3] for r in sample]).max() < 1e-6
    assert frame.geometry.iloc[5] is None  # no match, no point
    assert frame.attrs["count"] == 6 and frame.attrs["matched"] == 5

    projected = service.geocode(texts[:2], crs=4549)
    east, north = pyproj.Transformer.from_crs(4490, 4549, always_xy=True).transform(
        sample[0][2], sample[0][3]
    )
    assert projected.crs.to_epsg() == 4549
    assert abs(projected.geometry.x.iloc[0] - east) < 0.01
    assert abs(projected.geometry.y.iloc[0] - north) < 0.01

    near = service.reverse_geocode(sample[1][2], sample[1][3], radius=5)
    assert near is not None and near["address_id"] == sample[1][0]


def test_process_as_dict_and_bad_input(service: Client) -> None:
    listed = service.processes()
    assert {"geocode", "reverse-geocode", "geocode-batch"} <= set(listed["id"])
    raw = service.process("geocode-batch", {"addresses": ["x"]}, as_frame=False)
    assert isinstance(raw, dict) and raw["count"] == 1
    with pytest.raises(BadRequest) as bad:
        service.process("reverse-geocode", {"lon": 121.5, "lat": 29.8, "radius": 10**6})
    assert bad.value.status == 400
    with pytest.raises(NotFound):
        service.process("no-such-process", {})


@pytest.fixture(scope="module")
def entity(db_url: str, geocoded_entities: int) -> tuple[int, str, float, float]:
    """A geocoded legal entity of the most common section: id, section, lon, lat."""
    got = rows(
        db_url,
        "SELECT e.entity_id, e.industry_section, ST_X(g.geom), ST_Y(g.geom)"
        " FROM registry.legal_entity e JOIN registry.legal_entity_geocode g USING (entity_id)"
        " WHERE g.geom IS NOT NULL AND e.industry_section = ("
        "  SELECT industry_section FROM registry.legal_entity"
        "  GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)"
        " ORDER BY e.entity_id LIMIT 1",
    )
    assert got, "the demo has no geocoded legal entity"
    entity_id, section, lon, lat = got[0]
    return int(entity_id), str(section), float(lon), float(lat)


@pytest.mark.parametrize("crs", [None, "EPSG:4549"])
def test_a_geojson_process_result_is_a_geodataframe(
    service: Client, db_url: str, entity: tuple[int, str, float, float], crs: str | None
) -> None:
    entity_id, section, lon, lat = entity
    to_4549 = pyproj.Transformer.from_crs(4490, 4549, always_xy=True)
    x, y = to_4549.transform(lon, lat) if crs else (lon, lat)
    inputs = {"lon": x, "lat": y, "industry": section, "radius": 1000, "limit": 1000}
    if crs:
        inputs["crs"] = crs
    frame = service.process("nearby-entities", inputs)
    assert isinstance(frame, gpd.GeoDataFrame)
    assert frame.crs.to_epsg() == (4549 if crs else 4490)
    assert len(frame) > 0 and frame.geom_type.eq("Point").all()
    assert frame["distance_m"].is_monotonic_increasing  # nearest first
    assert frame["distance_m"].iloc[0] == pytest.approx(0, abs=0.01)
    assert entity_id in set(frame["entity_id"][frame["distance_m"] < 0.01].astype(int))
    # every point is where the database has the entity (x/y, in the CRS asked for)
    ids = [int(i) for i in frame["entity_id"]]
    stored = {
        r[0]: (r[1], r[2], r[3])
        for r in rows(
            db_url,
            "SELECT e.entity_id, e.industry_section, ST_X(g.geom), ST_Y(g.geom)"
            " FROM registry.legal_entity e JOIN registry.legal_entity_geocode g USING (entity_id)"
            " WHERE e.entity_id = ANY(%s)",
            (ids,),
        )
    }
    assert set(stored) == set(ids)
    assert {stored[i][0] for i in ids} == {section}
    lons, lats = np.array([stored[i][1:] for i in ids]).T
    xs, ys = to_4549.transform(lons, lats) if crs else (lons, lats)
    tolerance = 0.01 if crs else 1e-6
    assert np.abs(frame.geometry.x.to_numpy() - xs).max() < tolerance
    assert np.abs(frame.geometry.y.to_numpy() - ys).max() < tolerance

    # and the same entities as a direct distance query (1% of the radius either side)
    def within(metres: float) -> set[int]:
        return {
            int(r[0])
            for r in rows(
                db_url,
                "SELECT e.entity_id FROM registry.legal_entity e"
                " JOIN registry.legal_entity_geocode g USING (entity_id)"
                " WHERE e.industry_section = %s AND ST_DWithin(g.geom::geography,"
                " ST_SetSRID(ST_MakePoint(%s, %s), 4490)::geography, %s)",
                (section, lon, lat, metres),
            )
        }

    assert within(990) <= set(ids) <= within(1010)

    raw = service.process("nearby-entities", inputs, as_frame=False)
    assert raw["type"] == "FeatureCollection" and len(raw["features"]) == len(frame)
