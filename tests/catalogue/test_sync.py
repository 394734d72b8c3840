"""sync_catalogue keeps meta.catalogue_record in step with layers/*.yml, ingests and basemaps."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from click.testing import CliRunner

from spatialsvc.catalogue import sync_catalogue
from spatialsvc.cli import main
from spatialsvc.layers import load_layers
from spatialsvc.settings import Settings

FIXED = {"basemap_raster", "basemap_vector", "service_ogcapi"}


def _sync(settings: Settings, layers_dir: Path | None = None):  # type: ignore[no-untyped-def]
    layers = load_layers(layers_dir or settings.layers_dir)
    conn = psycopg2.connect(settings.database_url)
    try:
        return sync_catalogue(conn, layers, settings)
    finally:
        conn.close()


def _rows(db_url: str) -> dict[str, dict[str, Any]]:
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT identifier, kind, title, sharing, sharing_attribute, open_attribute,"
                " department_code, category, fields, crs, links, updated, anytext,"
                " ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent)"
                " FROM meta.catalogue_record"
            )
            names = [d.name for d in cur.description]
            return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    finally:
        conn.close()


@pytest.fixture()
def synced(settings: Settings, demo: dict[str, int]) -> Iterator[Settings]:
    """The catalogue synced with the project's layers before and after the test."""
    _sync(settings)
    yield settings
    _sync(settings)


def test_one_record_per_layer_basemap_and_service(synced: Settings, db_url: str) -> None:
    layers = load_layers(synced.layers_dir)
    rows = _rows(db_url)
    assert set(layers) | FIXED <= set(rows)
    road = rows["road"]
    assert road["kind"] == "layer" and road["title"] == "道路"
    assert road["sharing"] == "open"
    assert (road["sharing_attribute"], road["open_attribute"]) == ("无条件共享", "开放")
    assert road["department_code"] == "zrzy-hs" and road["category"] == "空间地理"
    assert [f["name"] for f in road["fields"]] == layers["road"].fields
    assert all(f["type"] != "unknown" for f in road["fields"])
    assert "http://www.opengis.net/def/crs/EPSG/0/4490" in road["crs"]
    hrefs = {link["href"] for link in road["links"]}
    assert {"/collections/road/items", "/collections/road/tiles"} <= hrefs
    # the extent is the table's, inside Haishu
    assert 121.0 < road["st_xmin"] < road["st_xmax"] < 121.7
    assert 29.6 < road["st_ymin"] < road["st_ymax"] < 30.0
    assert rows["service_ogcapi"]["kind"] == "service"
    assert rows["basemap_raster"]["kind"] == rows["basemap_vector"]["kind"] == "basemap"
    assert "标准地址" in rows["standard_address"]["anytext"]


def test_sync_is_idempotent(synced: Settings, db_url: str) -> None:
    before = _rows(db_url)
    result = _sync(synced)
    assert result.inserted == result.updated == result.deleted == []
    assert len(result.unchanged) == len(before)
    after = _rows(db_url)
    assert {k: v["updated"] for k, v in after.items()} == {
        k: v["updated"] for k, v in before.items()
    }


def test_withdrawing_a_layer_deletes_its_record(
    synced: Settings, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "layers"
    shutil.copytree(synced.layers_dir, folder)
    (folder / "camera.yml").unlink()
    result = _sync(synced, folder)
    assert result.deleted == ["camera"]
    rows = _rows(db_url)
    assert "camera" not in rows and "road" in rows and FIXED <= set(rows)
    result = _sync(synced)  # published again
    assert result.inserted == ["camera"]


def test_editing_a_title_updates_the_record(synced: Settings, db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "layers"
    shutil.copytree(synced.layers_dir, folder)
    path = folder / "road.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("title: 道路", "title: 城市道路"), encoding="utf-8"
    )
    before = _rows(db_url)["road"]
    result = _sync(synced, folder)
    assert result.updated == ["road"]
    after = _rows(db_url)["road"]
    assert after["title"] == "城市道路" and "城市道路" in after["anytext"]
    assert after["updated"] > before["updated"]


def test_ingesting_a_file_adds_a_record(synced: Settings, db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "wells.geojson"
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "一号井", "depth": 12.5},
                        "geometry": {"type": "Point", "coordinates": [121.50, 29.85]},
                    },
                    {
                        "type": "Feature",
                        "properties": {"name": "二号井", "depth": 8.0},
                        "geometry": {"type": "Point", "coordinates": [121.52, 29.87]},
                    },
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main,
        ["ingest", str(source), "--layer", "catalogue_wells", "--department", "sl-hs"],
        obj={"settings": synced},
    )
    assert result.exit_code == 0, result.output
    try:
        record = _rows(db_url)["catalogue_wells"]
        assert record["kind"] == "layer" and record["sharing"] == "none"
        assert record["sharing_attribute"] == "不予共享"
        assert record["department_code"] == "sl-hs"
        assert {f["name"] for f in record["fields"]} >= {"name", "depth"}
        assert record["links"] == []
        assert record["st_xmin"] == pytest.approx(121.50)
        assert record["st_ymax"] == pytest.approx(29.87)
    finally:
        conn = psycopg2.connect(db_url)
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM meta.dataset WHERE layer = 'catalogue_wells'")
            cur.execute("DROP TABLE IF EXISTS data.catalogue_wells")
        conn.close()
    assert _sync(synced).deleted == ["catalogue_wells"]


def test_cli_sync(synced: Settings) -> None:
    result = CliRunner().invoke(main, ["catalogue", "sync"], obj={"settings": synced})
    assert result.exit_code == 0, result.output
    assert "catalogue:" in result.output and "0 new" in result.output


def test_missing_database_is_a_clear_error(synced: Settings) -> None:
    bad = synced.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
    result = CliRunner().invoke(main, ["catalogue", "sync"], obj={"settings": bad})
    assert result.exit_code == 1
    assert "error: cannot connect to PostgreSQL" in result.output


def test_app_start_without_database_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    from spatialsvc.errors import DatabaseUnavailable
    from spatialsvc.web.app import create_app

    bad = settings.model_copy(
        update={"database_url": "postgresql://nobody@127.0.0.1:1/none", "home": tmp_path}
    )
    with pytest.raises(DatabaseUnavailable, match="syncing the resource catalogue failed"):
        create_app(bad)
