"""The raw aggregates, straight from the registers and their geocodes, in SQL.

A person counts where its household address was geocoded, a legal entity where its registered
address was, unless the record waits in ``registry.geocode_review`` (scored below the run's
minimum, or not matched): one scan of each register groups by grid, community and township at
once (``GROUPING SETS``).  Every unit of a level is returned, with zeros where nothing was
counted, so that the sums between levels hold.  These frames hold the unsuppressed counts:
they never leave :mod:`spatialsvc.thematic.refresh`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from psycopg2 import sql

from spatialsvc.thematic.themes import LEGAL_ENTITY, LEVELS, POPULATION, SECTIONS, Theme

# A unit's code column in the geocode tables, per level.
CODE_COLUMNS = {"grid": "grid_code", "community": "community_code", "township": "township_code"}

UNITS = {
    "grid": """
        SELECT g.code, g.name, g.community_code AS parent, c.parent_code AS township_code,
               ST_Area(g.geom::geography) / 1e6 AS area_km2
        FROM base.grid g JOIN base.admin_division c ON c.code = g.community_code
        ORDER BY g.code""",
    "community": """
        SELECT code, name, parent_code AS parent, parent_code AS township_code,
               ST_Area(geom::geography) / 1e6 AS area_km2
        FROM base.admin_division WHERE level = 'community' ORDER BY code""",
    "township": """
        SELECT code, name, NULL::text AS parent, code AS township_code,
               ST_Area(geom::geography) / 1e6 AS area_km2
        FROM base.admin_division WHERE level = 'township' ORDER BY code""",
}

PERSONS = """
WITH counted AS (
    SELECT g.grid_code, g.community_code, g.township_code, p.sex, p.household_id,
           date_part('year', age(%(as_of)s::date, p.birth_date))::int AS age
    FROM registry.person p
    JOIN registry.person_geocode g ON g.person_id = p.person_id
    WHERE g.match_level IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM registry.geocode_review r WHERE r.person_id = p.person_id)
)
SELECT grid_code, community_code, township_code,
       count(*) AS pop_total,
       count(*) FILTER (WHERE sex = '男') AS pop_male,
       count(*) FILTER (WHERE sex = '女') AS pop_female,
       count(*) FILTER (WHERE age < 15) AS age_0_14,
       count(*) FILTER (WHERE age BETWEEN 15 AND 59) AS age_15_59,
       count(*) FILTER (WHERE age >= 60) AS age_60_plus,
       count(DISTINCT household_id) AS households
FROM counted
GROUP BY GROUPING SETS ((grid_code), (community_code), (township_code))
"""

ENTITIES = """
WITH counted AS (
    SELECT g.grid_code, g.community_code, g.township_code, e.industry_section,
           e.registered_capital, e.employees, e.revenue, e.tax
    FROM registry.legal_entity e
    JOIN registry.legal_entity_geocode g ON g.entity_id = e.entity_id
    WHERE g.match_level IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM registry.geocode_review r WHERE r.entity_id = e.entity_id)
)
SELECT grid_code, community_code, township_code,
       count(*) AS entities,
       {sections},
       sum(registered_capital) AS registered_capital,
       max(registered_capital) AS registered_capital_max,
       sum(employees) AS employees, max(employees) AS employees_max,
       sum(revenue) AS revenue, max(revenue) AS revenue_max,
       sum(tax) AS tax, max(tax) AS tax_max
FROM counted
GROUP BY GROUPING SETS ((grid_code), (community_code), (township_code))
"""


def _entities_sql() -> sql.Composed:
    sections = sql.SQL(",\n       ").join(
        sql.SQL("count(*) FILTER (WHERE industry_section = {}) AS {}").format(
            sql.Literal(s), sql.Identifier(f"entities_{s.lower()}")
        )
        for s in SECTIONS
    )
    return sql.SQL(ENTITIES).format(sections=sections)


def units(cur: Any) -> dict[str, pd.DataFrame]:
    """Every grid, community and township: name, parent, township and area, by code."""
    out = {}
    for level in LEVELS:
        cur.execute(UNITS[level])
        names = [d[0] for d in cur.description]
        out[level] = pd.DataFrame(cur.fetchall(), columns=names).set_index("code")
    return out


def _split(frame: pd.DataFrame, theme: Theme, all_units: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """One GROUPING SETS answer → a frame per level over every unit (zeros where none)."""
    wanted = [*theme.cells, *(f"{a}_max" for a in theme.amounts)]
    out = {}
    for level in LEVELS:
        key = CODE_COLUMNS[level]
        others = [CODE_COLUMNS[x] for x in LEVELS if x != level]
        part = frame[frame[key].notna() & frame[others].isna().all(axis=1)]
        part = part.set_index(key)[wanted].astype(float)
        out[level] = part.reindex(all_units[level].index, fill_value=0.0).fillna(0.0)
    return out


def raw_aggregates(
    cur: Any, as_of: date, all_units: dict[str, pd.DataFrame]
) -> dict[str, dict[str, pd.DataFrame]]:
    """The unsuppressed aggregates: theme → level → frame indexed by unit code."""
    out = {}
    for theme, query in ((POPULATION, sql.SQL(PERSONS)), (LEGAL_ENTITY, _entities_sql())):
        cur.execute(query, {"as_of": as_of})
        names = [d[0] for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
        out[theme.name] = _split(frame, theme, all_units)
    return out
