"""Bad input: one line on stderr, exit 1, and the database exactly as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from tests.ingest.helpers import points, run_cli, snapshot


def _fails(settings, db_url: str, args: list[str], expect: str) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(db_url)
    result = run_cli(settings, *args)
    assert result.exit_code == 1, (result.output, result.stderr, result.exception)
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("error: "), err
    assert "Traceback" not in result.output + result.stderr
    assert expect.lower() in err.lower(), err
    assert snapshot(db_url) == before


@pytest.fixture()
def base(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A good layer 'keep' loaded once, so 'unchanged' is meaningful."""
    path = tmp_path / "keep.geojson"
    pyogrio.write_dataframe(points(), path)
    result = run_cli(settings, str(path), "--layer", "keep", "--department", "x")
    assert result.exit_code == 0, result.stderr
    return tmp_path


def _big_shapefile(folder: Path, encoding: str = "UTF-8") -> Path:
    shp = folder / "big.shp"
    pyogrio.write_dataframe(points(500), shp, encoding=encoding)
    return shp


def test_empty_file(settings, db_url, base: Path) -> None:
    for name in ("empty.geojson", "empty.shp", "empty.csv", "empty.tif", "empty.gpkg"):
        (base / name).write_bytes(b"")
        _fails(
            settings, db_url, [str(base / name), "--layer", "keep", "--department", "x"], "is empty"
        )


def test_truncated_shapefile(settings, db_url, base: Path) -> None:
    shp = _big_shapefile(base)
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    _fails(settings, db_url, [str(shp), "--layer", "keep", "--department", "x"], "truncated")


def test_truncated_geojson(settings, db_url, base: Path) -> None:
    path = base / "cut.geojson"
    pyogrio.write_dataframe(points(50), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _fails(settings, db_url, [str(path), "--layer", "keep", "--department", "x"], "cannot read")


@pytest.mark.parametrize("name", ["junk.gpkg", "junk.tif", "junk.zip", "junk.geojson"])
def test_random_bytes(settings, db_url, base: Path, name: str) -> None:
    (base / name).write_bytes(os.urandom(4096))
    _fails(settings, db_url, [str(base / name), "--layer", "keep", "--department", "x"], name)


def test_missing_prj(settings, db_url, base: Path) -> None:
    shp = _big_shapefile(base)
    shp.with_suffix(".prj").unlink()
    _fails(
        settings,
        db_url,
        [str(shp), "--layer", "keep", "--department", "x"],
        "no CRS in big.shp; pass --source-crs",
    )


def test_unknown_crs(settings, db_url, base: Path) -> None:
    shp = _big_shapefile(base)
    _fails(
        settings,
        db_url,
        [str(shp), "--layer", "keep", "--department", "x", "--source-crs", "EPSG:999999"],
        "unknown CRS",
    )


def test_gbk_without_cpg_assumed_utf8(settings, db_url, base: Path) -> None:
    shp = _big_shapefile(base, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    _fails(settings, db_url, [str(shp), "--layer", "keep", "--department", "x"], "--encoding GBK")


def test_gbk_declared_utf8(settings, db_url, base: Path) -> None:
    shp = _big_shapefile(base, encoding="GBK")
    shp.with_suffix(".cpg").write_text("UTF-8")
    _fails(settings, db_url, [str(shp), "--layer", "keep", "--department", "x"], "--encoding GBK")


def test_gbk_csv_and_geojson(settings, db_url, base: Path) -> None:
    path = base / "gbk.csv"
    path.write_bytes("名称,lon,lat\n海曙区,121.5,29.8\n".encode("gbk"))
    _fails(settings, db_url, [str(path), "--layer", "keep", "--department", "x"], "--encoding GBK")
    gj = base / "gbk.geojson"
    gj.write_bytes(
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
            '{"name":"海曙区"},"geometry":{"type":"Point","coordinates":[121.5,29.8]}}]}'
        ).encode("gbk")
    )
    _fails(settings, db_url, [str(gj), "--layer", "keep", "--department", "x"], "--encoding")


def test_csv_without_coordinates(settings, db_url, base: Path) -> None:
    path = base / "nocoords.csv"
    pd.DataFrame({"name": ["a"], "value": [1]}).to_csv(path, index=False)
    _fails(
        settings,
        db_url,
        [str(path), "--layer", "keep", "--department", "x"],
        "no coordinate columns",
    )


@pytest.mark.parametrize("layer", ['Robert"; drop table', "../x", "1abc", "", "a" * 49, "Abc"])
def test_unsafe_layer_names(settings, db_url, base: Path, layer: str) -> None:
    _fails(
        settings,
        db_url,
        [str(base / "keep.geojson"), "--layer", layer, "--department", "x"],
        "bad layer name",
    )


@pytest.mark.parametrize("dept", ["", "a b", "x;drop", "d" * 33])
def test_bad_department(settings, db_url, base: Path, dept: str) -> None:
    _fails(
        settings,
        db_url,
        [str(base / "keep.geojson"), "--layer", "keep", "--department", dept],
        "bad department",
    )


def test_unsupported_and_missing(settings, db_url, base: Path) -> None:
    (base / "x.kml").write_text("<kml/>")
    _fails(
        settings,
        db_url,
        [str(base / "x.kml"), "--layer", "keep", "--department", "x"],
        "unsupported format",
    )
    _fails(
        settings,
        db_url,
        [str(base / "nope.shp"), "--layer", "keep", "--department", "x"],
        "no such file",
    )


def test_truncated_gpkg_and_tif(settings, db_url, base: Path) -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    pyogrio.write_dataframe(points(5000), base / "full.gpkg")
    tif = base / "full.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=400,
        height=400,
        count=1,
        dtype="float32",
        crs="EPSG:4490",
        transform=from_origin(121.0, 30.0, 0.001, 0.001),
    ) as dst:
        dst.write(np.random.default_rng(0).random((400, 400), dtype="float32"), 1)
    for name in ("full.gpkg", "full.tif"):
        data = (base / name).read_bytes()
        cut = base / f"cut{Path(name).suffix}"
        cut.write_bytes(data[: len(data) // 2])
        _fails(settings, db_url, [str(cut), "--layer", "keep", "--department", "x"], "cannot read")
    assert not (settings.raster_dir / "keep").exists()


def test_help_lists_formats(settings) -> None:
    result = run_cli(settings, "--help")
    assert result.exit_code == 0
    for word in (
        "Shapefile",
        "GeoPackage",
        "GeoJSON",
        "CSV",
        "GeoTIFF",
        "--source-crs",
        "Examples",
    ):
        assert word in result.output
