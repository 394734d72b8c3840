"""GCJ-02 / BD-09 conversions: round trips, offset size, and a real boundary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyproj
import shapely
from shapely.geometry import shape

from spatialsvc.geo import gcj02

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "gcj02" / "ningbo_districts_gcj02.json"
HAISHU = ROOT / "data" / "reference" / "boundaries" / "haishu_ningbo_zhejiang_tianditu.geojson"
GEOD = pyproj.Geod(ellps="WGS84")


def _grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(121.0, 122.0, 21), np.linspace(29.5, 30.2, 15))
    return lon.ravel(), lat.ravel()


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:  # type: ignore[no-untyped-def]
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


def test_gcj_offset_near_ningbo_is_480_to_530_m() -> None:
    lon, lat = _grid()
    glon, glat = gcj02.wgs84_to_gcj02(lon, lat)
    d = _metres(lon, lat, glon, glat)
    assert d.min() >= 480 and d.max() <= 530


def test_gcj_round_trip_within_1_cm() -> None:
    lon, lat = _grid()
    back = gcj02.gcj02_to_wgs84(*gcj02.wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.01


def test_bd_round_trips() -> None:
    lon, lat = _grid()
    back = gcj02.bd09_to_gcj02(*gcj02.gcj02_to_bd09(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.01
    back = gcj02.bd09_to_wgs84(*gcj02.wgs84_to_bd09(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.01
    bd = gcj02.gcj02_to_bd09(lon, lat)
    d = _metres(lon, lat, *bd)
    assert d.min() > 800 and d.max() < 1000


def test_outside_china_unchanged() -> None:
    lon, lat = np.array([2.35, -74.0]), np.array([48.85, 40.7])
    out = gcj02.wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(out[0], lon)
    np.testing.assert_array_equal(out[1], lat)
    back = gcj02.gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(back[0], lon)


def test_scalar_and_geometry_helpers() -> None:
    x, y = gcj02.wgs84_to_gcj02(121.5, 29.87)
    assert float(x) > 121.5
    pt = gcj02.convert_geometry(shapely.Point(121.5, 29.87), "wgs84", "gcj02")
    assert abs(pt.x - float(x)) < 1e-12 and abs(pt.y - float(y)) < 1e-12


def _iou(a, b) -> float:  # type: ignore[no-untyped-def]
    return float(a.intersection(b).area / a.union(b).area)


def test_real_haishu_boundary_overlaps_after_conversion() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8-sig"))
    gcj = next(
        shape(f["geometry"]) for f in data["features"] if f["properties"]["name"] == "海曙区"
    )
    ref_data = json.loads(HAISHU.read_text(encoding="utf-8"))
    ref = next(
        shape(f["geometry"]) for f in ref_data["features"] if f["properties"]["level"] == "county"
    )
    wgs = gcj02.convert_geometry(gcj, "gcj02", "wgs84")
    converted, raw = _iou(wgs, ref), _iou(gcj, ref)
    assert converted >= 0.97
    assert raw < converted and raw < 0.95
