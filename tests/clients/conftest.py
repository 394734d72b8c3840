"""Shared fixtures for the real-client acceptance tests: the published layers, their database
counts and ids, and one known standard address."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2
import pytest
from psycopg2 import sql

from spatialsvc.layers import Layer, load_layers
from spatialsvc.settings import Settings


@dataclass(frozen=True)
class KnownAddress:
    """One standard_address row as the database stores it."""

    address_id: str
    x: float  # longitude, as PostGIS stores it (x first, whatever the SRID's axis order)
    y: float  # latitude
    srid: int


def published_layers(settings: Settings) -> dict[str, Layer]:
    """Every published vector layer, by id."""
    return load_layers(settings.layers_dir)


def _table(layer: Layer) -> sql.Composed:
    schema, table = layer.table.split(".")
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


@pytest.fixture(scope="session")
def layers(settings: Settings) -> dict[str, Layer]:
    """Every published vector layer of the session's settings, by id."""
    return published_layers(settings)


@pytest.fixture(scope="session")
def layer_ids_in_db(settings: Settings, db_url: str, demo: dict[str, int]) -> dict[str, set[str]]:
    """The feature ids of every published layer, read from the database, by layer id."""
    out: dict[str, set[str]] = {}
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        for layer in published_layers(settings).values():
            cur.execute(
                sql.SQL("SELECT {}::text FROM {}").format(
                    sql.Identifier(layer.id_column), _table(layer)
                )
            )
            out[layer.id] = {r[0] for r in cur.fetchall()}
    return out


@pytest.fixture(scope="session")
def known_address(db_url: str, demo: dict[str, int]) -> KnownAddress:
    """The first standard address by id, with its point as stored."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT address_id, ST_X(geom), ST_Y(geom), ST_SRID(geom)"
            " FROM base.standard_address ORDER BY address_id LIMIT 1"
        )
        row = cur.fetchone()
    assert row is not None, "the demo has no standard address"
    return KnownAddress(row[0], row[1], row[2], row[3])
