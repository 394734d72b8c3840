"""Recompute the thematic tables: ``spatialsvc stats refresh``, and after every geocoding run
and ingest.

One transaction: the geocoded registers are copied into ``thematic.resident`` and
``thematic.legal_entity``; the raw counts are computed in SQL, suppressed in Python
(:mod:`spatialsvc.thematic.suppress`), and only the suppressed values are written to
``thematic.stats_<level>``; the macro indicators are joined to their townships; the legends of
the layers' thematic styles are computed.  Readers see the previous version until it commits;
two refreshes never run at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
from psycopg2 import sql

from spatialsvc.layers import Layer
from spatialsvc.settings import Settings
from spatialsvc.thematic.compute import raw_aggregates, units
from spatialsvc.thematic.legend import legend_for_style
from spatialsvc.thematic.suppress import suppress
from spatialsvc.thematic.themes import LEVELS, POPULATION, THEMES, stats_table

Echo = Callable[[str], None]
LOCK_KEY = 7_202_613  # advisory lock: one refresh at a time
APPLICATION_NAME = "spatialsvc-stats"
SCHEMA = "thematic"

# Where each level's geometry comes from.
GEOMETRY = {
    "grid": ("base", "grid"),
    "community": ("base", "admin_division"),
    "township": ("base", "admin_division"),
}

RESIDENT = """
INSERT INTO thematic.resident
    (person_id, name, id_number, sex, birth_date, age, phone, household_id, household_address,
     grid_code, community_code, township_code, match_level, geom)
SELECT p.person_id, p.name, p.id_number, p.sex, p.birth_date,
       date_part('year', age(%(as_of)s::date, p.birth_date))::int, p.phone, p.household_id,
       p.household_address, g.grid_code, g.community_code, g.township_code, g.match_level, g.geom
FROM registry.person p JOIN registry.person_geocode g ON g.person_id = p.person_id
WHERE g.geom IS NOT NULL
"""

LEGAL_ENTITY = """
INSERT INTO thematic.legal_entity
    (entity_id, uscc, name, industry_code, industry_section, industry_name, registered_capital,
     employees, revenue, tax, founding_date, grid_code, community_code, township_code, geom)
SELECT e.entity_id, e.uscc, e.name, e.industry_code, e.industry_section, i.name,
       e.registered_capital, e.employees, e.revenue, e.tax, e.founding_date,
       g.grid_code, g.community_code, g.township_code, g.geom
FROM registry.legal_entity e
JOIN registry.legal_entity_geocode g ON g.entity_id = e.entity_id
LEFT JOIN registry.industry i ON i.code = e.industry_code
WHERE g.geom IS NOT NULL
"""

MACRO = """
INSERT INTO thematic.macro_township
    (id, township_code, name, year, gdp, industrial_output, retail_sales, fixed_investment,
     fiscal_revenue, resident_population, gdp_per_capita, geom)
SELECT m.township_code || '-' || m.year, m.township_code, d.name, m.year, m.gdp,
       m.industrial_output, m.retail_sales, m.fixed_investment, m.fiscal_revenue,
       m.resident_population,
       round(m.gdp * 1e8 / nullif(m.resident_population, 0), 2),
       d.geom
FROM registry.macro_indicator m JOIN base.admin_division d ON d.code = m.township_code
"""


@dataclass
class RefreshReport:
    """What a refresh wrote, and how much it hid."""

    as_of: date
    trigger: str
    persons: int = 0
    entities: int = 0
    tables: dict[str, dict[str, int]] = field(default_factory=dict)  # rows, cells, suppressed
    legends: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """A short report for people."""
        out = [
            f"thematic layers as of {self.as_of.isoformat()} ({self.trigger}): "
            f"{self.persons:,} persons and {self.entities:,} legal entities counted, "
            f"in {self.seconds:.1f} s",
        ]
        for table, t in self.tables.items():
            line = f"  {SCHEMA}.{table:<16} {t['rows']:>8,} rows"
            if t.get("cells"):
                share = 100.0 * t["suppressed"] / t["cells"]
                line += (
                    f"  {t['suppressed']:>7,} of {t['cells']:>7,} cells suppressed ({share:4.1f}%)"
                )
            out.append(line)
        out.append(f"  legends: {self.legends}")
        return out

    def as_json(self) -> dict[str, Any]:
        """The report as stored in ``thematic.refresh.report``."""
        return {"tables": self.tables, "legends": self.legends}


def _columns(cur: Any, table: str) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (SCHEMA, table),
    )
    return [r[0] for r in cur.fetchall()]


def published_frame(
    raw: Mapping[str, pd.DataFrame],
    hidden: Mapping[str, pd.DataFrame],
    unit: pd.DataFrame,
    as_of: date,
) -> pd.DataFrame:
    """One level's rows as published: every theme's cells with the hidden ones None, the
    population density, and the list of suppressed columns.

    ``raw`` and ``hidden`` are by theme name, for this level.
    """
    out = pd.DataFrame(index=unit.index)
    out["code"] = unit.index
    out["name"] = unit["name"]
    out["community_code"] = unit["parent"]
    out["township_code"] = unit["township_code"]
    out["as_of"] = as_of.isoformat()
    out["area_km2"] = unit["area_km2"].astype(float).round(4)
    names: pd.Series = pd.Series([[] for _ in range(len(unit))], index=unit.index, dtype=object)
    for theme_name, theme in THEMES.items():
        values, flags = raw[theme_name], hidden[theme_name]
        for column in theme.cells:
            out[column] = values[column].astype(object).where(~flags[column], None)
            names = names + flags[column].map(lambda h, c=column: [c] if h else [])
    area = unit["area_km2"].astype(float)
    density = (raw[POPULATION.name][POPULATION.total] / area.where(area > 0)).round(1)
    total_hidden = hidden[POPULATION.name][POPULATION.total]
    out["pop_density"] = density.astype(object).where(~total_hidden, None)
    names = names + total_hidden.map(lambda h: ["pop_density"] if h else [])
    out["suppressed"] = names.map(",".join)
    return out


def _json_value(value: Any) -> Any:
    """A cell as JSON: NaN and None as null, whole numbers as integers (integer columns)."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if value != value:
            return None
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_stats(cur: Any, table: str, frame: pd.DataFrame, level: str) -> None:
    """Replace ``thematic.<table>`` with ``frame`` (geometry joined from the base library)."""
    columns = [c for c in _columns(cur, table) if c != "geom"]
    rows = frame[[c for c in columns if c in frame.columns]]
    records = json.dumps(
        [{k: _json_value(v) for k, v in r.items()} for r in rows.to_dict("records")]
    )
    target = sql.Identifier(SCHEMA, table)
    listed = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    picked = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in columns)
    cur.execute(sql.SQL("DELETE FROM {}").format(target))
    cur.execute(
        sql.SQL(
            "INSERT INTO {target} ({listed}, geom) SELECT {picked}, ST_Multi(g.geom)"
            " FROM jsonb_populate_recordset(NULL::{target}, %s::jsonb) r"
            " JOIN {source} g ON g.code = r.code"
        ).format(
            target=target, listed=listed, picked=picked, source=sql.Identifier(*GEOMETRY[level])
        ),
        (records,),
    )


def _refresh_stats(cur: Any, as_of: date, report: RefreshReport, echo: Echo) -> None:
    all_units = units(cur)
    raw = raw_aggregates(cur, as_of, all_units)
    report.persons = int(raw["population"]["township"][POPULATION.total].sum())
    report.entities = int(raw["legal_entity"]["township"]["entities"].sum())
    parents = {level: all_units[level]["parent"] for level in LEVELS[:-1]}
    hidden = {}
    for name, theme in THEMES.items():
        echo(f"suppressing small counts of {name} ...")
        hidden[name] = suppress(raw[name], parents, theme)
    for level in LEVELS:
        by_theme = {name: raw[name][level] for name in THEMES}
        flags = {name: hidden[name][level] for name in THEMES}
        frame = published_frame(by_theme, flags, all_units[level], as_of)
        table = stats_table(level)
        _write_stats(cur, table, frame, level)
        report.tables[table] = {
            "rows": len(frame),
            "cells": int(sum(f.size for f in flags.values())),
            "suppressed": int(sum(f.to_numpy().sum() for f in flags.values())),
        }


def _replace(cur: Any, table: str, insert: str, as_of: date, report: RefreshReport) -> None:
    cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(SCHEMA, table)))
    cur.execute(insert, {"as_of": as_of})
    report.tables[table] = {"rows": cur.rowcount, "cells": 0, "suppressed": 0}


def refresh_in_transaction(
    cur: Any,
    layers: Mapping[str, Layer],
    trigger: str = "manual",
    as_of: date | None = None,
    echo: Echo | None = None,
) -> RefreshReport:
    """Recompute every thematic table and its legends with ``cur`` (the caller commits)."""
    started = time.perf_counter()
    say: Echo = echo or (lambda _m: None)
    as_of = as_of or date.today()
    report = RefreshReport(as_of=as_of, trigger=trigger)
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    say("copying the geocoded registers ...")
    _replace(cur, "resident", RESIDENT, as_of, report)
    _replace(cur, "legal_entity", LEGAL_ENTITY, as_of, report)
    say("counting by grid, community and township ...")
    _refresh_stats(cur, as_of, report, say)
    _replace(cur, "macro_township", MACRO, as_of, report)
    say("computing the legends ...")
    for layer in layers.values():
        if layer.schema_name == SCHEMA:
            for style in layer.thematic:
                legend_for_style(cur, layer, style, refresh=True)
                report.legends += 1
    report.seconds = time.perf_counter() - started
    cur.execute(
        "INSERT INTO thematic.refresh (as_of, trigger, persons, entities, report, seconds)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            as_of,
            trigger,
            report.persons,
            report.entities,
            json.dumps(report.as_json()),
            report.seconds,
        ),
    )
    return report


def refresh_thematic(
    settings: Settings,
    trigger: str = "manual",
    as_of: date | None = None,
    layers: Mapping[str, Layer] | None = None,
    echo: Echo | None = None,
) -> RefreshReport:
    """Recompute the thematic tables in one transaction on a connection of its own."""
    from spatialsvc.db.connect import connect, database_failure
    from spatialsvc.layers import load_layers

    layers = layers if layers is not None else load_layers(settings.layers_dir)
    conn = connect(settings, APPLICATION_NAME)
    try:
        with conn, conn.cursor() as cur:
            return refresh_in_transaction(cur, layers, trigger, as_of, echo)
    except psycopg2.Error as exc:
        raise database_failure(exc, "recomputing the thematic layers") from exc
    finally:
        conn.close()


def refresh_after(settings: Settings, trigger: str, echo: Echo) -> RefreshReport | None:
    """Refresh after the registers' geocodes or the base library changed; a failure warns."""
    from spatialsvc.errors import SpatialsvcError

    try:
        report = refresh_thematic(settings, trigger)
    except SpatialsvcError as exc:
        echo(
            f"warning: the thematic layers were not recomputed ({exc.message}); "
            "run `spatialsvc stats refresh`"
        )
        return None
    echo(report.lines()[0])
    return report
