"""Reverse geocoding: the standard address nearest a point, with its divisions and grid.

A KNN search on the GiST index of ``base.standard_address`` (``<->`` in degrees) takes the few
nearest candidates; they are then ranked by their true distance on the ellipsoid (geography)
and kept only within the radius. Nothing here knows about the web or about CRSs other than
EPSG:4490: callers convert their coordinates first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Candidates taken from the index before ranking by geodesic distance. Near 30°N a degree of
# longitude is ~0.87 of a degree of latitude, so the degree-nearest few always include the
# metre-nearest one.
KNN_CANDIDATES = 16
MAX_RADIUS_M = 1000.0

_QUERY = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4490) AS g),
near AS (
    SELECT a.*, ST_Distance(a.geom::geography, p.g::geography) AS distance
    FROM base.standard_address AS a, p
    ORDER BY a.geom <-> p.g
    LIMIT %(k)s
)
SELECT n.address_id, n.full_address, n.level, ST_X(n.geom), ST_Y(n.geom), n.distance,
       n.province, n.city, n.road, n.door_number, n.compound, n.building, n.unit, n.floor,
       n.room,
       co.code, co.name, tw.code, tw.name, cm.code, cm.name,
       (SELECT g.code FROM base.grid AS g
         WHERE g.community_code = n.admin_code AND ST_Covers(g.geom, n.geom)
         ORDER BY g.code LIMIT 1)
FROM near AS n
LEFT JOIN base.admin_division AS cm ON cm.code = n.admin_code
LEFT JOIN base.admin_division AS tw ON tw.code = n.township_code
LEFT JOIN base.admin_division AS co ON co.code = left(n.admin_code, 6)
WHERE n.distance <= %(radius)s
ORDER BY n.distance, n.address_id
LIMIT 1
"""

_COMPONENTS = ("province", "city", "road", "door_number", "compound", "building", "unit")
_COMPONENTS_TAIL = ("floor", "room")


@dataclass(frozen=True)
class Division:
    """A division's code and name."""

    code: str | None
    name: str | None


@dataclass
class ReverseResult:
    """The nearest standard address to a point (EPSG:4490 coordinates, metres)."""

    address_id: str
    full_address: str
    level: str
    lon: float
    lat: float
    distance_m: float
    county: Division
    township: Division
    community: Division
    grid_code: str | None
    components: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; flat division codes as in the geocoder's answer, and a hierarchy."""
        return {
            "address_id": self.address_id,
            "full_address": self.full_address,
            "level": self.level,
            "lon": self.lon,
            "lat": self.lat,
            "distance_m": round(self.distance_m, 2),
            "county_code": self.county.code,
            "township_code": self.township.code,
            "community_code": self.community.code,
            "grid_code": self.grid_code,
            "divisions": {
                "county": asdict(self.county),
                "township": asdict(self.township),
                "community": asdict(self.community),
            },
            "components": dict(self.components),
        }


def reverse(conn: Any, lon: float, lat: float, radius_m: float = 50.0) -> ReverseResult | None:
    """The standard address nearest (lon, lat) in EPSG:4490 within ``radius_m``, or None."""
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise ValueError(f"radius must be in (0, {MAX_RADIUS_M:g}] metres")
    params = {"lon": lon, "lat": lat, "k": KNN_CANDIDATES, "radius": radius_m}
    with conn.cursor() as cur:
        cur.execute(_QUERY, params)
        row = cur.fetchone()
    if row is None:
        return None
    names = _COMPONENTS + _COMPONENTS_TAIL
    parts = {k: v for k, v in zip(names, row[6:15], strict=True) if v}
    return ReverseResult(
        address_id=row[0],
        full_address=row[1],
        level=row[2],
        lon=float(row[3]),
        lat=float(row[4]),
        distance_m=float(row[5]),
        county=Division(row[15], row[16]),
        township=Division(row[17], row[18]),
        community=Division(row[19], row[20]),
        grid_code=row[21],
        components=parts,
    )
