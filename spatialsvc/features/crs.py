"""Output CRS, bbox-crs and filter-crs: URI to integer SRID and axis order.

Everything is done in SQL with integer SRIDs (``ST_Transform(geom, 4549)``), so no pyproj
object is built while serving a request. A CRS whose EPSG axis order puts latitude / northing
first (EPSG:4490, EPSG:4326, EPSG:4549, EPSG:4550) is given and returned in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spatialsvc.errors import InvalidInput
from spatialsvc.geo.crs import CRS84_URI, PUBLISHED_CRS, TARGET_EPSG

STORAGE_SRID = TARGET_EPSG
# WGS 84 and CGCS2000 coincide at our accuracy and PROJ has only the null transformation
# between them (checked: PostGIS's ST_Transform(geom, 4326) returns the same numbers), so a
# value in either is used as stored: no ST_Transform, no PROJ pipeline built per query.
SAME_AS_STORAGE = frozenset({STORAGE_SRID, 4326})
# EPSG codes whose units are degrees (GeoJSON gets 7 decimals, metres get 3).
GEOGRAPHIC_SRIDS = frozenset({4326, 4490})


@dataclass(frozen=True)
class CRS:
    """A published CRS: its URI, PostGIS SRID and whether the first axis is latitude/northing."""

    uri: str
    srid: int
    lat_first: bool

    @property
    def decimals(self) -> int:
        """Decimal digits of GeoJSON coordinates: 7 for degrees (~1 cm), 3 for metres."""
        return 7 if self.srid in GEOGRAPHIC_SRIDS else 3

    @property
    def needs_transform(self) -> bool:
        """False when coordinates in this CRS are the stored ones (up to axis order)."""
        return self.srid not in SAME_AS_STORAGE

    @property
    def geographic(self) -> bool:
        """True if coordinates are degrees."""
        return self.srid in GEOGRAPHIC_SRIDS


_SHORT = {
    "crs84": CRS84_URI,
    "ogc:crs84": CRS84_URI,
    "urn:ogc:def:crs:ogc:1.3:crs84": CRS84_URI,
    "urn:ogc:def:crs:ogc::crs84": CRS84_URI,
    "[ogc:crs84]": CRS84_URI,
}


def resolve(uri: str | None, parameter: str = "crs") -> CRS:
    """The published CRS for a URI (default CRS84); anything else is a 400."""
    if uri is None or uri.strip() == "":
        uri = CRS84_URI
    key = uri.strip()
    key = _SHORT.get(key.lower(), key)
    if key.startswith("[") and key.endswith("]"):  # safe CURIE [EPSG:4549]
        key = key[1:-1]
    if key.upper().startswith("EPSG:") and key[5:].isdigit():
        key = f"http://www.opengis.net/def/crs/EPSG/0/{int(key[5:])}"
    found = PUBLISHED_CRS.get(key)
    if found is None:
        shown = uri if len(uri) <= 80 else uri[:77] + "..."
        raise InvalidInput(
            f"{parameter}: unsupported CRS {shown!r}; use one of {', '.join(PUBLISHED_CRS)}"
        )
    return CRS(uri=key, srid=found[0], lat_first=found[1])


def supported_uris() -> list[str]:
    """Every published CRS URI, CRS84 first."""
    return list(PUBLISHED_CRS)


@dataclass(frozen=True)
class BBox:
    """A bbox in x/y (longitude/easting first) order, in the SRID it was given in."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    srid: int

    @property
    def needs_transform(self) -> bool:
        """False when the bbox is already in the stored coordinates."""
        return self.srid not in SAME_AS_STORAGE


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"bbox: {text.strip()[:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInput("bbox: coordinates must be finite numbers")
    return value


def parse_bbox(text: str, crs: CRS) -> BBox:
    """Parse ``bbox`` (4 or 6 numbers) given in ``crs``'s axis order; check its corners."""
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidInput("bbox: give 4 numbers (or 6 with heights), separated by commas")
    values = [_number(p) for p in parts]
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    a1, b1, a2, b2 = values
    if a1 > a2 or b1 > b2:
        raise InvalidInput("bbox: the lower corner must come before the upper corner")
    x1, y1, x2, y2 = (b1, a1, b2, a2) if crs.lat_first else (a1, b1, a2, b2)
    if crs.geographic and (abs(y1) > 90 or abs(y2) > 90 or abs(x1) > 180 or abs(x2) > 180):
        where = "latitude first" if crs.lat_first else "longitude first"
        raise InvalidInput(f"bbox: coordinates out of range for {crs.uri} ({where})")
    return BBox(x1, y1, x2, y2, crs.srid)
