"""Fixtures for the geocoding commands: the demo's standard addresses."""

from __future__ import annotations

import pytest

from tests.geocoding.helpers import query


@pytest.fixture(scope="session")
def canonical(db_url: str, demo: dict[str, int]) -> list[tuple[str, str, float, float]]:
    """(address_id, full_address, lon, lat) of every room-level standard address of the demo."""
    return [
        (r[0], r[1], float(r[2]), float(r[3]))
        for r in query(
            db_url,
            "SELECT address_id, full_address, ST_X(geom), ST_Y(geom) FROM base.standard_address "
            "WHERE level = 'room' ORDER BY address_id",
        )
    ]
