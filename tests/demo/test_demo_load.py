"""The demo district loaded into a real PostGIS: invariants checked with SQL on the stored data."""

from __future__ import annotations

import math
import subprocess

import psycopg2
import pytest

from spatialsvc.codes import is_valid_id_number, is_valid_uscc
from spatialsvc.demo.build import generate_and_load, generate_frames
from spatialsvc.demo.load import load_frames
from spatialsvc.settings import Settings
from tests.conftest import ROOT

SEED = 11
SCALE = 0.02
TINY = 1e-10  # square degrees, about 1 m² at Ningbo's latitude


def _digest(conn) -> dict[str, str]:  # type: ignore[no-untyped-def]
    queries = {
        "addresses": "SELECT md5(string_agg(address_id || full_address || ST_AsText(geom), ','"
        " ORDER BY address_id)) FROM base.standard_address",
        "divisions": "SELECT md5(string_agg(code || ST_AsText(geom), ',' ORDER BY code))"
        " FROM base.admin_division",
        "persons": "SELECT md5(string_agg(id_number || name || household_address, ','"
        " ORDER BY person_id)) FROM registry.person",
        "entities": "SELECT md5(string_agg(uscc || name || registered_address, ','"
        " ORDER BY entity_id)) FROM registry.legal_entity",
    }
    out = {}
    with conn.cursor() as cur:
        for key, query in queries.items():
            cur.execute(query)
            out[key] = cur.fetchone()[0]
    return out


@pytest.fixture(scope="module")
def loaded(settings: Settings) -> dict[str, int]:
    return generate_and_load(settings, SEED, SCALE, echo=lambda _m: None)


@pytest.fixture()
def cur(loaded: dict[str, int], db_url: str):
    conn = psycopg2.connect(db_url)
    with conn.cursor() as c:
        yield c
    conn.close()


def _one(cur, query: str, params: tuple = ()):  # type: ignore[no-untyped-def]
    cur.execute(query, params or None)
    return cur.fetchone()[0]


def test_counts(loaded: dict[str, int], cur) -> None:  # type: ignore[no-untyped-def]
    levels = dict(_rows(cur, "SELECT level, count(*) FROM base.admin_division GROUP BY level"))
    assert levels == {"province": 1, "city": 1, "county": 1, "township": 17, "community": 280}
    assert _one(cur, "SELECT count(*) FROM base.standard_address") >= 180_000
    assert _one(cur, "SELECT count(*) FROM registry.person") >= math.floor(413_000 * SCALE)
    assert _one(cur, "SELECT count(*) FROM registry.legal_entity") >= math.floor(104_000 * SCALE)
    assert _one(cur, "SELECT count(*) FROM registry.camera") == 5090
    assert _one(cur, "SELECT count(*) FROM base.poi") == 150
    assert _one(cur, "SELECT count(DISTINCT township_code) FROM registry.macro_indicator") == 17
    per_community = _rows(cur, "SELECT count(*) FROM base.grid GROUP BY community_code")
    assert len(per_community) == 280 and all(2 <= n <= 8 for (n,) in per_community)
    assert loaded["base.standard_address"] == _one(
        cur, "SELECT count(*) FROM base.standard_address"
    )


def _rows(cur, query: str, params: tuple = ()):  # type: ignore[no-untyped-def]
    cur.execute(query, params or None)
    return cur.fetchall()


def test_real_names_and_codes(cur) -> None:  # type: ignore[no-untyped-def]
    import csv

    with open(
        ROOT / "data/reference/admin-divisions/villages_330203_haishu.csv", encoding="utf-8"
    ) as f:
        real = {r["code"]: r["name"] for r in csv.DictReader(f)}
    stored = dict(
        _rows(cur, "SELECT code, name FROM base.admin_division WHERE level = 'community'")
    )
    assert stored == real
    county = _one(cur, "SELECT name FROM base.admin_division WHERE code = '330203'")
    assert county == "海曙区"


def test_every_address_lies_in_its_community(cur) -> None:  # type: ignore[no-untyped-def]
    outside = _one(
        cur,
        "SELECT count(*) FROM base.standard_address a JOIN base.admin_division d"
        " ON d.code = a.admin_code WHERE NOT ST_Intersects(d.geom, a.geom)",
    )
    assert outside == 0
    names = _one(
        cur,
        "SELECT count(*) FROM base.standard_address a JOIN base.admin_division d"
        " ON d.code = a.admin_code WHERE d.name <> a.community OR d.level <> 'community'",
    )
    assert names == 0


def test_grids_lie_inside_their_community(cur) -> None:  # type: ignore[no-untyped-def]
    spill = _one(
        cur,
        "SELECT count(*) FROM base.grid g JOIN base.admin_division c ON c.code = g.community_code"
        " WHERE ST_Area(ST_Difference(g.geom, c.geom)) > %s",
        (TINY,),
    )
    assert spill == 0


@pytest.mark.parametrize("level", ["township", "community"])
def test_siblings_do_not_overlap_and_cover_their_parent(cur, level: str) -> None:  # type: ignore[no-untyped-def]
    overlaps = _one(
        cur,
        "SELECT count(*) FROM base.admin_division a JOIN base.admin_division b"
        " ON a.parent_code = b.parent_code AND a.code < b.code AND a.geom && b.geom"
        " WHERE a.level = %s AND ST_Area(ST_Intersection(a.geom, b.geom)) > %s",
        (level, TINY),
    )
    assert overlaps == 0
    gaps = _rows(
        cur,
        "SELECT p.code, ST_Area(ST_SymDifference(p.geom, ST_Union(c.geom))) / ST_Area(p.geom)"
        " FROM base.admin_division c JOIN base.admin_division p ON p.code = c.parent_code"
        " WHERE c.level = %s GROUP BY p.code, p.geom",
        (level,),
    )
    assert gaps and all(rel < 1e-6 for _code, rel in gaps), gaps


def test_grids_do_not_overlap(cur) -> None:  # type: ignore[no-untyped-def]
    overlaps = _one(
        cur,
        "SELECT count(*) FROM base.grid a JOIN base.grid b ON a.community_code = b.community_code"
        " AND a.code < b.code AND a.geom && b.geom"
        " WHERE ST_Area(ST_Intersection(a.geom, b.geom)) > %s",
        (TINY,),
    )
    assert overlaps == 0


def test_county_is_the_real_polygon(cur) -> None:  # type: ignore[no-untyped-def]
    area_km2 = _one(
        cur, "SELECT ST_Area(geom::geography) / 1e6 FROM base.admin_division WHERE code = '330203'"
    )
    assert 560 < area_km2 < 630  # Haishu is about 595 km²


def test_check_digits(cur) -> None:  # type: ignore[no-untyped-def]
    ids = [r[0] for r in _rows(cur, "SELECT id_number FROM registry.person")]
    assert ids and all(is_valid_id_number(i) for i in ids)
    codes = [r[0] for r in _rows(cur, "SELECT uscc FROM registry.legal_entity")]
    assert codes and all(is_valid_uscc(c) for c in codes)
    sexes = _rows(cur, "SELECT sex, substr(id_number, 17, 1)::int % 2 FROM registry.person")
    assert all((s == "男") == (odd == 1) for s, odd in sexes)


def test_same_seed_same_data_and_a_failed_load_changes_nothing(
    settings: Settings, loaded: dict[str, int], db_url: str
) -> None:
    conn = psycopg2.connect(db_url)
    conn.autocommit = True  # hold no locks between the loads
    before = _digest(conn)
    generate_and_load(settings, SEED, SCALE, echo=lambda _m: None)
    assert _digest(conn) == before

    frames = generate_frames(settings, SEED + 1, SCALE, echo=lambda _m: None)
    addresses = frames[("base", "standard_address")]
    broken = addresses.copy()
    broken.iloc[-1, broken.columns.get_loc("address_id")] = broken["address_id"].iloc[0]
    frames[("base", "standard_address")] = broken
    loader = psycopg2.connect(db_url)
    with pytest.raises(psycopg2.IntegrityError):
        load_frames(loader, frames, {"seed": SEED + 1, "scale": SCALE}, echo=lambda _m: None)
    assert _digest(conn) == before
    frames[("base", "standard_address")] = addresses
    load_frames(loader, frames, {"seed": SEED + 1, "scale": SCALE}, echo=lambda _m: None)
    assert _digest(conn)["addresses"] != before["addresses"]
    loader.close()
    conn.close()


def test_cli_prints_what_it_loaded(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "SPATIALSVC_HOME": str(tmp_path)}
    out = subprocess.run(
        [str(ROOT / ".venv/bin/spatialsvc"), "demo", "generate", "--seed", "3", "--scale", "0.005"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "generating the geography" in out.stdout
    assert "base.standard_address" in out.stdout and "registry.person" in out.stdout
    bad = subprocess.run(
        [str(ROOT / ".venv/bin/spatialsvc"), "demo", "generate", "--scale", "0"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--scale" in bad.stderr
