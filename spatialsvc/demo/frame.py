"""A local metric frame (metres east/north of a fixed origin) for building demo geometry.

Everything the generator lays out in metres (roads, compounds, buildings, door plates) is built
in this frame and converted back to CGCS2000 lon/lat (EPSG:4490) with an exact affine map.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

LON0 = 121.35
LAT0 = 29.84
KX = 111_320.0 * math.cos(math.radians(LAT0))
KY = 110_574.0


def _to_m(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    return (coords - np.array([LON0, LAT0])) * np.array([KX, KY])


def _to_deg(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    return coords / np.array([KX, KY]) + np.array([LON0, LAT0])


def to_metric(geoms: Any) -> Any:
    """Map lon/lat geometries (scalar or array) into the local metric frame."""
    return shapely.transform(geoms, _to_m)


def to_lonlat(geoms: Any) -> Any:
    """Map local metric geometries (scalar or array) back to lon/lat."""
    return shapely.transform(geoms, _to_deg)


def xy_to_lonlat(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Map metric coordinate arrays to lon/lat arrays."""
    return x / KX + LON0, y / KY + LAT0
