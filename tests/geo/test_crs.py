"""CRS parsing, cached transformers and axis order."""

from __future__ import annotations

import geopandas as gpd
import pyproj
import pytest
import shapely

from spatialsvc.errors import CRSError
from spatialsvc.geo import crs as geocrs
from spatialsvc.geo import gcj02


@pytest.mark.parametrize("text", ["EPSG:4549", "epsg:4549", "4549", " EPSG:4549 "])
def test_parse_epsg(text: str) -> None:
    parsed = geocrs.parse_crs(text)
    assert isinstance(parsed, pyproj.CRS) and parsed.to_epsg() == 4549


def test_parse_offsets_and_wkt() -> None:
    assert geocrs.parse_crs("GCJ02") == "gcj02"
    assert geocrs.parse_crs("bd09") == "bd09"
    wkt = pyproj.CRS.from_epsg(4550).to_wkt()
    parsed = geocrs.parse_crs(wkt)
    assert isinstance(parsed, pyproj.CRS) and parsed.to_epsg() == 4550


@pytest.mark.parametrize("text", ["EPSG:999999", "nonsense", "", "epsg:abc"])
def test_unknown_crs(text: str) -> None:
    with pytest.raises(CRSError) as info:
        geocrs.parse_crs(text)
    assert "\n" not in str(info.value)


def test_epsg_axis_order_is_lat_first_but_transformers_are_xy() -> None:
    for code in (4490, 4549, 4550):
        axis = pyproj.CRS.from_epsg(code).axis_info[0].direction
        assert axis == "north"
    e, n = geocrs.transformer("EPSG:4490", "EPSG:4549").transform(121.5, 29.87)
    assert 640_000 < e < 650_000
    assert 3.29e6 < n < 3.32e6
    e2, _ = geocrs.transformer("EPSG:4490", "EPSG:4550").transform(121.5, 29.87)
    assert 350_000 < e2 < 360_000  # 1.5 degrees west of CM 123E
    lon, lat = geocrs.transformer("EPSG:4549", "EPSG:4490").transform(e, n)
    assert abs(lon - 121.5) < 1e-9 and abs(lat - 29.87) < 1e-9


def test_transformer_is_cached() -> None:
    assert geocrs.transformer("EPSG:4490", "EPSG:4549") is geocrs.transformer(
        "EPSG:4490", "EPSG:4549"
    )


def test_to_target_projected_and_gcj() -> None:
    e, n = geocrs.transformer("EPSG:4490", "EPSG:4549").transform(121.5, 29.87)
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(e, n)], crs="EPSG:4549")
    out = geocrs.to_target(gdf)
    assert out.crs.to_epsg() == 4490
    assert abs(out.geometry.x[0] - 121.5) < 1e-9 and abs(out.geometry.y[0] - 29.87) < 1e-9
    gx, gy = gcj02.wgs84_to_gcj02(121.5, 29.87)
    g = gpd.GeoDataFrame(geometry=[shapely.Point(float(gx), float(gy))])
    out = geocrs.to_target(g, "gcj02")
    assert out.crs.to_epsg() == 4490
    assert abs(out.geometry.x[0] - 121.5) < 1e-9


def test_to_target_without_crs() -> None:
    with pytest.raises(CRSError):
        geocrs.to_target(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)]))
