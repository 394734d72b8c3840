"""Fixtures of the analysis tests: a connection to the demo with both registers geocoded (the
``geocoded`` fixture of tests/conftest.py), and the centre of its densest township."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest


@pytest.fixture()
def dconn(db_url: str, geocoded: dict[str, int]) -> Iterator[Any]:
    """An autocommit connection to the session database with the demo loaded."""
    c = psycopg2.connect(db_url)
    c.autocommit = True
    yield c
    c.close()


@pytest.fixture(scope="module")
def centre(db_url: str, geocoded: dict[str, int]) -> tuple[float, float]:
    """The median residence of the densest township (lon, lat in EPSG:4490)."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_X(geom)),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Y(geom))"
            " FROM registry.person_geocode WHERE township_code = ("
            "  SELECT township_code FROM registry.person_geocode WHERE geom IS NOT NULL"
            "  GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)"
        )
        x, y = cur.fetchone()
    return float(x), float(y)
