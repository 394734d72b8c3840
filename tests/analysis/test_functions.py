"""The analysis functions against independent SQL on the same data (1% demo)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pytest
import shapely
import shapely.geometry

from spatialsvc import analysis
from spatialsvc.analysis.suppress import suppress_counts
from spatialsvc.geo import gcj02
from spatialsvc.geo.crs import transformer
from tests.analysis.helpers import pentagon

AS_OF = date(2026, 11, 22)

# Independent statements: ST_Contains, age() in years, no bbox prefilter, no shared SQL text.
PERSONS_SQL = """
SELECT count(*), count(*) FILTER (WHERE p.sex = '男'), count(*) FILTER (WHERE p.sex = '女'),
       count(*) FILTER (WHERE extract(year FROM age(%(d)s::date, p.birth_date)) < 15),
       count(*) FILTER (WHERE extract(year FROM age(%(d)s::date, p.birth_date)) BETWEEN 15 AND 59),
       count(*) FILTER (WHERE extract(year FROM age(%(d)s::date, p.birth_date)) >= 60),
       count(DISTINCT p.household_id)
  FROM registry.person p JOIN registry.person_geocode g USING (person_id)
 WHERE ST_Contains(ST_SetSRID(ST_GeomFromGeoJSON(%(poly)s), 4490), g.geom)"""
ENTITIES_SQL = """
SELECT e.industry_section, count(*), sum(e.registered_capital), sum(e.employees), sum(e.revenue),
       sum(e.tax)
  FROM registry.legal_entity e JOIN registry.legal_entity_geocode g USING (entity_id)
 WHERE ST_Contains(ST_SetSRID(ST_GeomFromGeoJSON(%(poly)s), 4490), g.geom)
 GROUP BY 1"""


def direct(conn: Any, polygon: dict[str, Any]) -> tuple[dict[str, int], dict[str, Any]]:
    """Residents and entities inside a polygon, counted by hand."""
    fields = ("total", "male", "female", "age_0_14", "age_15_59", "age_60_plus", "households")
    params = {"poly": json.dumps(polygon), "d": AS_OF}
    with conn.cursor() as cur:
        cur.execute(PERSONS_SQL, params)
        persons = dict(zip(fields, map(int, cur.fetchone()), strict=True))
        cur.execute(ENTITIES_SQL, params)
        rows = cur.fetchall()
    entities = {
        "total": sum(r[1] for r in rows),
        "sections": {r[0]: r[1] for r in rows},
        "registered_capital": round(float(sum(r[2] for r in rows)), 2),
        "employees": int(sum(r[3] for r in rows)),
        "revenue": round(float(sum(r[4] for r in rows)), 2),
        "tax": round(float(sum(r[5] for r in rows)), 2),
    }
    return persons, entities


def project(polygon: dict[str, Any], func: Any) -> dict[str, Any]:
    """A GeoJSON polygon with its coordinates passed through ``func`` ((N, 2) array)."""
    geom = shapely.transform(shapely.geometry.shape(polygon), func)
    return dict(shapely.geometry.mapping(geom))


def to_4549(coords: np.ndarray) -> np.ndarray:
    x, y = transformer("EPSG:4490", "EPSG:4549").transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def assert_matches(result: Any, persons: dict[str, int], entities: dict[str, Any]) -> None:
    assert min(persons.values()) >= 5, "the polygon must hold enough residents for this test"
    assert result.residents == persons
    assert result.suppressed == []
    got = result.entities
    assert got["total"] == entities["total"] >= 5
    assert {s["section"]: s["entities"] for s in got["by_section"] if s["entities"]} == entities[
        "sections"
    ]
    assert [s["section"] for s in got["by_section"]] == list("ABCDEFGHIJKLMNOPQRST")
    for name in ("registered_capital", "employees", "revenue", "tax"):
        assert got[name] == pytest.approx(entities[name], abs=0.011), name


@pytest.mark.parametrize(
    "crs", ["EPSG:4490", "http://www.opengis.net/def/crs/EPSG/0/4549", "gcj02"]
)
def test_zonal_stats_equals_direct_sql(dconn, centre, crs) -> None:  # type: ignore[no-untyped-def]
    polygon = pentagon(*centre, 0.012)
    persons, entities = direct(dconn, polygon)
    given = polygon
    if crs.endswith("4549"):
        given = project(polygon, to_4549)
    elif crs == "gcj02":
        given = project(polygon, lambda c: gcj02.convert_coords(c, "wgs84", "gcj02"))
    result = analysis.zonal_stats(dconn, given, crs=crs, as_of=AS_OF)
    assert_matches(result, persons, entities)
    with dconn.cursor() as cur:
        cur.execute(
            "SELECT ST_Area(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490)::geography) / 1e6",
            (json.dumps(polygon),),
        )
        area = cur.fetchone()[0]
    assert result.area_km2 == pytest.approx(area, rel=1e-4)
    text = json.dumps(result.to_dict(), ensure_ascii=False)
    assert 'name"' not in text.replace('"name": "', "")  # section names only


def test_zonal_stats_multipolygon_and_feature(dconn, centre) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre
    a, b = pentagon(lon - 0.01, lat, 0.006), pentagon(lon + 0.01, lat, 0.006)
    multi = {"type": "MultiPolygon", "coordinates": [a["coordinates"], b["coordinates"]]}
    persons, entities = direct(dconn, multi)
    feature = {"type": "Feature", "properties": {}, "geometry": multi}
    result = analysis.zonal_stats(dconn, json.dumps(feature), as_of=AS_OF)
    assert result.residents["total"] == persons["total"]
    assert result.entities["total"] == entities["total"]


def lonely(conn: Any, table: str, key: str, low: int, high: int) -> tuple[float, float, int]:
    """A point holding ``low``-``high`` rows of ``table`` with no other row within ~30 m."""
    with conn.cursor() as cur:
        cur.execute(
            f"""WITH spots AS (SELECT geom, count(*) AS n FROM {table} GROUP BY geom)
            SELECT ST_X(s.geom), ST_Y(s.geom), s.n FROM spots s
             WHERE s.n BETWEEN %s AND %s AND NOT EXISTS (
                   SELECT 1 FROM {table} o WHERE ST_DWithin(o.geom, s.geom, 0.0003)
                      AND NOT ST_Equals(o.geom, s.geom))
             ORDER BY s.n DESC, ST_X(s.geom) LIMIT 1""",
            (low, high),
        )
        row = cur.fetchone()
    assert row is not None, f"no lonely {key} in the demo"
    return float(row[0]), float(row[1]), int(row[2])


def test_a_building_with_one_to_four_residents_is_suppressed(dconn) -> None:  # type: ignore[no-untyped-def]
    lon, lat, n = lonely(dconn, "registry.person_geocode", "residence", 1, 4)
    polygon = pentagon(lon, lat, 0.0001)
    persons, _ = direct(dconn, polygon)
    assert persons["total"] == n
    result = analysis.zonal_stats(dconn, polygon, as_of=AS_OF)
    assert result.residents["total"] is None
    assert result.residents["households"] is None
    assert {"residents.total", "residents.households"} <= set(result.suppressed)
    for name, value in result.residents.items():
        assert value is None or value == 0, name  # every part is 0..4: shown only if 0
        assert (value is None) == (f"residents.{name}" in result.suppressed)
    counted = analysis.buffer_count(dconn, {"type": "Point", "coordinates": [lon, lat]}, radius_m=5)
    assert counted.residents is None and counted.households is None
    assert counted.suppressed == ["residents", "households"]


def test_money_of_one_to_four_entities_is_suppressed(dconn) -> None:  # type: ignore[no-untyped-def]
    lon, lat, n = lonely(dconn, "registry.legal_entity_geocode", "entity", 1, 4)
    result = analysis.zonal_stats(dconn, pentagon(lon, lat, 0.0001), as_of=AS_OF)
    assert result.entities["total"] == n  # entity counts are public registrations
    for name in ("registered_capital", "employees", "revenue", "tax"):
        assert result.entities[name] is None
        assert f"entities.{name}" in result.suppressed


def test_complementary_suppression() -> None:
    groups = [("total", ("male", "female")), ("total", ("a", "b", "c"))]
    values, hidden = suppress_counts(
        {"total": 20, "male": 3, "female": 17, "a": 2, "b": 10, "c": 8}, groups
    )
    assert values == {"total": 20, "male": None, "female": None, "a": None, "b": 10, "c": None}
    assert hidden == ["male", "female", "a", "c"]
    values, hidden = suppress_counts({"total": 0, "male": 0, "female": 0}, groups[:1])
    assert hidden == [] and values["total"] == 0
    values, _ = suppress_counts({"total": 12, "male": 12, "female": 0}, groups[:1])
    assert values == {"total": 12, "male": 12, "female": 0}


NEARBY_SQL = """
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4490)::geography AS g)
SELECT e.entity_id, ST_Distance(g.geom::geography, pt.g)
  FROM registry.legal_entity e JOIN registry.legal_entity_geocode g USING (entity_id), pt
 WHERE (e.industry_section = %s OR e.industry_code = %s)
   AND ST_Distance(g.geom::geography, pt.g) <= %s
 ORDER BY 2, 1"""


@pytest.mark.parametrize(("industry", "radius"), [("F", 1500.0), ("C", 3000.0), ("f51", 2000.0)])
def test_nearby_entities_equals_direct_sql(dconn, centre, industry, radius) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre
    code = industry.upper()
    with dconn.cursor() as cur:
        cur.execute(NEARBY_SQL, (lon, lat, code, code, radius))
        expected = cur.fetchall()
    assert expected, "pick an industry present near the centre"
    found = analysis.nearby_entities(
        dconn, lon, lat, radius_m=radius, industry=industry, limit=1000
    )
    doc = found.to_geojson()
    assert [f["properties"]["entity_id"] for f in doc["features"]] == [r[0] for r in expected]
    assert [f["properties"]["distance_m"] for f in doc["features"]] == [
        round(r[1], 2) for r in expected
    ]
    for feature in doc["features"]:
        assert set(feature["properties"]) == {
            "entity_id",
            "uscc",
            "name",
            "industry_code",
            "industry_name",
            "distance_m",
        }
        assert feature["properties"]["industry_code"].startswith(code)
    few = analysis.nearby_entities(dconn, lon, lat, radius_m=radius, industry=industry, limit=2)
    assert few.ids == [r[0] for r in expected[:2]]


def test_nearby_entities_in_4549_and_gcj02(dconn, centre) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre
    base = analysis.nearby_entities(dconn, lon, lat, radius_m=2000, industry="F", limit=50)
    x, y = transformer("EPSG:4490", "EPSG:4549").transform(lon, lat)
    metric = analysis.nearby_entities(dconn, x, y, "EPSG:4549", 2000, "F", 50)
    assert metric.ids == base.ids
    first = metric.to_geojson()["features"][0]["geometry"]["coordinates"]
    gx, gy = base.geometries[0].x, base.geometries[0].y
    ex, ey = transformer("EPSG:4490", "EPSG:4549").transform(gx, gy)
    assert first == pytest.approx([ex, ey], abs=0.002)  # easting first, metres
    ((cx, cy),) = gcj02.convert_coords(np.array([[lon, lat]]), "wgs84", "gcj02")
    offset = analysis.nearby_entities(dconn, cx, cy, "gcj02", 2000, "F", 50)
    assert offset.ids == base.ids


BUFFER_SQL = """
WITH b AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(g)s), 4490)::geography AS g),
near AS (SELECT p.person_id, p.household_id
           FROM registry.person p JOIN registry.person_geocode pg USING (person_id), b
          WHERE ST_Distance(pg.geom::geography, b.g) <= %(r)s)
SELECT (SELECT count(*) FROM near), (SELECT count(DISTINCT household_id) FROM near),
       (SELECT count(*) FROM registry.legal_entity_geocode eg, b
         WHERE ST_Distance(eg.geom::geography, b.g) <= %(r)s)"""


@pytest.mark.parametrize("kind", ["Point", "LineString", "Polygon"])
def test_buffer_count_equals_direct_sql(dconn, centre, kind) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre
    geometry: dict[str, Any] = {
        "Point": {"type": "Point", "coordinates": [lon, lat]},
        "LineString": {
            "type": "LineString",
            "coordinates": [[lon - 0.01, lat], [lon + 0.01, lat + 0.004]],
        },
        "Polygon": pentagon(lon, lat, 0.004),
    }[kind]
    radius = 600.0
    with dconn.cursor() as cur:
        cur.execute(BUFFER_SQL, {"g": json.dumps(geometry), "r": radius})
        residents, households, entities = cur.fetchone()
    assert residents >= 5 and households >= 5
    counted = analysis.buffer_count(dconn, geometry, radius_m=radius)
    assert (counted.residents, counted.households, counted.entities) == (
        residents,
        households,
        entities,
    )
    x, y = transformer("EPSG:4490", "EPSG:4549").transform(lon, lat)
    if kind == "Point":
        metric = analysis.buffer_count(
            dconn, {"type": "Point", "coordinates": [x, y]}, "EPSG:4549", radius
        )
        assert metric.residents == residents


@pytest.mark.parametrize(("cell", "of"), [("hex", "residents"), ("square", "entities")])
def test_density_cells_equal_direct_sql(dconn, centre, cell, of) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre
    bbox = [lon - 0.03, lat - 0.02, lon + 0.03, lat + 0.02]
    grid = analysis.density(dconn, cell=cell, size_m=400, bbox=bbox, of=of)
    table = "registry.person_geocode" if of == "residents" else "registry.legal_entity_geocode"
    doc = grid.to_geojson()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(grid) > 20
    shown = 0
    with dconn.cursor() as cur:
        for feature in doc["features"]:
            cur.execute(
                f"SELECT count(*) FROM {table} g"
                " WHERE ST_Contains(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4490), g.geom)"
                " AND ST_Contains(ST_MakeEnvelope(%s, %s, %s, %s, 4490), g.geom)",
                (json.dumps(feature["geometry"]), *bbox),
            )
            expected = cur.fetchone()[0]
            props = feature["properties"]
            if of == "residents" and 1 <= expected <= 4:
                assert props["count"] is None and props["suppressed"] == ["count"]
            else:
                assert props["count"] == expected and props["suppressed"] == []
                shown += expected
        cur.execute(
            f"SELECT count(*) FROM {table} g"
            " WHERE ST_Contains(ST_MakeEnvelope(%s, %s, %s, %s, 4490), g.geom)",
            bbox,
        )
        inside = cur.fetchone()[0]
    assert 0 < shown <= inside
    if of == "entities":
        assert shown == inside  # no suppression for entities: the cells partition the box
    frame = grid.to_geodataframe()
    assert len(frame) == len(grid) and str(frame.crs) == "EPSG:4490"


def test_density_over_a_polygon_in_4549(dconn, centre) -> None:  # type: ignore[no-untyped-def]
    polygon = pentagon(*centre, 0.02)
    grid = analysis.density(
        dconn,
        cell="hex",
        size_m=500,
        polygon=project(polygon, to_4549),
        of="entities",
        crs="EPSG:4549",
    )
    _, entities = direct(dconn, polygon)
    assert sum(p["count"] for p in grid.properties) == entities["total"]
    first = grid.to_geojson()["features"][0]["geometry"]["coordinates"][0][0]
    assert first[0] > 100_000 and first[1] > 3_000_000  # easting, northing in metres


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[121.5, 29.8], [121.52, 29.82], [121.52, 29.8], [121.5, 29.82], [121.5, 29.8]]
    ],
}


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c: analysis.zonal_stats(c, BOWTIE), "Self-intersection"),
        (
            lambda c: analysis.zonal_stats(
                c,
                {
                    "type": "Polygon",
                    "coordinates": [[[121.5, 29.8], [121.51, 29.8], [121.5, 29.8]]],
                },
            ),
            "at least 4",
        ),
        (
            lambda c: analysis.zonal_stats(
                c,
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[121.5, 29.8], [121.51, 29.8], [121.51, 29.81], [121.5, 29.81]]
                    ],
                },
            ),
            "closed",
        ),
        (lambda c: analysis.zonal_stats(c, {"type": "Polygon", "coordinates": []}), "empty"),
        (
            lambda c: analysis.zonal_stats(c, {"type": "Point", "coordinates": [121.5, 29.8]}),
            "Polygon",
        ),
        (lambda c: analysis.zonal_stats(c, "not json"), "GeoJSON"),
        (lambda c: analysis.zonal_stats(c, pentagon(121.5, 29.8, 0.5)), "limit"),
        (lambda c: analysis.zonal_stats(c, pentagon(29.8, 121.5, 0.01)), "longitude first"),
        (
            lambda c: analysis.zonal_stats(c, pentagon(121.5, 29.8, 0.01), crs="EPSG:2000"),
            "unsupported CRS",
        ),
        (
            lambda c: analysis.zonal_stats(c, pentagon(121.5, 29.8, 0.01), crs="mars"),
            "unsupported CRS",
        ),
        (lambda c: analysis.nearby_entities(c, 121.5, 29.8, radius_m=0, industry="C"), "radius"),
        (lambda c: analysis.nearby_entities(c, 121.5, 29.8, radius_m=5001, industry="C"), "5000"),
        (lambda c: analysis.nearby_entities(c, 121.5, 29.8, industry="C99"), "unknown industry"),
        (lambda c: analysis.nearby_entities(c, 121.5, 29.8, industry="Z"), "not an industry"),
        (lambda c: analysis.nearby_entities(c, 121.5, 29.8, industry=None), "industry"),
        (lambda c: analysis.nearby_entities(c, 121.5, 29.8, industry="C", limit=0), "limit"),
        (lambda c: analysis.nearby_entities(c, "x", 29.8, industry="C"), "lon"),
        (
            lambda c: analysis.buffer_count(
                c, {"type": "Point", "coordinates": [121.5, 29.8]}, radius_m=-3
            ),
            "radius",
        ),
        (
            lambda c: analysis.buffer_count(
                c, {"type": "LineString", "coordinates": [[121.5, 29.8]]}
            ),
            "at least 2",
        ),
        (lambda c: analysis.density(c, size_m=50, bbox=[121.13, 29.70, 121.60, 29.97]), "cells"),
        (lambda c: analysis.density(c, size_m=10, bbox=[121.4, 29.8, 121.5, 29.9]), "size"),
        (lambda c: analysis.density(c, cell="triangle", bbox=[121.4, 29.8, 121.5, 29.9]), "cell"),
        (lambda c: analysis.density(c, of="cats", bbox=[121.4, 29.8, 121.5, 29.9]), "of"),
        (lambda c: analysis.density(c, bbox=[121.5, 29.8, 121.4, 29.9]), "lower corner"),
        (lambda c: analysis.density(c), "either bbox or geometry"),
    ],
)
def test_bad_inputs_raise_invalid_input(dconn, call, words) -> None:  # type: ignore[no-untyped-def]
    from spatialsvc.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        call(dconn)
    assert words in caught.value.message
