"""WGS84 <-> GCJ-02 <-> BD-09, vectorised on numpy arrays.

GCJ-02 ("Mars coordinates") and BD-09 (Baidu) are not in PROJ.  The forward formulas are the
well-known published ones (Krasovsky ellipsoid, polynomial + sine series); the inverse of
GCJ-02 is iterative and reaches about 0.01 m.  Outside the rough bounding box of China the
public convention is to return the input unchanged, which we follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

ArrayLike = npt.ArrayLike
Array = npt.NDArray[np.float64]

A = 6378245.0
EE = 0.00669342162296594323
X_PI = math.pi * 3000.0 / 180.0
CHINA = (72.004, 0.8293, 137.8347, 55.8271)
TOLERANCE_DEG = 1e-9
MAX_ITER = 20


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return np.broadcast_arrays(x, y)  # type: ignore[return-value]


def in_china(lon: ArrayLike, lat: ArrayLike) -> npt.NDArray[np.bool_]:
    """True where a point lies in the rough bounding box of China used by the convention."""
    x, y = _arrays(lon, lat)
    return (x >= CHINA[0]) & (x <= CHINA[2]) & (y >= CHINA[1]) & (y <= CHINA[3])


def _transform_lat(x: Array, y: Array) -> Array:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: Array, y: Array) -> Array:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _offset(lon: Array, lat: Array) -> tuple[Array, Array]:
    """The GCJ-02 offset (dlon, dlat) in degrees at a WGS84 point."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """WGS84 → GCJ-02 (degrees); points outside China are returned unchanged."""
    x, y = _arrays(lon, lat)
    dlon, dlat = _offset(x, y)
    inside = in_china(x, y)
    return np.where(inside, x + dlon, x), np.where(inside, y + dlat, y)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """GCJ-02 → WGS84 by fixed-point iteration (residual < 1e-9° or 20 rounds)."""
    gx, gy = _arrays(lon, lat)
    inside = in_china(gx, gy)
    dlon, dlat = _offset(gx, gy)
    wx, wy = gx - dlon, gy - dlat
    for _ in range(MAX_ITER):
        fx, fy = wgs84_to_gcj02(wx, wy)
        rx, ry = fx - gx, fy - gy
        wx, wy = wx - rx, wy - ry
        if np.all(np.abs(rx) < TOLERANCE_DEG) and np.all(np.abs(ry) < TOLERANCE_DEG):
            break
    return np.where(inside, wx, gx), np.where(inside, wy, gy)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """GCJ-02 → BD-09 (degrees)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_closed(bx: Array, by: Array) -> tuple[Array, Array]:
    x = bx - 0.0065
    y = by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """BD-09 → GCJ-02 (degrees).

    The published closed-form inverse is off by up to ~0.1 m; it is the first guess of the
    same fixed-point iteration as :func:`gcj02_to_wgs84`.
    """
    bx, by = _arrays(lon, lat)
    gx, gy = _bd09_to_gcj02_closed(bx, by)
    for _ in range(MAX_ITER):
        fx, fy = gcj02_to_bd09(gx, gy)
        rx, ry = fx - bx, fy - by
        gx, gy = gx - rx, gy - ry
        if np.all(np.abs(rx) < TOLERANCE_DEG) and np.all(np.abs(ry) < TOLERANCE_DEG):
            break
    return gx, gy


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """WGS84 → BD-09 (degrees)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """BD-09 → WGS84 (degrees)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_FUNCS: dict[tuple[str, str], Callable[[ArrayLike, ArrayLike], tuple[Array, Array]]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def convert_coords(coords: Array, src: str, dst: str) -> Array:
    """Convert an (N, 2) array of lon/lat between 'wgs84', 'gcj02' and 'bd09'."""
    if src == dst:
        return coords
    func = _FUNCS[(src, dst)]
    x, y = func(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def convert_geometry(geom: BaseGeometry, src: str, dst: str) -> BaseGeometry:
    """Convert a shapely geometry (or array of them) between 'wgs84', 'gcj02' and 'bd09'."""
    return shapely.transform(geom, lambda c: convert_coords(c, src, dst))
