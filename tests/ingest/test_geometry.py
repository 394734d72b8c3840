"""Invalid, null and empty geometries; Multi* promotion; versions."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from tests.ingest.helpers import points, query, run_cli

BOWTIE = shapely.Polygon([(121.4, 29.8), (121.5, 29.9), (121.5, 29.8), (121.4, 29.9)])
SQUARE = shapely.box(121.3, 29.7, 121.35, 29.75)
MULTI = shapely.MultiPolygon(
    [shapely.box(121.1, 29.6, 121.12, 29.62), shapely.box(121.2, 29.6, 121.22, 29.62)]
)


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["bowtie", "square", "multi", "null", "empty"]},
        geometry=[BOWTIE, SQUARE, MULTI, None, shapely.Polygon()],
        crs="EPSG:4490",
    )


def test_repair(settings, db_url, tmp_path: Path) -> None:
    path = tmp_path / "bad.gpkg"
    pyogrio.write_dataframe(_frame(), path)
    report = tmp_path / "r.json"
    result = run_cli(
        settings, str(path), "--layer", "polys", "--department", "x", "--report", str(report)
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["read"] == 5 and data["written"] == 3 and data["repaired"] == 1
    assert data["rejected_count"] == 2
    assert {r["reason"] for r in data["rejected"]} == {"null geometry", "empty geometry"}
    rows = query(
        db_url, "SELECT name, GeometryType(geom), ST_IsValid(geom) FROM data.polys ORDER BY fid"
    )
    assert rows == [
        ("bowtie", "MULTIPOLYGON", True),
        ("square", "MULTIPOLYGON", True),
        ("multi", "MULTIPOLYGON", True),
    ]
    gtype = query(db_url, "SELECT type FROM geometry_columns WHERE f_table_name='polys'")
    assert gtype == [("MULTIPOLYGON",)]
    assert "repaired 1" in result.output and "rejected 2" in result.output


def test_reject(settings, db_url, tmp_path: Path) -> None:
    path = tmp_path / "bad.gpkg"
    pyogrio.write_dataframe(_frame(), path)
    report = tmp_path / "r.json"
    result = run_cli(
        settings,
        str(path),
        "--layer",
        "polys_rej",
        "--department",
        "x",
        "--invalid",
        "reject",
        "--report",
        str(report),
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["written"] == 2 and data["repaired"] == 0 and data["rejected_count"] == 3
    reasons = {r["index"]: r["reason"] for r in data["rejected"]}
    assert reasons[0].startswith("invalid geometry: Self-intersection")


def test_all_rejected_is_an_error(settings, db_url, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"name": ["b"]}, geometry=[BOWTIE], crs="EPSG:4490")
    pyogrio.write_dataframe(frame, tmp_path / "b.geojson")
    result = run_cli(
        settings,
        str(tmp_path / "b.geojson"),
        "--layer",
        "allbad",
        "--department",
        "x",
        "--invalid",
        "reject",
    )
    assert result.exit_code == 1 and "no usable geometries" in result.stderr
    assert not query(db_url, "SELECT 1 FROM meta.dataset WHERE layer='allbad'")


def test_reingest_bumps_version(settings, db_url, tmp_path: Path) -> None:
    pyogrio.write_dataframe(points(5), tmp_path / "a.geojson")
    pyogrio.write_dataframe(points(8, seed=2), tmp_path / "b.geojson")
    for name in ("a", "b"):
        result = run_cli(
            settings, str(tmp_path / f"{name}.geojson"), "--layer", "again", "--department", "x"
        )
        assert result.exit_code == 0, result.stderr
    assert query(db_url, "SELECT count(*) FROM data.again") == [(8,)]
    meta = query(
        db_url,
        "SELECT version, features, table_name, ST_SRID(extent) "
        "FROM meta.dataset WHERE layer='again'",
    )
    assert meta == [(2, 8, "data.again", 4490)]
    idx = query(db_url, "SELECT indexname FROM pg_indexes WHERE tablename='again' ORDER BY 1")
    assert idx == [("again_geom_idx",), ("again_pkey",)]
    tables = query(
        db_url,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema='data' AND table_name LIKE 'again%'",
    )
    assert tables == [("again",)]
