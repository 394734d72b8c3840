"""Real clients against the running service: GDAL's OAPIF driver, OWSLib, plain HTTP timing."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

EPSG4549 = "http://www.opengis.net/def/crs/EPSG/0/4549"
HOT = "/collections/standard_address/items?bbox=121.53,29.86,121.56,29.88&limit=100"


def poi_rows(db_url: str) -> dict[str, tuple[float, float]]:
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT poi_id, ST_X(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)),"
            " ST_Y(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)) FROM base.poi"
        )
        return {r[0]: (r[1], r[2]) for r in cur.fetchall()}


def test_ogrinfo_counts_poi(live_server: str, db_url: str) -> None:
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", f"OAPIF:{live_server}", "poi", "-oo", "PAGE_SIZE=1000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    counts = [line for line in out.stdout.splitlines() if line.startswith("Feature Count:")]
    assert counts == [f"Feature Count: {len(poi_rows(db_url))}"], out.stdout[-2000:]


def test_ogr2ogr_coordinates_match_database(live_server: str, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "poi.geojson"
    out = subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GeoJSON",
            str(target),
            f"OAPIF:{live_server}",
            "poi",
            "-oo",
            "PAGE_SIZE=1000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    features = json.loads(target.read_text(encoding="utf-8"))["features"]
    rows = poi_rows(db_url)
    assert len(features) == len(rows)
    for feature in features:
        x, y = feature["geometry"]["coordinates"][0][0][0][:2]
        want = rows[feature["properties"]["poi_id"]]
        assert x == pytest.approx(want[0], abs=1e-6) and y == pytest.approx(want[1], abs=1e-6)


def test_owslib_reads_items(live_server: str) -> None:
    from owslib.ogcapi.features import Features

    api = Features(live_server)
    items = api.collection_items("poi", limit=10)
    assert items["type"] == "FeatureCollection" and len(items["features"]) == 10
    one = api.collection_item("poi", items["features"][0]["id"])
    assert one["id"] == items["features"][0]["id"]
    assert "poi" in [c["id"] for c in api.collections()["collections"]]


def test_owslib_with_a_key_on_the_secured_service(secure_server: Any, db_url: str) -> None:
    """OWSLib sends the administrator's key (made by the CLI) as the HTTP Basic password and
    reads a layer that only departments may read; without the key the same layer is neither
    listed nor readable. (OWSLib's ``headers=`` argument updates its module-wide default
    headers, so every later OWSLib client would send the key: ``auth=`` does not.)"""
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    signed_in = Features(
        secure_server.url, auth=Authentication(username="key", password=secure_server.key)
    )
    items = signed_in.collection_items("building", limit=5)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM base.building")
        total = cur.fetchone()[0]
    assert len(items["features"]) == min(5, total) > 0
    assert "building" in [c["id"] for c in signed_in.collections()["collections"]]
    public = Features(secure_server.url)
    assert "building" not in [c["id"] for c in public.collections()["collections"]]
    with pytest.raises(RuntimeError):  # OWSLib raises on the 401 answer
        public.collection_items("building", limit=5)


def _median_ms(http: httpx.Client, path: str, n: int = 30) -> float:
    http.get(path).raise_for_status()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = http.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200 and r.json()["numberReturned"] > 0
    return statistics.median(times)


def test_hot_path_is_fast_and_reprojection_cheap(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        plain = _median_ms(http, HOT)
        projected = _median_ms(http, HOT + f"&crs={EPSG4549}")
    assert plain < 100, plain
    assert projected < max(2.0 * plain, plain + 10), (plain, projected)
