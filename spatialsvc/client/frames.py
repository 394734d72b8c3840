"""GeoJSON from the service into (Geo)DataFrames, with the CRS and axis order right.

OGC API - Features Part 2 answers coordinates in the axis order of the CRS asked for
(``Content-Crs`` header): EPSG:4490, EPSG:4326 and the Gauss-Krüger zones EPSG:4549/4550 put
latitude / northing first. A GeoDataFrame is always x/y (longitude / easting first, as pyproj's
``always_xy``), so such coordinates are swapped once, for the whole frame, with
:func:`shapely.transform`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import shape

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
_EPSG_SHORT = re.compile(r"^\s*(?:epsg\s*:\s*)?(\d{1,6})\s*$", re.IGNORECASE)


def crs_uri(crs: Any) -> str:
    """A CRS given as 4549, 'EPSG:4549', 'CRS84', a URI or a pyproj CRS, as an OGC URI."""
    if isinstance(crs, pyproj.CRS):
        code = crs.to_epsg()
        if crs.to_string() == "OGC:CRS84":
            return CRS84_URI
        if code is None:
            raise ValueError(f"crs: {crs.name!r} has no EPSG code; the service publishes EPSG CRSs")
        return EPSG_URI.format(code)
    if isinstance(crs, int):
        return EPSG_URI.format(crs)
    text = str(crs).strip()
    if text.upper() in ("CRS84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84"):
        return CRS84_URI
    match = _EPSG_SHORT.match(text)
    if match:
        return EPSG_URI.format(int(match.group(1)))
    return text


@functools.lru_cache(maxsize=64)
def parse_crs(uri: str) -> pyproj.CRS:
    """The pyproj CRS for an OGC CRS URI (``http://www.opengis.net/def/crs/EPSG/0/4549``).

    EPSG and CRS84 URIs become ``EPSG:4549`` / ``OGC:CRS84``, which is how GeoPandas shows them.
    """
    text = uri.strip()
    if text == CRS84_URI:
        return pyproj.CRS.from_user_input("OGC:CRS84")
    prefix = EPSG_URI.format("")
    if text.startswith(prefix) and text[len(prefix) :].isdigit():
        return pyproj.CRS.from_epsg(int(text[len(prefix) :]))
    return pyproj.CRS.from_user_input(text)


def crs_from_header(value: str | None) -> pyproj.CRS:
    """The CRS named by a ``Content-Crs`` header (``<uri>``); CRS84 when there is none."""
    if not value:
        return parse_crs(CRS84_URI)
    return parse_crs(value.strip().strip("<>").strip())


def lat_first(crs: pyproj.CRS) -> bool:
    """True when the CRS's first axis is latitude or northing (EPSG:4490, 4326, 4549, 4550)."""
    axes = crs.axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def swap_xy(geometries: np.ndarray) -> np.ndarray:
    """Swap the first two coordinates of every geometry (None stays None)."""
    return shapely.transform(geometries, lambda coords: coords[:, ::-1])


def _geometries(features: list[dict[str, Any]]) -> np.ndarray:
    out = np.empty(len(features), dtype=object)
    for i, feature in enumerate(features):
        geometry = feature.get("geometry")
        out[i] = shape(geometry) if geometry else None
    return out


def features_frame(
    features: list[dict[str, Any]],
    crs: pyproj.CRS,
    *,
    axis_swap: bool | None = None,
    columns: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """A GeoDataFrame from GeoJSON features in ``crs``'s axis order; the index is the ids.

    ``axis_swap`` defaults to :func:`lat_first` of ``crs``. ``columns`` orders the property
    columns (and gives an empty frame its columns).
    """
    swap = lat_first(crs) if axis_swap is None else axis_swap
    geometries = _geometries(features)
    if swap and len(geometries):
        geometries = swap_xy(geometries)
    rows = [feature.get("properties") or {} for feature in features]
    frame = pd.DataFrame.from_records(rows, columns=list(columns) if columns else None)
    ids = [feature.get("id") for feature in features]
    if any(i is not None for i in ids):
        frame.index = pd.Index(ids, name="id")
    return gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geometries, index=frame.index, crs=crs), crs=crs
    )


def geojson_crs(document: Mapping[str, Any], header: str | None = None) -> pyproj.CRS:
    """The CRS of a GeoJSON document: the Content-Crs header, a ``crs`` member, else CRS84."""
    if header:
        return crs_from_header(header)
    member = document.get("crs")
    if isinstance(member, str) and member:
        return parse_crs(crs_uri(member))
    if isinstance(member, Mapping):  # the 2008 GeoJSON form {"type": "name", ...}
        name = (member.get("properties") or {}).get("name")
        if name:
            return parse_crs(crs_uri(name))
    return parse_crs(CRS84_URI)


def is_geojson(value: Any) -> bool:
    """True for a GeoJSON FeatureCollection or Feature."""
    return isinstance(value, Mapping) and value.get("type") in ("FeatureCollection", "Feature")


def geojson_frame(
    document: Mapping[str, Any], header: str | None = None, *, axis_swap: bool | None = None
) -> gpd.GeoDataFrame:
    """A GeoDataFrame from a FeatureCollection or a Feature; other members go to ``attrs``.

    ``axis_swap`` as in :func:`features_frame` (None: the CRS's EPSG axis order decides).
    """
    crs = geojson_crs(document, header)
    if document.get("type") == "Feature":
        features = [dict(document)]
    else:
        features = list(document.get("features") or [])
    frame = features_frame(features, crs, axis_swap=axis_swap)
    frame.attrs.update(
        {k: v for k, v in document.items() if k not in ("type", "features", "crs", "links")}
    )
    return frame


def points_frame(
    rows: list[dict[str, Any]], crs: pyproj.CRS, x: str = "lon", y: str = "lat"
) -> gpd.GeoDataFrame:
    """Rows carrying ``lon``/``lat`` or ``x``/``y`` (x/y order, as the geocoder answers) as
    points; rows without coordinates get no geometry."""
    frame = pd.DataFrame.from_records(rows)
    xs = pd.to_numeric(frame[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
    points = shapely.points(xs, ys)
    points[np.isnan(xs) | np.isnan(ys)] = None
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(points, crs=crs), crs=crs)
