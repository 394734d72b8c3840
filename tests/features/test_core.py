"""The features core without a database: CRS and bbox parsing, CQL2 translation."""

from __future__ import annotations

import pytest
from psycopg2 import sql

from spatialsvc.errors import InvalidInput
from spatialsvc.features import cql
from spatialsvc.features.crs import parse_bbox, resolve
from spatialsvc.geo.crs import CRS84_URI, PUBLISHED_CRS

KINDS = {"name": "string", "category": "string", "floors": "integer"}


def render(node: sql.Composable) -> str:
    """SQL text without a connection (identifiers and placeholders only)."""
    parts = node.seq if isinstance(node, sql.Composed) else [node]
    out = []
    for part in parts:
        if isinstance(part, sql.Composed):
            out.append(render(part))
        elif isinstance(part, sql.SQL):
            out.append(part.string)
        elif isinstance(part, sql.Identifier):
            out.append('"' + ".".join(part.strings) + '"')
        elif isinstance(part, sql.Placeholder):
            out.append(f"%({part.name})s")
        elif isinstance(part, sql.Literal):
            out.append(repr(part.wrapped))
    return "".join(out)


def translate(text: str, lang: str = "cql2-text", crs: str = CRS84_URI) -> tuple[str, dict]:
    params = cql.Params()
    node = cql.to_sql(text, lang, KINDS, "geom", resolve(crs), params)
    return render(node), params.values


def test_every_published_crs_resolves_with_its_axis_order() -> None:
    for uri, (srid, lat_first) in PUBLISHED_CRS.items():
        crs = resolve(uri)
        assert (crs.srid, crs.lat_first) == (srid, lat_first)
    assert resolve(None).uri == CRS84_URI
    assert resolve("EPSG:4549").srid == 4549


@pytest.mark.parametrize("bad", ["EPSG:9999", "http://www.opengis.net/def/crs/EPSG/0/2000", "x"])
def test_unknown_crs_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        resolve(bad)


def test_bbox_in_lat_first_crs_is_swapped_to_x_y() -> None:
    box = parse_bbox("29.86,121.53,29.88,121.56", resolve("EPSG:4490"))
    assert (box.minx, box.miny, box.maxx, box.maxy, box.srid) == (
        121.53,
        29.86,
        121.56,
        29.88,
        4490,
    )
    box = parse_bbox("121.53,29.86,121.56,29.88", resolve(None))
    assert (box.minx, box.miny, box.srid) == (121.53, 29.86, 4326)


@pytest.mark.parametrize(
    "bad", ["1,2,3", "1,2,3,4,5", "a,b,c,d", "3,2,1,4", "1,4,3,2", "nan,1,2,3", "0,95,1,96", ""]
)
def test_bad_bbox(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_bbox(bad, resolve(None))


def test_literals_are_bound_never_pasted() -> None:
    text, values = translate("name = 'x\" OR 1=1 --' AND floors BETWEEN 1 AND 5")
    assert "OR 1=1" not in text
    assert 'x" OR 1=1 --' in values.values()
    assert '"name"' in text and '"floors"' in text


def test_like_in_null_not_and_or() -> None:
    text, values = translate(
        "(name LIKE 'a%' OR category IN ('school', 'cbd')) AND NOT (name IS NULL)"
    )
    assert "LIKE" in text and " IN (" in text and "IS NULL" in text and "NOT" in text
    assert sorted(map(str, values.values())) == ["a%", "cbd", "school"]


def test_spatial_with_lat_first_filter_crs_flips() -> None:
    text, values = translate(
        "S_INTERSECTS(geom, POLYGON((29.8 121.5, 29.8 121.6, 29.9 121.6, 29.8 121.5)))",
        crs="http://www.opengis.net/def/crs/EPSG/0/4490",
    )
    assert "ST_Intersects" in text and "ST_FlipCoordinates" in text
    assert "4490" in text and "ST_Transform" not in text


def test_cql2_json() -> None:
    text, values = translate(
        '{"op": "and", "args": [{"op": "=", "args": [{"property": "name"}, "x"]},'
        ' {"op": "s_within", "args": [{"property": "geom"},'
        ' {"bbox": [121.5, 29.8, 121.6, 29.9]}]}]}',
        lang="cql2-json",
    )
    assert "ST_Within" in text and "ST_MakeEnvelope" in text
    assert "x" in values.values()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuch = 'x'", "unknown property"),
        ("name = 'x'; DROP TABLE base.poi", "malformed CQL2"),
        ("1=1) OR (1=1", "malformed CQL2"),
        ("name = ", "malformed CQL2"),
        ("floors = 'three'", "integer"),
        ("name = 3", "string"),
        ("lower(name) = 'x'", "not supported"),
        ("geom = 'x'", "geometry"),
        ("T_AFTER(name, TIMESTAMP('2020-01-01T00:00:00Z'))", "not supported|malformed"),
    ],
)
def test_refused_filters(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        translate(text)


def test_unknown_filter_lang_and_bad_json() -> None:
    with pytest.raises(InvalidInput, match="filter-lang"):
        translate("name = 'x'", lang="cql-text")
    with pytest.raises(InvalidInput, match="malformed CQL2"):
        translate("{bad", lang="cql2-json")
