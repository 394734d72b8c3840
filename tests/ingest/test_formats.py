"""Every supported format loads into data.<layer> with the right coordinates and text."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

from spatialsvc.geo import gcj02
from spatialsvc.geo.crs import transformer
from tests.ingest.helpers import NAMES, points, query, run_cli


def _ok(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)


def _names(db_url: str, layer: str) -> list[str]:
    return [r[0] for r in query(db_url, f'SELECT "名称" FROM data."{layer}" ORDER BY fid')]


def _coords(db_url: str, layer: str) -> np.ndarray:
    rows = query(db_url, f'SELECT ST_X(geom), ST_Y(geom) FROM data."{layer}" ORDER BY fid')
    return np.array(rows)


def _xy(gdf) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.column_stack([gdf.geometry.x, gdf.geometry.y])


def test_shapefile_folder_and_zip(settings, db_url, tmp_path: Path, pts) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(pts, folder / "pts.shp", encoding="UTF-8")
    _ok(run_cli(settings, str(folder), "--layer", "shp_folder", "--department", "land"))
    assert _names(db_url, "shp_folder") == list(pts["名称"])
    np.testing.assert_allclose(_coords(db_url, "shp_folder"), _xy(pts), atol=1e-9)
    archive = tmp_path / "pts.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"inner/{f.name}")
    _ok(run_cli(settings, str(archive), "--layer", "shp_zip", "--department", "land"))
    assert _names(db_url, "shp_zip") == list(pts["名称"])
    cols = {
        r[0]
        for r in query(
            db_url, "SELECT column_name FROM information_schema.columns WHERE table_name='shp_zip'"
        )
    }
    assert {"fid", "名称", "count", "area", "geom"} <= cols


def test_gbk_shapefile_with_cpg(settings, db_url, tmp_path: Path, pts) -> None:
    shp = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(pts, shp, encoding="GBK")
    shp.with_suffix(".cpg").write_text("GBK")
    _ok(run_cli(settings, str(shp), "--layer", "gbk_cpg", "--department", "land"))
    assert _names(db_url, "gbk_cpg") == list(pts["名称"])
    report = query(db_url, "SELECT report FROM meta.dataset WHERE layer='gbk_cpg'")[0][0]
    assert report["encoding"] == "GBK"


def test_gbk_shapefile_encoding_override(settings, db_url, tmp_path: Path, pts) -> None:
    shp = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(pts, shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    args = (str(shp), "--layer", "gbk_override", "--department", "land")
    _ok(run_cli(settings, *args, "--encoding", "GBK"))
    assert _names(db_url, "gbk_override") == list(pts["名称"])


def test_geopackage_geojson(settings, db_url, tmp_path: Path, pts) -> None:
    pyogrio.write_dataframe(pts, tmp_path / "p.gpkg")
    pyogrio.write_dataframe(pts, tmp_path / "p.geojson")
    _ok(run_cli(settings, str(tmp_path / "p.gpkg"), "--layer", "gpkg", "--department", "x"))
    _ok(run_cli(settings, str(tmp_path / "p.geojson"), "--layer", "gjson", "--department", "x"))
    for layer in ("gpkg", "gjson"):
        assert _names(db_url, layer) == list(pts["名称"])
        np.testing.assert_allclose(_coords(db_url, layer), _xy(pts), atol=1e-9)


def test_csv_lonlat_default_crs(settings, db_url, tmp_path: Path, pts) -> None:
    df = pd.DataFrame({"名称": pts["名称"], "经度": pts.geometry.x, "纬度": pts.geometry.y})
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    report = tmp_path / "r.json"
    result = run_cli(
        settings, str(path), "--layer", "csv_ll", "--department", "x", "--report", str(report)
    )
    _ok(result)
    np.testing.assert_allclose(_coords(db_url, "csv_ll"), _xy(pts), atol=1e-9)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["source_crs"] == "EPSG:4490"
    assert any("assumed EPSG:4490" in n for n in data["notes"])
    assert data["written"] == 5 and data["target_crs"] == "EPSG:4490"


def test_csv_named_columns_projected(settings, db_url, tmp_path: Path, pts) -> None:
    e, n = transformer("EPSG:4490", "EPSG:4549").transform(pts.geometry.x, pts.geometry.y)
    pd.DataFrame({"名称": pts["名称"], "E": e, "N": n}).to_csv(tmp_path / "p.csv", index=False)
    args = (
        str(tmp_path / "p.csv"),
        "--layer",
        "csv_xy",
        "--department",
        "x",
        "--x-column",
        "E",
        "--y-column",
        "N",
    )
    result = run_cli(settings, *args)
    assert result.exit_code == 1 and "--source-crs" in result.stderr
    _ok(run_cli(settings, *args, "--source-crs", "EPSG:4549"))
    np.testing.assert_allclose(_coords(db_url, "csv_xy"), _xy(pts), atol=1e-6)


@pytest.mark.parametrize("epsg", [4549, 4550])
def test_gauss_kruger_inputs(settings, db_url, tmp_path: Path, epsg: int) -> None:
    pts = points(20, seed=epsg)
    e, n = transformer("EPSG:4490", f"EPSG:{epsg}").transform(pts.geometry.x, pts.geometry.y)
    proj = pts.set_geometry(shapely.points(e, n), crs=f"EPSG:{epsg}")
    path = tmp_path / f"gk{epsg}.gpkg"
    pyogrio.write_dataframe(proj, path)
    _ok(run_cli(settings, str(path), "--layer", f"gk{epsg}", "--department", "x"))
    np.testing.assert_allclose(_coords(db_url, f"gk{epsg}"), _xy(pts), atol=1e-6)
    meta = query(db_url, "SELECT source_crs FROM meta.dataset WHERE layer=%s", (f"gk{epsg}",))
    assert meta[0][0] == f"EPSG:{epsg}"


def test_gcj02_input(settings, db_url, tmp_path: Path, pts) -> None:
    gx, gy = gcj02.wgs84_to_gcj02(pts.geometry.x, pts.geometry.y)
    g = pts.set_geometry(shapely.points(gx, gy), crs="EPSG:4326")
    g.to_file(tmp_path / "g.geojson")
    args = (str(tmp_path / "g.geojson"), "--layer", "gcj", "--department", "x")
    _ok(run_cli(settings, *args, "--source-crs", "gcj02"))
    np.testing.assert_allclose(_coords(db_url, "gcj"), _xy(pts), atol=1e-7)
    assert query(db_url, "SELECT source_crs FROM meta.dataset WHERE layer='gcj'")[0][0] == "gcj02"


def test_geotiff_to_cog(settings, db_url, tmp_path: Path) -> None:
    path = tmp_path / "dem.tif"
    e, n = transformer("EPSG:4490", "EPSG:4549").transform(121.4, 29.9)
    data = np.arange(200 * 300, dtype="float32").reshape(200, 300)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=300,
        height=200,
        count=1,
        dtype="float32",
        crs="EPSG:4549",
        transform=from_origin(e, n, 10, 10),
    ) as dst:
        dst.write(data, 1)
    _ok(run_cli(settings, str(path), "--layer", "dem", "--department", "survey"))
    _ok(run_cli(settings, str(path), "--layer", "dem", "--department", "survey"))
    row = query(
        db_url,
        "SELECT version, kind, file_path, ST_XMin(extent) FROM meta.dataset WHERE layer='dem'",
    )[0]
    assert row[0] == 2 and row[1] == "raster"
    cog = Path(row[2])
    assert cog == settings.raster_dir / "dem" / "v2.tif" and cog.exists()
    assert abs(row[3] - 121.4) < 0.01
    valid, errors, _ = cog_validate(str(cog))
    assert valid, errors
    with rasterio.open(cog) as src:
        assert src.crs.to_epsg() == 4490
    assert not list((settings.raster_dir / "dem").glob(".tmp-*"))


def test_names_with_chinese_read_back(settings, db_url, tmp_path: Path) -> None:
    pts = points(len(NAMES))
    pyogrio.write_dataframe(pts, tmp_path / "c.geojson")
    _ok(run_cli(settings, str(tmp_path / "c.geojson"), "--layer", "cn", "--department", "x"))
    assert _names(db_url, "cn") == NAMES


def test_geotiff_without_crs_needs_source_crs(settings, db_url, tmp_path: Path) -> None:
    path = tmp_path / "nocrs.tif"
    e, n = transformer("EPSG:4490", "EPSG:4550").transform(121.5, 29.9)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=50,
        height=40,
        count=1,
        dtype="uint8",
        transform=from_origin(e, n, 20, 20),
    ) as dst:
        dst.write(np.ones((40, 50), dtype="uint8"), 1)
    args = (str(path), "--layer", "nocrs", "--department", "survey")
    result = run_cli(settings, *args)
    assert result.exit_code == 1 and "no CRS in nocrs.tif; pass --source-crs" in result.stderr
    _ok(run_cli(settings, *args, "--source-crs", "EPSG:4550"))
    row = query(
        db_url,
        "SELECT source_crs, ST_XMin(extent), ST_YMax(extent) FROM meta.dataset WHERE layer='nocrs'",
    )[0]
    assert row[0] == "EPSG:4550"
    assert abs(row[1] - 121.5) < 0.001 and abs(row[2] - 29.9) < 0.001
