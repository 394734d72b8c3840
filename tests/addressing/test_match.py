"""Match and score stages: the geocoder over the demo district's standard addresses."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg2
import pytest

from addressing.geocode import Geocoder
from addressing.match import match
from addressing.parse import parse
from addressing.score import score
from spatialsvc.settings import Settings


@pytest.fixture(scope="module")
def db(settings: Settings, demo: dict[str, int]) -> Iterator[psycopg2.extensions.connection]:
    c = psycopg2.connect(settings.database_url)
    yield c
    c.close()


@pytest.fixture(scope="module")
def geocoder(db: psycopg2.extensions.connection) -> Geocoder:
    return Geocoder(db)


def test_canonical_addresses_geocode_to_themselves(
    db: psycopg2.extensions.connection, geocoder: Geocoder
) -> None:
    with db.cursor() as cur:
        cur.execute("SELECT setseed(0.42)")
        cur.execute(
            "SELECT full_address, address_id, level FROM base.standard_address "
            "ORDER BY random() LIMIT 200"
        )
        rows = cur.fetchall()
    failures = []
    for text, address_id, level in rows:
        r = geocoder.geocode(text)
        if r.address_id != address_id or r.score < 0.9 or r.match_level != level:
            failures.append((text, r.address_id, address_id, r.score, r.reasons))
    assert not failures, failures[:10]


def test_register_addresses(db: psycopg2.extensions.connection, geocoder: Geocoder) -> None:
    with db.cursor() as cur:
        # eval_address_id is read here, by the test, only to compare
        cur.execute("SELECT household_address, eval_address_id FROM registry.person")
        rows = cur.fetchall()
    assert len(rows) >= 2000
    right = unmatched = high = high_wrong = 0
    start = time.perf_counter()
    for text, truth in rows:
        r = geocoder.geocode(text)
        if r.address_id is None:
            unmatched += 1
        elif r.address_id == truth:
            right += 1
        if r.score >= 0.8:
            high += 1
            high_wrong += r.address_id != truth
    rate = len(rows) / (time.perf_counter() - start)
    n = len(rows)
    print(
        f"\nregister: n={n} right={right / n:.2%} unmatched={unmatched / n:.2%} "
        f"wrong among score>=0.8: {high_wrong}/{high} = {high_wrong / max(high, 1):.2%} "
        f"({rate:.0f} addresses/s)"
    )
    assert right / n >= 0.93
    assert unmatched / n <= 0.01
    assert high >= 0.85 * n
    assert high_wrong / high <= 0.003


@pytest.mark.parametrize("text", ["今天天气很好", "asdfghjkl", "", "1234567", "火星基地99号"])
def test_nonsense_gets_no_address(geocoder: Geocoder, text: str) -> None:
    r = geocoder.geocode(text)
    assert r.address_id is None or r.score < 0.3
    assert r.score < 0.3


def test_levels_and_ambiguity(db: psycopg2.extensions.connection, geocoder: Geocoder) -> None:
    with db.cursor() as cur:
        cur.execute(
            "SELECT township, road, door_number, compound, building, unit, room, address_id "
            "FROM base.standard_address WHERE level = 'room' ORDER BY address_id LIMIT 1"
        )
        township, road, door, compound, building, unit, room, address_id = cur.fetchone()
    # compound path, clerk style
    r = geocoder.geocode(f"{township}{compound}{building}-{unit}-{room}")
    assert (r.address_id, r.match_level) == (address_id, "room")
    assert r.score >= 0.9
    # the unit left out: several rooms fit, the score says so and alternatives are given
    r = geocoder.geocode(f"{township}{compound}{building}幢{room}室")
    if r.alternatives and "ambiguous" in " ".join(r.reasons):
        assert r.score < 0.8
    # a room that does not exist: building level, lower score
    r = geocoder.geocode(f"{township}{road}{door}号{compound}{building}幢{unit}单元9999室")
    assert r.match_level == "building"
    assert r.score < 0.8
    # a typo in the compound name (edit distance 1) is still found, with a penalty
    typo = compound[:-1] + ("圆" if compound[-1] != "圆" else "苑")
    parsed = parse(f"{township}{typo}{building}幢{unit}单元{room}室", context="330203")
    candidates = match(parsed, geocoder.index)
    result = score(parsed, candidates)
    assert address_id in {c.address_id for c in candidates}
    assert result.score < 1.0
