"""The analysts' notebooks (notebooks/): stored without outputs, and each run top to bottom in a
kernel against the live service (access control on, a department's key), its printed summary
checked against direct SQL on the same database, its maps free of any CDN."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
from psycopg2 import sql

from spatialsvc.client import external_urls
from tests.notebooks.conftest import NOTEBOOKS, Executed

DENSITY = "01_population_density_by_grid.ipynb"
NEARBY = "02_legal_entities_nearby.ipynb"
PARK = "03_industrial_park_indicators.ipynb"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
CJK = re.compile(r"[\u4e00-\u9fff]")

# What the thematic refresh and the processes count: geocoded, and not waiting for review.
COUNTED_PERSONS = """
    SELECT g.grid_code, count(*) AS n
      FROM registry.person p JOIN registry.person_geocode g ON g.person_id = p.person_id
     WHERE g.match_level IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM registry.geocode_review r WHERE r.person_id = p.person_id)
     GROUP BY g.grid_code"""
COUNTED_ENTITIES = """
    SELECT e.industry_section AS section, count(*) AS n
      FROM registry.legal_entity e JOIN registry.legal_entity_geocode g ON g.entity_id = e.entity_id
     WHERE g.match_level IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM registry.geocode_review r WHERE r.entity_id = e.entity_id)
     GROUP BY e.industry_section"""


def one(conn: Any, query: str | sql.Composable, params: Any = None) -> Any:
    with conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    return row[0] if row and len(row) == 1 else row


def rows(conn: Any, query: str | sql.Composable, params: Any = None) -> list[Any]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


# -- as stored ---------------------------------------------------------------------------------


def test_the_three_stories_are_there() -> None:
    assert {DENSITY, NEARBY, PARK} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_stored_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{name}: clear the outputs before saving (code cells {dirty})"
    assert "widgets" not in notebook.metadata
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", ALL)
def test_written_for_both_readers(name: str) -> None:
    """Parameters first, Chinese and English prose, the URL and key from the environment."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell: parameters"
    prose = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert CJK.search(prose) and re.search(r"\b(the|and|of)\b", prose)
    source = "\n".join(c.source for c in code)
    assert "connect()" in source
    assert "ssk_" not in source and "127.0.0.1" not in source and "localhost" not in source


# -- run against the service ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_runs_offline_with_maps_and_plots(
    run_notebook: Callable[[str], Executed], name: str
) -> None:
    done = run_notebook(name)
    outputs = list(done.outputs())
    assert not [o for o in outputs if o.get("output_type") == "error"]
    pages = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    maps = [p for p in pages if "leaflet.js" in html.unescape(p)]
    assert maps, f"{name} drew no map"
    for page in pages:
        shown = html.unescape(page)
        assert external_urls(shown) == [], f"{name}: an output loads from another machine"
        assert "cdn" not in shown.lower()
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} drew no plot"


def test_population_density_by_grid(run_notebook: Callable[[str], Executed], conn: Any) -> None:
    s = run_notebook(DENSITY).summary
    assert s["grids"] == one(conn, "SELECT count(*) FROM thematic.stats_grid")
    assert s["grids_suppressed"] == one(
        conn, "SELECT count(*) FROM thematic.stats_grid WHERE pop_total IS NULL"
    )
    # the population the notebook shows is the register's, counted in the grids not suppressed
    shown = one(
        conn,
        f"SELECT coalesce(sum(c.n), 0) FROM ({COUNTED_PERSONS}) c"
        " JOIN thematic.stats_grid s ON s.code = c.grid_code WHERE s.pop_total IS NOT NULL",
    )
    assert s["pop_total_shown"] == shown > 0
    code, density = one(
        conn,
        "SELECT code, pop_total / (ST_Area(ST_Transform(geom, 4549)) / 1e6) AS d"
        " FROM thematic.stats_grid WHERE pop_total IS NOT NULL ORDER BY d DESC, code LIMIT 1",
    )
    assert s["densest_grid"] == code
    assert s["densest_density"] == pytest.approx(density, rel=1e-3)
    assert 1 <= s["legend_classes"] <= 5

    # the hexagons: the same cells as PostGIS lays, and every resident in the box counted once
    minx, miny, maxx, maxy = s["hex_bbox"]
    box = "ST_Transform(ST_MakeEnvelope(%(a)s, %(b)s, %(c)s, %(d)s, 4490), 4549)"
    params = {"a": minx, "b": miny, "c": maxx, "d": maxy, "size": s["hex_size_m"]}
    cells = one(
        conn,
        f"SELECT count(*) FROM ST_HexagonGrid(%(size)s, {box}) h"
        f" WHERE ST_Intersects(h.geom, {box})",
        params,
    )
    assert s["hex_cells"] == cells
    inside = one(
        conn,
        "SELECT count(*) FROM registry.person_geocode"
        " WHERE ST_Intersects(geom, ST_MakeEnvelope(%(a)s, %(b)s, %(c)s, %(d)s, 4490))",
        params,
    )
    hidden = s["hex_suppressed"]
    assert s["hex_residents_shown"] + hidden <= inside <= s["hex_residents_shown"] + 4 * hidden


def test_legal_entities_nearby(run_notebook: Callable[[str], Executed], conn: Any) -> None:
    s = run_notebook(NEARBY).summary
    counted = dict(rows(conn, COUNTED_ENTITIES))
    for section in SECTIONS:
        column = sql.Identifier(f"entities_{section.lower()}")
        total, hidden = one(
            conn,
            sql.SQL(
                "SELECT coalesce(sum({c}), 0), count(*) FILTER (WHERE {c} IS NULL)"
                " FROM thematic.stats_township"
            ).format(c=column),
        )
        assert s["entities_by_section"][section] == total, section
        if hidden == 0:  # nothing suppressed: the register's own count
            assert total == counted.get(section, 0), section
    assert s["section_firms"] == one(
        conn,
        "SELECT count(*) FROM thematic.legal_entity WHERE industry_section = %s",
        (s["section"],),
    )

    # the firm picked is a real one of the section, where the register put it
    code, section, lon, lat = one(
        conn,
        "SELECT e.industry_code, e.industry_section, ST_X(g.geom), ST_Y(g.geom)"
        " FROM registry.legal_entity e JOIN registry.legal_entity_geocode g USING (entity_id)"
        " WHERE e.entity_id = %s",
        (s["entity_id"],),
    )
    assert (code, section) == (s["industry"], s["section"])
    assert (s["lon"], s["lat"]) == (pytest.approx(lon, abs=1e-6), pytest.approx(lat, abs=1e-6))

    # the firms nearby: the same industry within the radius on the ellipsoid, nearest first
    expected = [
        r[0]
        for r in rows(
            conn,
            "WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4490)::geography AS g)"
            " SELECT e.entity_id FROM registry.legal_entity e"
            " JOIN registry.legal_entity_geocode lg USING (entity_id), pt"
            " WHERE e.industry_code = %(code)s AND ST_DWithin(lg.geom::geography, pt.g, %(r)s)"
            " ORDER BY ST_Distance(lg.geom::geography, pt.g), e.entity_id LIMIT %(limit)s",
            {"x": s["lon"], "y": s["lat"], "code": code, "r": s["radius_m"], "limit": s["limit"]},
        )
    ]
    assert s["nearby_ids"] == expected
    assert s["entity_id"] in expected
    # the notebook's own count in Gauss-Krüger metres agrees (scale error under 0.03 %)
    if len(expected) < s["limit"]:
        assert abs(s["local_count"] - len(expected)) <= 1


def test_industrial_park_indicators(run_notebook: Callable[[str], Executed], conn: Any) -> None:
    s = run_notebook(PARK).summary
    park = json.dumps(s["park"])
    assert s["crs"] == "EPSG:4490"
    polygon = "ST_SetSRID(ST_GeomFromGeoJSON(%(park)s), 4490)"
    area = one(conn, f"SELECT ST_Area({polygon}::geography) / 1e6", {"park": park})
    assert s["area_km2"] == pytest.approx(area, rel=1e-3)

    persons, households = one(
        conn,
        "SELECT count(*), count(DISTINCT p.household_id) FROM registry.person_geocode g"
        f" JOIN registry.person p USING (person_id) WHERE ST_Intersects({polygon}, g.geom)",
        {"park": park},
    )
    assert persons >= 5, "the park should hold residents in the test demo"
    assert s["residents"]["total"] in (persons, None)
    assert s["residents"]["households"] in (households, None)
    if s["residents"]["total"] is None:
        assert "residents.total" in s["suppressed"]

    by_section = dict(
        rows(
            conn,
            "SELECT e.industry_section, count(*) FROM registry.legal_entity_geocode g"
            " JOIN registry.legal_entity e USING (entity_id)"
            f" WHERE ST_Intersects({polygon}, g.geom) GROUP BY 1",
            {"park": park},
        )
    )
    assert s["entities_total"] == sum(by_section.values()) > 0
    assert {k: v for k, v in s["entities_by_section"].items() if v} == by_section
    revenue, tax = one(
        conn,
        "SELECT sum(e.revenue), sum(e.tax) FROM registry.legal_entity_geocode g"
        f" JOIN registry.legal_entity e USING (entity_id) WHERE ST_Intersects({polygon}, g.geom)",
        {"park": park},
    )
    if s["entities_total"] >= 5:
        assert s["revenue"] == pytest.approx(float(revenue), rel=1e-6)
        assert s["tax"] == pytest.approx(float(tax), rel=1e-6)
    else:
        assert s["revenue"] is None and "entities.revenue" in s["suppressed"]

    assert s["township_entities"] == one(
        conn, "SELECT entities FROM thematic.stats_township WHERE code = %s", (s["township"],)
    )
    year, gdp = one(
        conn,
        "SELECT year, gdp FROM registry.macro_indicator WHERE township_code = %s"
        " ORDER BY year DESC LIMIT 1",
        (s["township"],),
    )
    assert (s["macro_year"], s["macro_gdp"]) == (year, pytest.approx(float(gdp)))
