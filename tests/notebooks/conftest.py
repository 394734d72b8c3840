"""Fixtures of the notebook tests: the demo geocoded and its thematic layers refreshed, the
service with access control on, a department's key, and the notebooks executed in a kernel."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from spatialsvc.settings import Settings
from tests.conftest import Caller, serve

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT = 180  # seconds a cell; the 1% demo needs a few
AS_OF = date(2026, 7, 1)  # the date tests/thematic refreshes on: either order gives one table


# Persons and legal entities the thematic refresh counts: geocoded and not waiting for review.
COUNTED = """
SELECT (SELECT count(*) FROM registry.person_geocode g
         WHERE g.match_level IS NOT NULL AND NOT EXISTS
               (SELECT 1 FROM registry.geocode_review r WHERE r.person_id = g.person_id)),
       (SELECT count(*) FROM registry.legal_entity_geocode g
         WHERE g.match_level IS NOT NULL AND NOT EXISTS
               (SELECT 1 FROM registry.geocode_review r WHERE r.entity_id = g.entity_id)),
       (SELECT (persons, entities)::text FROM thematic.refresh ORDER BY refresh_id DESC LIMIT 1)
"""


@pytest.fixture(scope="session")
def thematic(settings: Settings, db_url: str, geocoded: dict[str, int]) -> None:
    """The thematic tables (stats_*, macro_township, legal_entity) computed from the geocoded
    demo. Every geocoding run ends with a refresh, so this one refreshes (as ``spatialsvc stats
    refresh`` does) only when the last refresh did not count what is geocoded now."""
    from spatialsvc.thematic.refresh import refresh_thematic

    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(COUNTED)
        persons, entities, last = cur.fetchone()  # type: ignore[misc]
    if last != f"({persons},{entities})":
        refresh_thematic(settings, "tests", AS_OF)


@pytest.fixture(scope="session")
def notebook_service(
    access_settings: Settings, thematic: None, callers: dict[str, Caller]
) -> Iterator[tuple[str, str]]:
    """The service as deployed (access control on) and a signed-in department's key (the
    ``stranger``: no application, so it reads the open and unconditional layers only)."""
    key = callers["stranger"].key
    assert key
    for url in serve(access_settings):
        yield url, key


@dataclass
class Executed:
    """A notebook run top to bottom: the executed notebook, its summary and how long it took."""

    path: Path
    notebook: Any
    summary: dict[str, Any]
    seconds: float

    def outputs(self) -> Iterator[dict[str, Any]]:
        """Every output of every code cell."""
        for cell in self.notebook.cells:
            if cell.cell_type == "code":
                yield from cell.get("outputs", [])


def last_json_line(notebook: Any) -> dict[str, Any]:
    """The summary a notebook prints as one line of JSON in its last code cell."""
    cell = [c for c in notebook.cells if c.cell_type == "code"][-1]
    text = "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
    )
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"the last cell printed no JSON summary: {text[:300]!r}"
    summary = json.loads(lines[-1])
    assert isinstance(summary, dict)
    return summary


def execute(path: Path, url: str, key: str) -> Executed:
    """Run one notebook in a fresh Python kernel with the service's URL and key."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env = {**os.environ, "SPATIALSVC_URL": url, "SPATIALSVC_KEY": key}
    env.pop("SPATIALSVC_DATABASE_URL", None)  # a notebook talks to the service, never the DB
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute(env=env)
    return Executed(path, notebook, last_json_line(notebook), time.perf_counter() - started)


@pytest.fixture(scope="session")
def run_notebook(notebook_service: tuple[str, str]) -> Callable[[str], Executed]:
    """Executes a notebook of notebooks/ by file name, once a session."""
    url, key = notebook_service
    done: dict[str, Executed] = {}

    def run(name: str) -> Executed:
        if name not in done:
            done[name] = execute(NOTEBOOKS / name, url, key)
        return done[name]

    return run
