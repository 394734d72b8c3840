"""Fixtures of the client tests: the client on the live service (access control off), a second
live service with access control on, and where test artefacts (screenshots, pages) are kept."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from spatialsvc.client import Client, connect
from spatialsvc.settings import Settings
from tests.conftest import serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def service(live_server: str) -> Iterator[Client]:
    """The client connected to the live service (access control off), without a key."""
    with connect(live_server) as c:
        yield c


@pytest.fixture(scope="session")
def access_live_server(
    access_settings: Settings, demo: dict[str, int], callers: dict[str, object]
) -> Iterator[str]:
    """The real service with access control on (the callers' keys exist); yields its URL."""
    yield from serve(access_settings)


@pytest.fixture(scope="session")
def geocoded_entities(settings: Settings, db_url: str, demo: dict[str, int]) -> int:
    """The demo's legal entities geocoded (``spatialsvc geocode registry legal_entity``) once a
    session, for the analysis processes; returns how many have a point."""
    import psycopg2

    from spatialsvc.geocoding.registry import run_registry

    def located() -> int:
        with psycopg2.connect(db_url) as c, c.cursor() as cur:
            cur.execute("SELECT count(geom) FROM registry.legal_entity_geocode")
            return int(cur.fetchone()[0])  # type: ignore[index]

    if located() == 0:
        run_registry(settings, "legal_entity", workers=1, echo=lambda _m: None)
    return located()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests keep what a person may want to look at: ``test-artifacts/client/``
    (``SPATIALSVC_TEST_ARTIFACTS`` overrides; the folder is ignored by git)."""
    folder = Path(os.environ.get("SPATIALSVC_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "client"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
