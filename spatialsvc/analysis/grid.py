"""``density``: counts of residents or legal entities on a hexagon or square grid.

The grid is PostGIS's ``ST_HexagonGrid`` / ``ST_SquareGrid`` laid in EPSG:4549 (CGCS2000 /
3-degree Gauss-Krüger CM 120°E, metres; Haishu is 1.1-1.6° east of the central meridian, so
lengths are off by under 0.03 %), aligned on that CRS's origin so that the same size always
gives the same cells. Only cells meeting the area (a bbox or a polygon) are returned, each with
the count of points inside both the cell and the area. Counts of residents from 1 to 4 are
suppressed (null, and the cell's ``suppressed`` lists ``count``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
from psycopg2 import sql

from spatialsvc.analysis import inputs
from spatialsvc.analysis.features import FeatureSet
from spatialsvc.analysis.suppress import small
from spatialsvc.errors import InvalidInput
from spatialsvc.geocoder_service import check_number

CELLS = ("hex", "square")
OF = ("residents", "entities")
MIN_SIZE_M = 50.0
MAX_SIZE_M = 10_000.0
MAX_CELLS = 10_000

_GRID = {"hex": sql.SQL("ST_HexagonGrid"), "square": sql.SQL("ST_SquareGrid")}
_POINTS = {
    "residents": sql.SQL("registry.person_geocode"),
    "entities": sql.SQL("registry.legal_entity_geocode"),
}
_DENSITY = sql.SQL(
    """WITH area AS MATERIALIZED (
    SELECT ST_GeomFromWKB(%(wkb)s, 4490) AS g,
           ST_Transform(ST_GeomFromWKB(%(wkb)s, 4490), {metric}) AS m),
cells AS MATERIALIZED (
    SELECT c.i, c.j, ST_Transform(c.geom, 4490) AS g
      FROM area, {grid}(%(size)s, area.m) AS c
     WHERE ST_Intersects(c.geom, area.m))
SELECT cells.i, cells.j, ST_AsBinary(cells.g),
       (SELECT count(*) FROM {points} pt
         WHERE ST_Intersects(cells.g, pt.geom) AND ST_Intersects(area.g, pt.geom))
  FROM cells, area
 ORDER BY cells.j DESC, cells.i"""
)


@dataclass
class Density(FeatureSet):
    """Grid cells with their counts (a :class:`FeatureSet` of polygons)."""

    cell: str = "hex"
    size_m: float = 0.0
    of: str = "residents"

    def members(self) -> dict[str, Any]:
        """Foreign members of the FeatureCollection."""
        return {"cell": self.cell, "size_m": self.size_m, "of": self.of}


def cell_area_m2(cell: str, size_m: float) -> float:
    """The area of one cell: a square of side ``size_m`` or a hexagon of edge ``size_m``."""
    return size_m * size_m if cell == "square" else 1.5 * math.sqrt(3) * size_m * size_m


def _choice(value: Any, allowed: tuple[str, ...], parameter: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise InvalidInput(f"{parameter}: use one of {', '.join(allowed)}")
    return value.strip().lower()


def density(
    conn: Any,
    cell: Any = "hex",
    size_m: Any = 500,
    bbox: Any = None,
    polygon: Any = None,
    of: Any = "residents",
    crs: Any = None,
) -> Density:
    """Counts of ``of`` (residents or entities) per cell of a hexagon or square grid.

    Give the area as ``bbox`` ([minx, miny, maxx, maxy], x/y order) or ``polygon`` (GeoJSON),
    in ``crs`` (default EPSG:4490). ``size_m``: the side of a square or the edge of a hexagon,
    50 to 10,000 m; at most :data:`MAX_CELLS` cells. Cells come back in ``crs``.
    """
    kind = _choice(cell, CELLS, "cell")
    what = _choice(of, OF, "of")
    size = check_number(size_m, "size")
    if not MIN_SIZE_M <= size <= MAX_SIZE_M:
        raise InvalidInput(f"size: give metres from {MIN_SIZE_M:g} to {MAX_SIZE_M:g}")
    point_crs = inputs.parse_crs(crs)
    if (bbox is None) == (polygon is None):
        raise InvalidInput("give the area as either bbox or geometry (a polygon), not both")
    if bbox is not None:
        area = inputs.parse_bbox(bbox, point_crs)
    else:
        area = inputs.parse_polygon(polygon, point_crs)
    _check_cells(area, kind, size)
    statement = _DENSITY.format(
        metric=sql.Literal(inputs.METRIC_SRID), grid=_GRID[kind], points=_POINTS[what]
    )
    with conn.cursor() as cur:
        cur.execute(statement, {"wkb": area.wkb, "size": size})
        rows = cur.fetchall()
    result = Density(crs=point_crs, cell=kind, size_m=size, of=what)
    geometries = shapely.from_wkb([bytes(r[2]) for r in rows]) if rows else []
    for (i, j, _wkb, count), geom in zip(rows, geometries, strict=True):
        hidden = what == "residents" and small(int(count))
        props = {
            "i": int(i),
            "j": int(j),
            "count": None if hidden else int(count),
            "suppressed": ["count"] if hidden else [],
        }
        result.add(f"{i},{j}", geom, props)
    return result


def _check_cells(area: Any, kind: str, size: float) -> None:
    minx, miny, maxx, maxy = area.bounds
    box_km2 = inputs.geodesic_area_km2(shapely.box(minx, miny, maxx, maxy))
    estimate = box_km2 * 1e6 / cell_area_m2(kind, size)
    if estimate > MAX_CELLS:
        raise InvalidInput(
            f"size: about {estimate:,.0f} cells of {size:g} m over this area; at most "
            f"{MAX_CELLS:,}: give a larger size or a smaller area"
        )
