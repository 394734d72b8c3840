"""Fixtures of the thematic tests: the demo with both registers geocoded and the thematic
tables refreshed on a fixed date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg2
import pytest

AS_OF = date(2026, 7, 1)


@pytest.fixture(scope="session")
def refreshed(settings: Any, db_url: str, demo: dict[str, int]) -> Any:
    """Both registers geocoded (each run ends with a refresh), then one refresh on AS_OF."""
    from spatialsvc.geocoding.registry import run_registry
    from spatialsvc.thematic.refresh import refresh_thematic

    for name in ("person", "legal_entity"):
        with psycopg2.connect(db_url) as c, c.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM registry.{name}_geocode")
            done = int(cur.fetchone()[0])
        if not done:
            run_registry(settings, name, workers=1, echo=lambda _m: None)
    return refresh_thematic(settings, "tests", AS_OF)


@pytest.fixture()
def tconn(db_url: str, refreshed: Any) -> Iterator[Any]:
    """An autocommit connection to the refreshed session database."""
    c = psycopg2.connect(db_url)
    c.autocommit = True
    yield c
    c.close()
