"""`spatialsvc geocode registry`: answers written beside the register, review rows, re-runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from spatialsvc.settings import Settings
from tests.geocoding.helpers import query, run_cli

REVIEW = (
    "SELECT person_id, register, record_id, address_text, candidate_address_id, match_level, "
    "score, reason, created FROM registry.geocode_review WHERE person_id IS NOT NULL "
    "ORDER BY person_id"
)


def _geocodes(db_url: str) -> dict[int, tuple[Any, ...]]:
    rows = query(
        db_url,
        "SELECT person_id, address_text, address_id, match_level, score, ST_SRID(geom), "
        "ST_X(geom), grid_code, community_code, geocoded_at FROM registry.person_geocode",
    )
    return {r[0]: r[1:] for r in rows}


def test_person_register_geocoded_reviewed_and_rerun(
    settings: Settings, db_url: str, demo: dict[str, int]
) -> None:
    result = run_cli(settings, "registry", "person", "--workers", "2", "--chunk-size", "500")
    assert result.exit_code == 0, result.output
    assert "match report for registry.person" in result.output

    persons = query(
        db_url, "SELECT person_id, household_address, eval_address_id FROM registry.person"
    )
    got = _geocodes(db_url)
    assert len(got) == len(persons) >= 2000
    # the test (never the command) reads eval_address_id, to check the answers
    right = sum(1 for pid, _text, truth in persons if got[pid][1] == truth)
    assert right / len(persons) >= 0.9
    for pid, text, _truth in persons:
        address_text, address_id, level, score, srid, lon, grid, community, _at = got[pid]
        assert address_text == text
        if address_id is not None:
            assert srid == 4490 and 121.0 < lon < 122.0 and level is not None
    with_grid = sum(1 for g in got.values() if g[6] and g[6].startswith(g[7] or "-"))
    assert with_grid / len(got) >= 0.9  # grid codes lie in their community

    review = query(db_url, REVIEW)
    low = {pid for pid, g in got.items() if g[2] is None or g[3] < 0.8}
    assert {r[0] for r in review} == low
    assert low, "the demo's messy addresses should leave some records to review"
    for pid, register, record_id, text, _cand, level, score, reason, _created in review:
        assert register == "person" and record_id == pid
        assert text == got[pid][0] and score == got[pid][3]
        assert reason.startswith("no match" if level is None else "score ")
    assert f"to review (registry.geocode_review): {len(low):,}" in result.output

    # a re-run finds nothing to do and changes nothing
    again = run_cli(settings, "registry", "person", "--workers", "2")
    assert again.exit_code == 0, again.output
    assert "0 person records to geocode" in again.output
    assert query(db_url, REVIEW) == review
    assert _geocodes(db_url) == got


def test_rerun_continues_where_a_run_stopped(
    settings: Settings, db_url: str, demo: dict[str, int]
) -> None:
    first = run_cli(settings, "registry", "legal_entity", "--workers", "1")
    assert first.exit_code == 0, first.output
    before = query(db_url, "SELECT * FROM registry.legal_entity_geocode ORDER BY entity_id")
    reviewed = query(db_url, "SELECT count(*) FROM registry.geocode_review WHERE entity_id > 0")
    # as if killed half way: the later chunks were never committed; one address was edited
    query(
        db_url,
        "WITH gone AS (DELETE FROM registry.legal_entity_geocode WHERE entity_id % 2 = 0 "
        "RETURNING entity_id) SELECT count(*) FROM gone",
    )
    entity, text = query(
        db_url, "SELECT entity_id, registered_address FROM registry.legal_entity "
        "ORDER BY entity_id LIMIT 1 OFFSET 1",
    )[0]  # fmt: skip
    conn_sql = "UPDATE registry.legal_entity SET registered_address = %s WHERE entity_id = %s"
    edited = "不知道\t哪里\\N \\ 换\n行"  # tab, backslashes and a line break survive COPY
    query(db_url, conn_sql + " RETURNING 1", (edited, entity))
    try:
        again = run_cli(settings, "registry", "legal_entity", "--workers", "2")
        assert again.exit_code == 0, again.output
        after = query(db_url, "SELECT * FROM registry.legal_entity_geocode ORDER BY entity_id")
        assert len(after) == len(before)
        changed = [a for a, b in zip(after, before, strict=True) if a[:11] != b[:11]]
        assert [c[0] for c in changed] == [entity]
        rows = query(
            db_url,
            "SELECT address_text, reason FROM registry.geocode_review WHERE entity_id = %s",
            (entity,),
        )
        assert rows and rows[0][0] == edited and rows[0][1].startswith("no match")
        stored = query(
            db_url,
            "SELECT address_text FROM registry.legal_entity_geocode WHERE entity_id = %s",
            (entity,),
        )
        assert stored == [(edited,)]
        count = query(db_url, "SELECT count(*) FROM registry.geocode_review WHERE entity_id > 0")
        assert count[0][0] in (reviewed[0][0], reviewed[0][0] + 1)
    finally:
        query(db_url, conn_sql + " RETURNING 1", (text, entity))


def test_kill_9_half_way_then_rerun_completes_without_duplicates(
    settings: Settings, db_url: str, demo: dict[str, int]
) -> None:
    full = run_cli(settings, "registry", "person", "--redo", "--workers", "2")
    assert full.exit_code == 0, full.output
    snapshot = "SELECT * FROM registry.person_geocode ORDER BY person_id"
    reference = [r[:-1] for r in query(db_url, snapshot)]  # all but geocoded_at
    review = [r[:-1] for r in query(db_url, REVIEW)]  # all but created
    query(db_url, "DELETE FROM registry.geocode_review WHERE person_id IS NOT NULL RETURNING 1")
    query(db_url, "DELETE FROM registry.person_geocode RETURNING 1")

    command = [
        str(Path(sys.executable).parent / "spatialsvc"), "geocode", "registry", "person",
        "--workers", "1", "--chunk-size", "20",
    ]  # fmt: skip
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "SPATIALSVC_HOME": str(settings.home),
    }
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    count = "SELECT count(*) FROM registry.person_geocode"
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = query(db_url, count)[0][0]
        if done >= 300:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    kept = query(db_url, count)[0][0]
    assert 300 <= kept < len(reference)  # committed chunks survive the kill

    again = subprocess.run(command, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{len(reference) - kept:,} person records to geocode" in again.stdout
    assert [r[:-1] for r in query(db_url, snapshot)] == reference
    assert [r[:-1] for r in query(db_url, REVIEW)] == review
