"""Tests of the demo district's generated geography (no database needed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from spatialsvc.demo.addresses import ADDRESS_COLUMNS
from spatialsvc.demo.geography import Geography, generate_geography

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"
SEED = 7


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def geo() -> Geography:
    return generate_geography(REFERENCE, SEED, echo=_quiet)


@pytest.fixture(scope="module")
def geo_again() -> Geography:
    return generate_geography(REFERENCE, SEED, echo=_quiet)


@pytest.fixture(scope="module")
def geo_other() -> Geography:
    return generate_geography(REFERENCE, SEED + 1, echo=_quiet)


def _level(geo: Geography, level: str) -> pd.DataFrame:
    d = geo.divisions
    return d[d["level"] == level]


def test_frames_crs_and_geometry_column(geo: Geography) -> None:
    for name in ("divisions", "grids", "roads", "compounds", "buildings", "addresses", "pois"):
        frame = getattr(geo, name)
        assert frame.geometry.name == "geom", name
        assert frame.crs.to_epsg() == 4490, name
        assert frame.geometry.is_valid.all(), name
        assert not frame.geometry.is_empty.any(), name
    assert list(geo.addresses.columns) == ADDRESS_COLUMNS
    assert set(geo.divisions.geom_type) == {"MultiPolygon"}
    assert set(geo.grids.geom_type) == {"MultiPolygon"}
    assert set(geo.roads.geom_type) == {"LineString"}
    assert set(geo.compounds.geom_type) == {"Polygon"}
    assert set(geo.buildings.geom_type) == {"Polygon"}
    assert set(geo.addresses.geom_type) == {"Point"}
    # lon/lat order: x is longitude around 121.x
    x0, y0, x1, y1 = geo.addresses.total_bounds
    assert 121.0 < x0 < x1 < 121.7 and 29.6 < y0 < y1 < 30.0


def test_division_counts_codes_and_names(geo: Geography) -> None:
    ref = REFERENCE / "admin-divisions"
    villages = pd.read_csv(ref / "villages_330203_haishu.csv", dtype=str)
    streets = pd.read_csv(ref / "streets_330000_zhejiang.csv", dtype=str)
    streets = streets[streets["areaCode"] == "330203"]
    towns = _level(geo, "township")
    comms = _level(geo, "community")
    assert len(towns) == 17 and len(comms) == 280
    assert dict(zip(towns["code"], towns["name"], strict=True)) == dict(
        zip(streets["code"], streets["name"], strict=True)
    )
    assert dict(zip(comms["code"], comms["name"], strict=True)) == dict(
        zip(villages["code"], villages["name"], strict=True)
    )
    parents = dict(zip(geo.divisions["code"], geo.divisions["parent_code"], strict=True))
    assert parents["33"] is None and parents["3302"] == "33" and parents["330203"] == "3302"
    assert (towns["parent_code"] == "330203").all()
    assert (comms["parent_code"] == comms["code"].str[:9]).all()
    assert geo.divisions["code"].is_unique


def test_grids_per_community(geo: Geography) -> None:
    g = geo.grids
    per = g.groupby("community_code").size()
    assert len(per) == 280 and per.between(2, 8).all()
    assert (g["code"].str[:12] == g["community_code"]).all()
    assert g["code"].str.fullmatch(r"\d{15}").all() and g["code"].is_unique
    comms = _level(geo, "community").set_index("code").geometry
    inner = comms.loc[g["community_code"]].to_numpy()
    # each grid lies in its community (up to noding precision)
    outside = shapely.area(shapely.difference(g.geometry.to_numpy(), inner))
    assert (outside <= 1e-12).all()


def _coverage_ok(children: np.ndarray, parent: shapely.Geometry) -> None:
    assert shapely.coverage_is_valid(children)
    union = shapely.coverage_union_all(children)
    assert union.area == pytest.approx(parent.area, rel=1e-6)
    assert shapely.symmetric_difference(union, parent).area <= 1e-6 * parent.area


def test_levels_are_exact_coverages(geo: Geography) -> None:
    d = geo.divisions.set_index("code")
    towns = _level(geo, "township")
    _coverage_ok(towns.geometry.to_numpy(), d.loc["330203", "geom"])
    comms = _level(geo, "community")
    for code, group in comms.groupby("parent_code"):
        _coverage_ok(group.geometry.to_numpy(), d.loc[code, "geom"])
    for code, group in geo.grids.groupby("community_code"):
        _coverage_ok(group.geometry.to_numpy(), d.loc[code, "geom"])
    # the generated county matches the real Tianditu county polygon
    assert d.loc["330203", "geom"].area == pytest.approx(
        shapely.union_all(towns.geometry.to_numpy()).area, rel=1e-9
    )


def test_addresses_counts_and_uniqueness(geo: Geography) -> None:
    a = geo.addresses
    assert len(a) >= 180_000
    assert a["address_id"].is_unique and a["full_address"].is_unique
    assert set(a["level"]) == {"door", "building", "room"}
    assert a["admin_code"].str.fullmatch(r"\d{12}").all()
    assert (a["township_code"] == a["admin_code"].str[:9]).all()
    assert (a[["province", "city", "county"]] == ["浙江省", "宁波市", "海曙区"]).all().all()


def test_every_address_inside_its_community(geo: Geography) -> None:
    a = geo.addresses
    comms = _level(geo, "community").set_index("code").geometry
    polys = comms.loc[a["admin_code"]].to_numpy()
    xy = shapely.get_coordinates(a.geometry.to_numpy())
    assert shapely.contains_xy(polys, xy[:, 0], xy[:, 1]).all()
    comm = _level(geo, "community")
    names = dict(zip(comm["code"], comm["name"], strict=True))
    assert (a["community"] == a["admin_code"].map(names)).all()


def test_full_address_pattern_by_level(geo: Geography) -> None:
    a = geo.addresses
    head = r"浙江省宁波市海曙区(?P<town>.+?(?:街道|镇|乡))(?P<road>.+?)(?P<door>\d+)号"
    patterns = {
        "door": re.compile(head + r"$"),
        "building": re.compile(head + r"(?P<compound>.*?)(?P<bld>\d+)幢$"),
        "room": re.compile(
            head + r"(?P<compound>.+?)(?P<bld>\d+)幢(?P<unit>\d+)单元(?P<room>\d+)室$"
        ),
    }
    for level, pattern in patterns.items():
        rows = a[a["level"] == level]
        assert len(rows) > 0
        assert rows["full_address"].str.match(pattern).all(), level
    rooms = a[a["level"] == "room"]
    assert (rooms["room"].str[:-2] == rooms["floor"]).all()
    canonical = (
        rooms["province"] + rooms["city"] + rooms["county"] + rooms["township"] + rooms["road"]
        + rooms["door_number"] + "号" + rooms["compound"] + rooms["building"] + "幢"
        + rooms["unit"] + "单元" + rooms["room"] + "室"
    )  # fmt: skip
    assert (canonical == rooms["full_address"]).all()
    for col in ("door_number", "building", "unit", "floor", "room"):
        values = a[col].dropna()
        assert values.str.fullmatch(r"\d+").all(), col


def test_roads_names_and_crossings(geo: Geography) -> None:
    r = geo.roads
    assert r["road_id"].is_unique
    assert set(r["road_class"]) == {"arterial", "secondary", "branch"}
    towns_per_name = r.groupby("name")["township_code"].nunique()
    assert (towns_per_name > 1).any()
    towns = _level(geo, "township")
    crossing = False
    for line in r.loc[r["road_class"] == "arterial", "geom"]:
        lengths = shapely.length(shapely.intersection(towns.geometry.to_numpy(), line))
        if (lengths > 10 * 1e-5).sum() >= 2:
            crossing = True
            break
    assert crossing


def test_compounds_and_buildings(geo: Geography) -> None:
    c, b = geo.compounds, geo.buildings
    assert set(c["kind"]) == {"小区", "院落"}
    assert c["compound_id"].is_unique and b["building_id"].is_unique
    comms = _level(geo, "community").set_index("code").geometry
    assert shapely.within(c.geometry.to_numpy(), comms.loc[c["community_code"]].to_numpy()).all()
    polys = b.geometry.to_numpy()
    i, j = shapely.STRtree(polys).query(polys, predicate="intersects")
    assert (i == j).all(), "buildings overlap"
    assert b["floors"].between(1, 80).all() and b["units"].between(1, 12).all()
    assert b["compound_id"].isna().any() and b["compound_id"].notna().any()
    # names repeat across townships
    assert (c.groupby("name")["township_code"].nunique() > 1).any()


def test_pois(geo: Geography) -> None:
    p = geo.pois
    assert len(p) == 150 and p["poi_id"].is_unique
    assert p["poi_id"].iloc[0] == "osm-1"
    assert (p["source"] == "© OpenStreetMap contributors, ODbL 1.0").all()
    assert shapely.intersects(p.geometry.to_numpy(), p["centroid"].to_numpy()).all()


def test_deterministic(geo: Geography, geo_again: Geography, geo_other: Geography) -> None:
    assert geo.addresses["address_id"].tolist() == geo_again.addresses["address_id"].tolist()
    t1 = shapely.to_wkb(_level(geo, "township").geometry.to_numpy())
    t2 = shapely.to_wkb(_level(geo_again, "township").geometry.to_numpy())
    t3 = shapely.to_wkb(_level(geo_other, "township").geometry.to_numpy())
    assert list(t1) == list(t2)
    assert list(t1) != list(t3)
    assert geo.addresses["address_id"].tolist() != geo_other.addresses["address_id"].tolist()
