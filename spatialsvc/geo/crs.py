"""Parsing coordinate reference systems and cached transformers.

Transformers are built once per (source, target) pair and always use ``always_xy=True``:
EPSG:4490 and the CGCS2000 Gauss-Krüger zones (EPSG:4549/4550 for Ningbo) put latitude /
northing first in EPSG order, but everything in spatialsvc is longitude/easting first.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, Literal

import pyproj
from pyproj.exceptions import CRSError as ProjCRSError

from spatialsvc.errors import CRSError
from spatialsvc.geo import gcj02

if TYPE_CHECKING:
    import geopandas as gpd

TARGET_EPSG = 4490
TARGET = f"EPSG:{TARGET_EPSG}"
Offset = Literal["gcj02", "bd09"]
ParsedCRS = pyproj.CRS | Offset

_EPSG = re.compile(r"^\s*(?:epsg\s*:\s*)?(\d{1,6})\s*$", re.IGNORECASE)


def _short(text: str) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= 60 else one[:57] + "..."


def parse_crs(text: str) -> ParsedCRS:
    """Parse 'EPSG:4549', '4549', 'gcj02', 'bd09' (any case) or WKT; raise CRSError if unknown."""
    if text is None or not str(text).strip():
        raise CRSError("empty CRS")
    raw = str(text).strip()
    low = raw.lower().replace("-", "")
    if low in ("gcj02", "gcj"):
        return "gcj02"
    if low in ("bd09", "bd09ll", "baidu"):
        return "bd09"
    match = _EPSG.match(raw)
    try:
        if match:
            return pyproj.CRS.from_epsg(int(match.group(1)))
        if raw.lower().startswith("epsg"):
            raise CRSError(f"unknown CRS {_short(raw)!r}")
        return pyproj.CRS.from_user_input(raw)
    except ProjCRSError as exc:
        raise CRSError(f"unknown CRS {_short(raw)!r}") from exc


def crs_label(crs: ParsedCRS) -> str:
    """A short label for a parsed CRS: 'EPSG:4549', 'gcj02', or the CRS name."""
    if isinstance(crs, str):
        return crs
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _key(crs: Any) -> str:
    if isinstance(crs, pyproj.CRS):
        return crs.to_wkt()
    return str(crs)


@functools.lru_cache(maxsize=64)
def _cached(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(
        pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst), always_xy=True
    )


def transformer(src: Any, dst: Any) -> pyproj.Transformer:
    """A cached always_xy transformer between two CRSs (pyproj.CRS, 'EPSG:n' or WKT)."""
    return _cached(_key(src), _key(dst))


def to_target(gdf: gpd.GeoDataFrame, source: ParsedCRS | None = None) -> gpd.GeoDataFrame:
    """Reproject a GeoDataFrame to EPSG:4490, handling GCJ-02 and BD-09.

    ``source`` overrides the frame's own CRS.  GCJ-02/BD-09 are converted to WGS84 by
    :mod:`spatialsvc.geo.gcj02`; WGS84 → CGCS2000 is the identity at our accuracy, so the
    result is only labelled EPSG:4490.
    """
    if isinstance(source, str):
        out = gdf.copy()
        converted = gcj02.convert_geometry(out.geometry.values, source, "wgs84")
        out = out.set_geometry(converted, crs=None)
        return out.set_crs(TARGET, allow_override=True)
    crs = source if source is not None else gdf.crs
    if crs is None:
        raise CRSError("no CRS; pass --source-crs")
    if gdf.crs is None or source is not None:
        gdf = gdf.set_crs(crs, allow_override=True)
    if pyproj.CRS.from_user_input(crs).to_epsg() == TARGET_EPSG:
        return gdf.set_crs(TARGET, allow_override=True)
    return gdf.to_crs(TARGET)


# CRSs the service publishes, by URI, with the integer SRID PostGIS uses and whether the CRS
# puts latitude / northing first (its EPSG axis order), which GeoJSON output with crs= follows.
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
PUBLISHED_CRS: dict[str, tuple[int, bool]] = {
    CRS84_URI: (4326, False),
    "http://www.opengis.net/def/crs/EPSG/0/4490": (4490, True),
    "http://www.opengis.net/def/crs/EPSG/0/4326": (4326, True),
    "http://www.opengis.net/def/crs/EPSG/0/3857": (3857, False),
    "http://www.opengis.net/def/crs/EPSG/0/4549": (4549, True),
    "http://www.opengis.net/def/crs/EPSG/0/4550": (4550, True),
}
STORAGE_CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/4490"
