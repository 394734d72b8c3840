"""The thematic tables against direct SQL on the same data, and the suppression rule on the
open aggregate layers as someone holding them would attack it."""

from __future__ import annotations

from typing import Any

import pytest

from spatialsvc.thematic.themes import LEGAL_ENTITY, POPULATION, SECTIONS, THRESHOLD
from tests.thematic.conftest import AS_OF

LEVELS = {"grid": "grid_code", "community": "community_code", "township": "township_code"}
COUNTS = [*POPULATION.counts, *LEGAL_ENTITY.counts]

DIRECT_PERSONS = """
SELECT {code}, count(*), count(*) FILTER (WHERE p.sex = '男'), count(*) FILTER (WHERE p.sex = '女'),
       count(*) FILTER (WHERE age(%(d)s::date, p.birth_date) < interval '15 years'),
       count(*) FILTER (WHERE age(%(d)s::date, p.birth_date) >= interval '15 years'
                          AND age(%(d)s::date, p.birth_date) < interval '60 years'),
       count(*) FILTER (WHERE age(%(d)s::date, p.birth_date) >= interval '60 years'),
       count(DISTINCT p.household_id)
FROM registry.person p JOIN registry.person_geocode g USING (person_id)
WHERE g.match_level IS NOT NULL AND p.person_id NOT IN
      (SELECT person_id FROM registry.geocode_review WHERE person_id IS NOT NULL)
  AND {code} IS NOT NULL
GROUP BY 1
"""

DIRECT_ENTITIES = """
SELECT {code}, count(*), {sections}, sum(e.registered_capital), sum(e.employees), sum(e.revenue),
       sum(e.tax)
FROM registry.legal_entity e JOIN registry.legal_entity_geocode g USING (entity_id)
WHERE g.match_level IS NOT NULL AND e.entity_id NOT IN
      (SELECT entity_id FROM registry.geocode_review WHERE entity_id IS NOT NULL)
  AND {code} IS NOT NULL
GROUP BY 1
"""


def rows(conn: Any, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


def published(conn: Any, level: str, columns: list[str]) -> dict[str, dict[str, Any]]:
    cols = ", ".join(columns)
    return {
        r[0]: dict(zip(columns, r[1:], strict=True))
        for r in rows(conn, f"SELECT code, {cols} FROM thematic.stats_{level}")
    }


def direct(conn: Any, level: str) -> dict[str, dict[str, float]]:
    code = "g." + LEVELS[level]
    out: dict[str, dict[str, float]] = {}
    for r in rows(conn, DIRECT_PERSONS.format(code=code), {"d": AS_OF}):
        out.setdefault(r[0], {}).update(zip(POPULATION.counts, map(float, r[1:]), strict=True))
    sections = ", ".join(f"count(*) FILTER (WHERE e.industry_section = '{s}')" for s in SECTIONS)
    names = [*LEGAL_ENTITY.counts, *LEGAL_ENTITY.amounts]
    for r in rows(conn, DIRECT_ENTITIES.format(code=code, sections=sections)):
        out.setdefault(r[0], {}).update(zip(names, map(float, r[1:]), strict=True))
    return out


@pytest.mark.parametrize("level", list(LEVELS))
def test_published_values_equal_direct_sql(tconn: Any, level: str) -> None:
    names = [*COUNTS, *LEGAL_ENTITY.amounts]
    mine = published(tconn, level, names)
    truth = direct(tconn, level)
    units = rows(
        tconn,
        "SELECT count(*) FROM base.grid"
        if level == "grid"
        else "SELECT count(*) FROM base.admin_division WHERE level = %s",
        None if level == "grid" else (level,),
    )[0][0]
    assert len(mine) == units
    shown = 0
    for code, values in mine.items():
        for name in names:
            if values[name] is not None:
                assert float(values[name]) == pytest.approx(truth.get(code, {}).get(name, 0.0))
                shown += 1
    assert shown > 0


@pytest.mark.parametrize("level", list(LEVELS))
def test_no_published_count_is_under_five(tconn: Any, level: str) -> None:
    for code, values in published(tconn, level, COUNTS).items():
        for name, value in values.items():
            assert value is None or value >= THRESHOLD, (code, name, value)


@pytest.mark.parametrize("level", list(LEVELS))
def test_no_row_sum_gives_a_suppressed_cell_away(tconn: Any, level: str) -> None:
    """Inside a row: never exactly one unknown in pop_total = male + female, the age bands,
    entities = sum of the sections."""
    relations = [*POPULATION.relations, *LEGAL_ENTITY.relations]
    for code, values in published(tconn, level, COUNTS).items():
        for total, parts in relations:
            unknown = [c for c in (total, *parts) if values[c] is None]
            assert len(unknown) != 1, (code, unknown)


@pytest.mark.parametrize(("child", "parent"), [("grid", "community"), ("community", "township")])
def test_no_sum_between_levels_gives_a_suppressed_cell_away(
    tconn: Any, child: str, parent: str
) -> None:
    """A published parent minus its children's published cells never leaves one unknown, nor
    hidden zeros only."""
    names = [*COUNTS, *LEGAL_ENTITY.amounts]
    kids = published(tconn, child, [f"{parent}_code", *names])
    top = published(tconn, parent, names)
    truth = direct(tconn, child)
    for code, values in top.items():
        mine = {k: v for k, v in kids.items() if v[f"{parent}_code"] == code}
        for name in names:
            if values[name] is None:
                continue
            unknown = [k for k, v in mine.items() if v[name] is None]
            assert len(unknown) != 1, (code, name, unknown)
            if unknown:
                assert sum(truth.get(k, {}).get(name, 0.0) for k in unknown) > 0


def test_amounts_are_hidden_where_fewer_than_five_entities(tconn: Any) -> None:
    checked = 0
    for level in LEVELS:
        truth = direct(tconn, level)
        for code, v in published(tconn, level, list(LEGAL_ENTITY.amounts)).items():
            if truth.get(code, {}).get("entities", 0.0) < THRESHOLD:
                assert all(v[a] is None for a in LEGAL_ENTITY.amounts), (level, code)
                checked += 1
    assert checked > 0


def test_suppressed_lists_the_null_cells(tconn: Any) -> None:
    names = [*COUNTS, *LEGAL_ENTITY.amounts, "pop_density"]
    for code, v in published(tconn, "grid", [*names, "suppressed"]).items():
        listed = set(filter(None, v["suppressed"].split(",")))
        assert listed == {n for n in names if v[n] is None}, code


def test_points_and_macro_tables_equal_the_registers(tconn: Any) -> None:
    for table, query in [
        ("resident", "SELECT count(*) FROM registry.person_geocode WHERE geom IS NOT NULL"),
        (
            "legal_entity",
            "SELECT count(*) FROM registry.legal_entity_geocode WHERE geom IS NOT NULL",
        ),
        ("macro_township", "SELECT count(*) FROM registry.macro_indicator"),
    ]:
        assert rows(tconn, f"SELECT count(*) FROM thematic.{table}") == rows(tconn, query)
    ages = rows(
        tconn,
        "SELECT count(*) FROM thematic.resident r JOIN registry.person p USING (person_id)"
        " WHERE r.age <> date_part('year', age(%s::date, p.birth_date))",
        (AS_OF,),
    )
    assert ages == [(0,)]
    gdp = rows(
        tconn,
        "SELECT count(*) FROM thematic.macro_township t JOIN registry.macro_indicator m"
        " ON m.township_code = t.township_code AND m.year = t.year WHERE t.gdp <> m.gdp",
    )
    assert gdp == [(0,)]


def test_geocoding_runs_refresh_the_layers(settings: Any, tconn: Any) -> None:
    from spatialsvc.geocoding.registry import run_registry

    with tconn.cursor() as cur:
        cur.execute("SELECT max(refresh_id) FROM thematic.refresh")
        before = cur.fetchone()[0]
        cur.execute(
            "DELETE FROM registry.person_geocode WHERE person_id IN"
            " (SELECT person_id FROM registry.person_geocode ORDER BY person_id LIMIT 3)"
        )
    run_registry(settings, "person", workers=1, echo=lambda _m: None)
    with tconn.cursor() as cur:
        cur.execute(
            "SELECT refresh_id, trigger FROM thematic.refresh ORDER BY refresh_id DESC LIMIT 1"
        )
        last, trigger = cur.fetchone()
    assert last > before and trigger == "geocode registry person"
