"""The tile matrix sets we publish: WebMercatorQuad and a CGCS2000 geographic quad.

Both come from morecantile. ``CGCS2000Quad`` is built like OGC's ``WorldCRS84Quad`` (two
256-pixel tiles at zoom 0, the whole globe in longitude and latitude) on EPSG:4490, whose
EPSG axis order is latitude first: the definition says so, and tile bounds handed to SQL are
always (west, south, east, north) in lon/lat, the order PostGIS stores 4490 in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import morecantile
import pyproj

from spatialsvc.errors import InvalidInput, NotFound

WEB_MERCATOR_QUAD = "WebMercatorQuad"
CGCS2000_QUAD = "CGCS2000Quad"
CGCS2000_QUAD_URI = "https://spatialsvc.invalid/def/tilematrixset/CGCS2000Quad"
WEB_MERCATOR_QUAD_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MAX_ZOOM = 22


@dataclass(frozen=True)
class MatrixSet:
    """One published tile matrix set and the integer SRID its tiles are rendered in."""

    id: str
    uri: str
    srid: int
    tms: morecantile.TileMatrixSet

    @property
    def ordered_axes(self) -> list[str]:
        """Axis abbreviations in the CRS's own (EPSG) order."""
        return ["Lat", "Lon"] if self.srid == 4490 else ["E", "N"]

    @property
    def crs_uri(self) -> str:
        """The OGC URI of the matrix set's CRS."""
        return f"http://www.opengis.net/def/crs/EPSG/0/{self.srid}"


@dataclass(frozen=True)
class TileAddress:
    """A valid tile: matrix set, zoom (tileMatrix), row and column."""

    matrix_set: MatrixSet
    z: int
    row: int
    col: int

    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in the matrix set's CRS, x = easting or longitude."""
        b = self.matrix_set.tms.xy_bounds(morecantile.Tile(self.col, self.row, self.z))
        return (b.left, b.bottom, b.right, b.top)


@cache
def matrix_sets() -> dict[str, MatrixSet]:
    """The published tile matrix sets by id (built once)."""
    cgcs = morecantile.TileMatrixSet.custom(
        [-180.0, -90.0, 180.0, 90.0],
        pyproj.CRS.from_epsg(4490),
        matrix_scale=[2, 1],
        minzoom=0,
        maxzoom=MAX_ZOOM,
        id=CGCS2000_QUAD,
        title="CGCS2000 geographic quad (EPSG:4490, like WorldCRS84Quad)",
    )
    return {
        WEB_MERCATOR_QUAD: MatrixSet(
            WEB_MERCATOR_QUAD, WEB_MERCATOR_QUAD_URI, 3857, morecantile.tms.get(WEB_MERCATOR_QUAD)
        ),
        CGCS2000_QUAD: MatrixSet(CGCS2000_QUAD, CGCS2000_QUAD_URI, 4490, cgcs),
    }


def get_matrix_set(matrix_set_id: str) -> MatrixSet:
    """A matrix set by id; an unknown id is :class:`NotFound`."""
    try:
        return matrix_sets()[matrix_set_id]
    except KeyError:
        raise NotFound(f"tile matrix set {matrix_set_id!r} is not offered") from None


def _integer(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        raise InvalidInput(f"{name} must be a non-negative integer")
    return int(text)


def tile_address(matrix_set_id: str, z: str, row: str, col: str) -> TileAddress:
    """Check a tile's path parameters: 400 when not integers, 404 when outside the matrix."""
    matrix_set = get_matrix_set(matrix_set_id)
    zi, ri, ci = _integer("tileMatrix", z), _integer("tileRow", row), _integer("tileCol", col)
    if zi > MAX_ZOOM:
        raise NotFound(f"tileMatrix {zi} is not in {matrix_set.id} (0-{MAX_ZOOM})")
    matrix = matrix_set.tms.matrix(zi)
    if ri >= matrix.matrixHeight or ci >= matrix.matrixWidth:
        raise NotFound(f"tile {zi}/{ri}/{ci} is outside {matrix_set.id}")
    return TileAddress(matrix_set, zi, ri, ci)
