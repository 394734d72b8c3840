"""``zonal_stats`` (the indicators inside a polygon) and ``buffer_count`` (counts within a
distance of a point, line or polygon).

Both read the registers directly: registry.person ⨝ registry.person_geocode and
registry.legal_entity ⨝ registry.legal_entity_geocode, rows with a geometry only, in one SQL
statement whose spatial test uses the GiST indexes of the geocode tables. Small counts are
suppressed by :mod:`spatialsvc.analysis.suppress`; no name, ID number, phone or address leaves
this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from psycopg2 import sql
from shapely.geometry.base import BaseGeometry

from spatialsvc.analysis import inputs
from spatialsvc.analysis.suppress import suppress_counts, suppress_sums

SECTIONS = tuple("ABCDEFGHIJKLMNOPQRST")
RESIDENT_FIELDS = ("total", "male", "female", "age_0_14", "age_15_59", "age_60_plus", "households")
RESIDENT_GROUPS = (
    ("total", ("male", "female")),
    ("total", ("age_0_14", "age_15_59", "age_60_plus")),
)
MONEY_FIELDS = ("registered_capital", "employees", "revenue", "tax")

# The area: a polygon (zonal) or a geometry grown by a radius (buffer). The WHERE clause of
# each is a fixed SQL text; the geometry and numbers are bound parameters.
_AREA = sql.SQL(
    "area AS MATERIALIZED (SELECT ST_GeomFromWKB(%(wkb)s, 4490) AS g,"
    " ST_GeomFromWKB(%(wkb)s, 4490)::geography AS geog)"
)
INSIDE = sql.SQL("ST_Intersects(area.g, {geom})")
WITHIN = sql.SQL(
    "{geom} && ST_Expand(area.g, %(degrees)s)"
    " AND ST_DWithin({geom}::geography, area.geog, %(radius)s)"
)

_PERSONS = sql.SQL(
    """SELECT count(*) AS total,
       count(*) FILTER (WHERE p.sex = '男') AS male,
       count(*) FILTER (WHERE p.sex = '女') AS female,
       count(*) FILTER (WHERE p.birth_date > (%(as_of)s::date - interval '15 years')) AS age_0_14,
       count(*) FILTER (WHERE p.birth_date <= (%(as_of)s::date - interval '15 years')
                          AND p.birth_date > (%(as_of)s::date - interval '60 years')) AS age_15_59,
       count(*) FILTER (WHERE p.birth_date <= (%(as_of)s::date - interval '60 years'))
           AS age_60_plus,
       count(DISTINCT p.household_id) AS households
  FROM registry.person_geocode pg
  JOIN registry.person p ON p.person_id = pg.person_id, area
 WHERE {where}"""
)
_ENTITIES = sql.SQL(
    """SELECT e.industry_section AS section, count(*) AS entities,
       sum(e.registered_capital) AS registered_capital, sum(e.employees) AS employees,
       sum(e.revenue) AS revenue, sum(e.tax) AS tax
  FROM registry.legal_entity_geocode eg
  JOIN registry.legal_entity e ON e.entity_id = eg.entity_id, area
 WHERE {where}
 GROUP BY e.industry_section"""
)
_SECTIONS_SQL = "SELECT code, name FROM registry.industry WHERE code = section ORDER BY code"


def _statement(where: sql.SQL) -> sql.Composed:
    persons = _PERSONS.format(where=where.format(geom=sql.SQL("pg.geom")))
    entities = _ENTITIES.format(where=where.format(geom=sql.SQL("eg.geom")))
    return sql.SQL(
        "WITH {area}, persons AS ({persons}), entities AS ({entities})"
        " SELECT persons.*, (SELECT coalesce(json_agg(ent), '[]')::text FROM entities AS ent)"
        " FROM persons"
    ).format(area=_AREA, persons=persons, entities=entities)


@dataclass
class ZonalStats:
    """The indicators of residents and legal entities inside a polygon.

    ``residents``: total, male, female, age_0_14, age_15_59, age_60_plus, households.
    ``entities``: total, by_section (section, name, entities), registered_capital (万元),
    employees, revenue (万元), tax (万元). Suppressed values are None and named in
    ``suppressed`` (e.g. 'residents.male').
    """

    crs: str
    area_km2: float
    as_of: str
    residents: dict[str, int | None]
    entities: dict[str, Any]
    suppressed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class BufferCount:
    """Residents, households and legal entities within ``radius_m`` of a geometry."""

    crs: str
    radius_m: float
    residents: int | None
    households: int | None
    entities: int
    suppressed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _raw(
    cur: Any, where: sql.SQL, params: dict[str, Any]
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    cur.execute(_statement(where), params)
    row = cur.fetchone()
    persons = dict(zip(RESIDENT_FIELDS, (int(v) for v in row[:-1]), strict=True))
    return persons, json.loads(row[-1])


def _sections(cur: Any) -> list[tuple[str, str]]:
    cur.execute(_SECTIONS_SQL)
    return [(str(a), str(b)) for a, b in cur.fetchall()]


def _money(value: Any) -> float:
    return round(float(value or 0), 2)


def _entities(
    rows: list[dict[str, Any]], names: list[tuple[str, str]]
) -> tuple[dict[str, Any], list[str]]:
    counts = {str(r["section"]): int(r["entities"]) for r in rows}
    total = sum(counts.values())
    sums: dict[str, float | int] = {
        "registered_capital": _money(sum(float(r["registered_capital"] or 0) for r in rows)),
        "employees": sum(int(r["employees"] or 0) for r in rows),
        "revenue": _money(sum(float(r["revenue"] or 0) for r in rows)),
        "tax": _money(sum(float(r["tax"] or 0) for r in rows)),
    }
    shown, hidden = suppress_sums(sums, total, "entities.")
    by_section = [
        {"section": code, "name": name, "entities": counts.get(code, 0)} for code, name in names
    ]
    return {"total": total, "by_section": by_section, **shown}, hidden


def zonal_stats(conn: Any, polygon: Any, crs: Any = None, as_of: date | None = None) -> ZonalStats:
    """The indicators of residents and legal entities inside ``polygon``.

    ``polygon``: a GeoJSON Polygon / MultiPolygon (dict, Feature or JSON text) or a shapely
    polygon, longitude / easting first, in ``crs`` (default EPSG:4490; any published EPSG CRS,
    CRS84, gcj02 or bd09). Ages are counted on ``as_of`` (default today). Raises InvalidInput
    for a bad polygon or CRS.
    """
    point_crs = inputs.parse_crs(crs)
    geom = inputs.parse_polygon(polygon, point_crs)
    return zonal_stats_of(conn, geom, point_crs.label, as_of)


def zonal_stats_of(
    conn: Any, geom: BaseGeometry, label: str, as_of: date | None = None
) -> ZonalStats:
    """:func:`zonal_stats` on a checked EPSG:4490 polygon."""
    day = as_of or date.today()
    params = {"wkb": geom.wkb, "as_of": day}
    with conn.cursor() as cur:
        persons, entity_rows = _raw(cur, INSIDE, params)
        names = _sections(cur)
    residents, hidden = suppress_counts(persons, RESIDENT_GROUPS, "residents.")
    entities, hidden_money = _entities(entity_rows, names)
    return ZonalStats(
        crs=label,
        area_km2=round(inputs.geodesic_area_km2(geom), 6),
        as_of=day.isoformat(),
        residents=residents,
        entities=entities,
        suppressed=hidden + hidden_money,
    )


def buffer_count(conn: Any, geometry: Any, crs: Any = None, radius_m: Any = 500) -> BufferCount:
    """Residents, households and legal entities within ``radius_m`` metres of ``geometry``.

    ``geometry``: a GeoJSON Point, LineString, Polygon or their Multi forms (or shapely), in
    ``crs``, longitude / easting first. Distances are on the ellipsoid (PostGIS geography);
    a point inside a polygon is at distance 0. ``radius_m``: 1 to 5,000.
    """
    point_crs = inputs.parse_crs(crs)
    radius = inputs.check_radius(radius_m, "radius")
    geom = inputs.parse_geometry(geometry, point_crs, "geometry", inputs.ANY_GEOMETRY)
    inputs.check_buffer_extent(geom, radius, "geometry")
    lat = max(abs(geom.bounds[1]), abs(geom.bounds[3]))
    params = {
        "wkb": geom.wkb,
        "as_of": date.today(),
        "radius": radius,
        "degrees": inputs.degrees_around(lat, radius),
    }
    with conn.cursor() as cur:
        persons, entity_rows = _raw(cur, WITHIN, params)
    counts, hidden = suppress_counts(
        {"residents": persons["total"], "households": persons["households"]}
    )
    return BufferCount(
        crs=point_crs.label,
        radius_m=radius,
        residents=counts["residents"],
        households=counts["households"],
        entities=sum(int(r["entities"]) for r in entity_rows),
        suppressed=hidden,
    )
