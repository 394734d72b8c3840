"""``nearby_entities``: the legal entities of one industry within a radius of a point, nearest
first, with their distance in metres on the ellipsoid (PostGIS geography).

Legal entities are public business registrations: the answer names them (entity_id, uscc,
name, industry) but carries nothing else of the register (no address, no money).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from psycopg2 import sql

from spatialsvc.analysis import inputs
from spatialsvc.analysis.features import FeatureSet

PROPERTIES = ("entity_id", "uscc", "name", "industry_code", "industry_name", "distance_m")

_NEARBY = sql.SQL(
    """WITH pt AS MATERIALIZED (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4490) AS g)
SELECT e.entity_id, e.uscc, e.name, e.industry_code, i.name,
       ST_Distance(eg.geom::geography, pt.g::geography) AS distance_m,
       ST_X(eg.geom), ST_Y(eg.geom)
  FROM registry.legal_entity_geocode eg
  JOIN registry.legal_entity e ON e.entity_id = eg.entity_id
  JOIN registry.industry i ON i.code = e.industry_code, pt
 WHERE eg.geom && ST_Expand(pt.g, %(degrees)s)
   AND ST_DWithin(eg.geom::geography, pt.g::geography, %(radius)s)
   AND {industry} = %(industry)s
 ORDER BY distance_m, e.entity_id
 LIMIT %(limit)s"""
)
BY_SECTION = sql.SQL("e.industry_section")
BY_DIVISION = sql.SQL("e.industry_code")


@dataclass
class Nearby(FeatureSet):
    """The entities found, nearest first (a :class:`FeatureSet` of points)."""

    radius_m: float = 0.0
    industry: str = ""
    industry_name: str = ""

    def members(self) -> dict[str, Any]:
        """Foreign members of the FeatureCollection."""
        return {
            "radius_m": self.radius_m,
            "industry": self.industry,
            "industry_name": self.industry_name,
        }


def nearby_entities(
    conn: Any,
    lon: Any,
    lat: Any,
    crs: Any = None,
    radius_m: Any = 1000,
    industry: Any = None,
    limit: Any = 20,
) -> Nearby:
    """The legal entities of ``industry`` within ``radius_m`` metres of a point, nearest first.

    ``lon``/``lat``: x/y in ``crs`` (default EPSG:4490; any published EPSG CRS, CRS84, gcj02,
    bd09). ``industry``: a section letter A-T (every division in it) or a 2-digit division
    such as 'C13'. ``radius_m``: 1 to 5,000. ``limit``: 1 to 1,000 (default 20). Geometries
    come back in ``crs``.
    """
    point_crs = inputs.parse_crs(crs)
    x, y = inputs.check_point(lon, lat, point_crs)
    radius = inputs.check_radius(radius_m, "radius")
    count = inputs.check_limit(limit)
    code, name = inputs.check_industry(conn, industry)
    params = {
        "lon": x,
        "lat": y,
        "radius": radius,
        "degrees": inputs.degrees_around(y, radius),
        "industry": code,
        "limit": count,
    }
    column = BY_SECTION if len(code) == 1 else BY_DIVISION
    with conn.cursor() as cur:
        cur.execute(_NEARBY.format(industry=column), params)
        rows = cur.fetchall()
    points = shapely.points([(r[6], r[7]) for r in rows]) if rows else []
    result = Nearby(crs=point_crs, radius_m=radius, industry=code, industry_name=name)
    for row, point in zip(rows, points, strict=True):
        props = dict(zip(PROPERTIES, row[:6], strict=True))
        props["entity_id"] = int(props["entity_id"])
        props["uscc"] = str(props["uscc"])
        props["distance_m"] = round(float(props["distance_m"]), 2)
        result.add(props["entity_id"], point, props)
    return result
