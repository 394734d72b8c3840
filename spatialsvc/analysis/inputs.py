"""Checking the inputs of the analysis functions and placing geometries in EPSG:4490.

A geometry arrives as GeoJSON (a geometry object, a Feature holding one, or its JSON text) or
as a shapely geometry, in a CRS the service publishes (see
:func:`spatialsvc.geocoder_service.parse_point_crs`: the EPSG CRSs of
:data:`spatialsvc.geo.crs.PUBLISHED_CRS`, CRS84, ``gcj02`` and ``bd09``). Coordinates are
always longitude / easting first, whatever the CRS's EPSG axis order (as the geocoder's
processes take them). Everything wrong is an :class:`~spatialsvc.errors.InvalidInput` with a
message that says what to fix.

Limits (documented in docs/analysis.md):

- a polygon's area, and the bounding box of a buffer or a density grid, at most
  :data:`MAX_AREA_KM2` (about four times the bounding box of Haishu District, 1,004 km²);
- at most :data:`MAX_VERTICES` vertices;
- a radius from :data:`MIN_RADIUS_M` to :data:`MAX_RADIUS_M` metres.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyproj
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from spatialsvc import geocoder_service as service
from spatialsvc.errors import InvalidInput
from spatialsvc.geo import gcj02
from spatialsvc.geo.crs import transformer
from spatialsvc.geocoder_service import PointCRS, parse_point_crs

MAX_AREA_KM2 = 4000.0
MAX_VERTICES = 10_000
MIN_RADIUS_M = 1.0
MAX_RADIUS_M = 5000.0
MAX_LIMIT = 1000
GEOD = pyproj.Geod(ellps="GRS80")  # the CGCS2000 ellipsoid, to the millimetre
METRIC_SRID = 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: metres around Ningbo

POLYGONAL = ("Polygon", "MultiPolygon")
ANY_GEOMETRY = ("Point", "MultiPoint", "LineString", "MultiLineString", *POLYGONAL)
_INDUSTRY = re.compile(r"^[A-T]([0-9]{2})?$")


def parse_crs(value: Any, parameter: str = "crs") -> PointCRS:
    """A published EPSG CRS (URI, EPSG:n, CRS84) or gcj02 / bd09; default EPSG:4490."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{parameter}: give the CRS as text, e.g. EPSG:4490 or gcj02")
    return parse_point_crs(value, parameter)


# ---------------------------------------------------------------------------------------------
# GeoJSON structure


def _geojson(value: Any, parameter: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInput(f"{parameter}: not valid GeoJSON text") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{parameter}: give a GeoJSON geometry object")
    if value.get("type") == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            raise InvalidInput(f"{parameter}: the Feature has no geometry")
    return value


def _position(value: Any, parameter: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise InvalidInput(f"{parameter}: a position is a list of 2 numbers (x, y)")
    out = []
    for number in value[:2]:
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidInput(f"{parameter}: coordinates must be numbers")
        if not math.isfinite(number):
            raise InvalidInput(f"{parameter}: coordinates must be finite numbers")
        out.append(float(number))
    return out[0], out[1]


def _positions(value: Any, parameter: str, least: int, what: str) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"{parameter}: {what} must be a list of positions")
    if len(value) < least:
        raise InvalidInput(f"{parameter}: {what} needs at least {least} positions")
    return [_position(p, parameter) for p in value]


def _ring(value: Any, parameter: str) -> list[tuple[float, float]]:
    ring = _positions(value, parameter, 4, "a polygon ring")
    if ring[0] != ring[-1]:
        raise InvalidInput(f"{parameter}: a polygon ring must be closed (last position = first)")
    if len(set(ring)) < 3:
        raise InvalidInput(f"{parameter}: a polygon ring needs at least 3 distinct positions")
    return ring


def _rings(value: Any, parameter: str) -> list[list[tuple[float, float]]]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInput(f"{parameter}: a polygon is a non-empty list of rings")
    return [_ring(r, parameter) for r in value]


def _checked_structure(doc: dict[str, Any], parameter: str, allowed: tuple[str, ...]) -> None:
    kind = doc.get("type")
    if kind not in allowed:
        raise InvalidInput(f"{parameter}: give a GeoJSON {' or '.join(allowed)}, not {kind!r}")
    coords = doc.get("coordinates")
    if coords is None:
        raise InvalidInput(f"{parameter}: the geometry has no coordinates")
    if kind == "Point":
        _position(coords, parameter)
        return
    if not isinstance(coords, list | tuple) or not coords:
        raise InvalidInput(f"{parameter}: the geometry is empty")
    if kind == "MultiPoint":
        _positions(coords, parameter, 1, "a multipoint")
    elif kind == "LineString":
        _positions(coords, parameter, 2, "a line")
    elif kind == "MultiLineString":
        for line in coords:
            _positions(line, parameter, 2, "a line")
    elif kind == "Polygon":
        _rings(coords, parameter)
    else:
        for polygon in coords:
            _rings(polygon, parameter)


# ---------------------------------------------------------------------------------------------
# Geometry


def _mover(crs: PointCRS, to_storage: bool) -> Callable[[np.ndarray], np.ndarray] | None:
    """A function moving (N, 2) coordinates between ``crs`` and EPSG:4490 (None: no change)."""
    if crs.offset is not None:
        src, dst = (crs.offset, "wgs84") if to_storage else ("wgs84", crs.offset)
        return lambda c: gcj02.convert_coords(c, src, dst)
    if crs.srid in (4490, 4326):  # CGCS2000 and WGS 84 coincide at our accuracy
        return None
    ends = (f"EPSG:{crs.srid}", "EPSG:4490")
    move = transformer(*ends) if to_storage else transformer(*reversed(ends))

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = move.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return project


def to_storage(geom: BaseGeometry, crs: PointCRS) -> BaseGeometry:
    """A geometry in ``crs`` (x/y order) put in EPSG:4490 longitude/latitude."""
    func = _mover(crs, to_storage=True)
    return geom if func is None else shapely.transform(geom, func)


def from_storage(geom: BaseGeometry, crs: PointCRS) -> BaseGeometry:
    """An EPSG:4490 geometry put in ``crs`` (x/y order)."""
    func = _mover(crs, to_storage=False)
    return geom if func is None else shapely.transform(geom, func)


def as_geojson(geom: BaseGeometry, crs: PointCRS) -> dict[str, Any]:
    """A GeoJSON geometry object, rounded to 7 decimals for degrees and 3 for metres."""
    decimals = 7 if crs.geographic else 3
    rounded = shapely.transform(geom, lambda c: np.round(c, decimals))
    return dict(shapely.geometry.mapping(rounded))


def _check_range(geom: BaseGeometry, crs: PointCRS, parameter: str) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if crs.geographic and not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput(
            f"{parameter}: coordinates out of range for {crs.label}: give longitude first, "
            "then latitude, in degrees"
        )


def geodesic_area_km2(geom: BaseGeometry) -> float:
    """The area of an EPSG:4490 geometry on the CGCS2000 ellipsoid, in km²."""
    total = 0.0
    for part in getattr(geom, "geoms", [geom]):
        if part.geom_type == "Polygon":  # pyproj adds holes by their orientation
            part = orient(part, 1.0)
        area, _perimeter = GEOD.geometry_area_perimeter(part)
        total += abs(area)
    return total / 1e6


def _bbox_area_km2(geom: BaseGeometry, margin_m: float = 0.0) -> float:
    minx, miny, maxx, maxy = geom.bounds
    dlat = margin_m / 110_574.0
    dlon = margin_m / (
        111_320.0 * max(math.cos(math.radians(max(abs(miny), abs(maxy)) + dlat)), 0.01)
    )
    box = shapely.box(minx - dlon, max(miny - dlat, -90), maxx + dlon, min(maxy + dlat, 90))
    return geodesic_area_km2(box)


def check_area(area_km2: float, parameter: str, what: str = "the polygon's area") -> None:
    """Raise if an area is over :data:`MAX_AREA_KM2`."""
    if area_km2 > MAX_AREA_KM2:
        raise InvalidInput(
            f"{parameter}: {what} is {area_km2:,.0f} km², over the limit of {MAX_AREA_KM2:,.0f} km²"
        )


def parse_geometry(
    value: Any,
    crs: PointCRS,
    parameter: str = "geometry",
    allowed: tuple[str, ...] = POLYGONAL,
) -> BaseGeometry:
    """A checked geometry in EPSG:4490 from GeoJSON (or shapely) in ``crs``.

    Refused: not GeoJSON, a type not in ``allowed``, empty, too few positions, an unclosed
    ring, too many vertices, coordinates out of range, invalid (self-intersecting) polygons.
    """
    if value is None:
        raise InvalidInput(f"{parameter}: required (a GeoJSON geometry)")
    if isinstance(value, BaseGeometry):
        geom = value
        if geom.geom_type not in allowed:
            raise InvalidInput(f"{parameter}: give a {' or '.join(allowed)}, not {geom.geom_type}")
    else:
        doc = _geojson(value, parameter)
        _checked_structure(doc, parameter, allowed)
        try:
            geom = shapely.geometry.shape(doc)
        except (ValueError, TypeError, AttributeError, shapely.errors.ShapelyError):
            raise InvalidInput(f"{parameter}: not a valid GeoJSON geometry") from None
    if geom.is_empty:
        raise InvalidInput(f"{parameter}: the geometry is empty")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise InvalidInput(f"{parameter}: more than {MAX_VERTICES:,} vertices")
    if not np.all(np.isfinite(shapely.get_coordinates(geom))):
        raise InvalidInput(f"{parameter}: coordinates must be finite numbers")
    _check_range(geom, crs, parameter)
    if not geom.is_valid:
        reason = explain_validity(geom)
        raise InvalidInput(f"{parameter}: invalid geometry ({reason[:120]})")
    stored = to_storage(geom, crs)
    coords = shapely.get_coordinates(stored)
    if not np.all(np.isfinite(coords)) or not _in_range(stored):
        raise InvalidInput(f"{parameter}: the geometry is outside the area of {crs.label}")
    if stored.geom_type in POLYGONAL and not stored.is_valid:
        raise InvalidInput(f"{parameter}: the polygon is invalid once put in EPSG:4490")
    return stored


def _in_range(geom: BaseGeometry) -> bool:
    minx, miny, maxx, maxy = geom.bounds
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def parse_polygon(value: Any, crs: PointCRS, parameter: str = "geometry") -> BaseGeometry:
    """A checked polygon (or multipolygon) in EPSG:4490 with its area within the limit."""
    geom = parse_geometry(value, crs, parameter, POLYGONAL)
    check_area(geodesic_area_km2(geom), parameter)
    return geom


def parse_bbox(value: Any, crs: PointCRS, parameter: str = "bbox") -> BaseGeometry:
    """A bbox [minx, miny, maxx, maxy] (x/y order, in ``crs``) as an EPSG:4490 polygon."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise InvalidInput(f"{parameter}: give 4 numbers: minx, miny, maxx, maxy")
    numbers = [service.check_number(item, parameter) for item in value]
    minx, miny, maxx, maxy = numbers
    if minx >= maxx or miny >= maxy:
        raise InvalidInput(f"{parameter}: the lower corner must come before the upper corner")
    box = shapely.box(minx, miny, maxx, maxy)
    _check_range(box, crs, parameter)
    if crs.srid not in (4490, 4326):  # keep the box's edges straight in its own CRS
        box = box.segmentize(max(maxx - minx, maxy - miny) / 16)
    stored = to_storage(box, crs)
    if not np.all(np.isfinite(shapely.get_coordinates(stored))) or not _in_range(stored):
        raise InvalidInput(f"{parameter}: the box is outside the area of {crs.label}")
    check_area(geodesic_area_km2(stored), parameter, "the box's area")
    return stored


def check_buffer_extent(geom: BaseGeometry, radius_m: float, parameter: str) -> None:
    """Raise if the box around a geometry grown by ``radius_m`` is over the area limit."""
    check_area(_bbox_area_km2(geom, radius_m), parameter, "the buffer's bounding box")


def check_radius(value: Any, parameter: str = "radius") -> float:
    """A radius in metres from :data:`MIN_RADIUS_M` to :data:`MAX_RADIUS_M`."""
    number = service.check_number(value, parameter)
    if not MIN_RADIUS_M <= number <= MAX_RADIUS_M:
        raise InvalidInput(
            f"{parameter}: give metres from {MIN_RADIUS_M:g} to {MAX_RADIUS_M:g}, not {number:g}"
        )
    return number


def check_limit(value: Any, parameter: str = "limit") -> int:
    """How many features to return, 1 to :data:`MAX_LIMIT`."""
    number = service.check_number(value, parameter)
    if number != int(number) or not 1 <= number <= MAX_LIMIT:
        raise InvalidInput(f"{parameter}: give a whole number from 1 to {MAX_LIMIT}")
    return int(number)


def check_point(x: Any, y: Any, crs: PointCRS) -> tuple[float, float]:
    """A point given in ``crs`` (x/y order) as EPSG:4490 longitude, latitude."""
    return service.check_point(x, y, crs)


def check_industry(conn: Any, value: Any, parameter: str = "industry") -> tuple[str, str]:
    """An industry code of registry.industry: a section letter A-T or a division like 'C13'.

    Returns the code and its name; an unknown code is an InvalidInput.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{parameter}: give an industry code: a section A-T or a division like C13"
        )
    code = value.strip().upper()
    if not _INDUSTRY.match(code):
        raise InvalidInput(
            f"{parameter}: {value.strip()[:20]!r} is not an industry code: give a section "
            "letter A-T or a 2-digit division like C13"
        )
    with conn.cursor() as cur:
        cur.execute("SELECT name FROM registry.industry WHERE code = %s", (code,))
        row = cur.fetchone()
    if row is None:
        raise InvalidInput(f"{parameter}: unknown industry code {code!r} (GB/T 4754-2017)")
    return code, str(row[0])


def degrees_around(lat: float, metres: float) -> float:
    """A distance in degrees that covers ``metres`` both ways at latitude ``lat`` (for a
    bounding-box prefilter before an exact geography test)."""
    cos = max(math.cos(math.radians(min(abs(lat) + 1.0, 89.0))), 0.01)
    return metres / (111_000.0 * cos) * 1.05 + 1e-6
