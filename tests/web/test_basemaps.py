"""The raster basemap's tiles and the terrain coverage, through the running application."""

from __future__ import annotations

import io

import morecantile
import numpy as np
import rasterio
from rasterio.io import MemoryFile

from spatialsvc.basemaps.raster_tiles import empty_tile
from spatialsvc.basemaps.terrain import terrain_files

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")


def _png_alpha(data: bytes) -> np.ndarray:
    with MemoryFile(io.BytesIO(data)) as mem, mem.open() as img:
        return img.read(img.count)


def test_tile_over_haishu_is_drawn(client) -> None:  # type: ignore[no-untyped-def]
    t = WEB_MERCATOR.tile(121.30, 29.80, 12)
    r = client.get(f"/basemaps/raster/tiles/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content != empty_tile("png")
    alpha = _png_alpha(r.content)
    assert alpha.mean() > 250  # fully inside the basemap: opaque
    assert "max-age" in r.headers["cache-control"]
    again = client.get(r.url, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_tile_outside_is_transparent_and_webp_works(client) -> None:  # type: ignore[no-untyped-def]
    t = WEB_MERCATOR.tile(116.40, 39.90, 12)  # Beijing
    r = client.get(f"/basemaps/raster/tiles/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and _png_alpha(r.content).max() == 0
    t = WEB_MERCATOR.tile(121.30, 29.80, 11)
    w = client.get(f"/basemaps/raster/tiles/{t.z}/{t.x}/{t.y}.webp")
    assert w.status_code == 200 and w.headers["content-type"] == "image/webp"
    assert w.content[:4] == b"RIFF"


def test_bad_tile_requests(client) -> None:  # type: ignore[no-untyped-def]
    for path, status in [
        ("/basemaps/raster/tiles/12/1/1.gif", 400),
        ("/basemaps/raster/tiles/25/1/1.png", 400),
        ("/basemaps/raster/tiles/3/9/1.png", 404),
        ("/basemaps/raster/tiles/a/1/1.png", 400),
    ]:
        r = client.get(path)
        assert r.status_code == status, path
        body = r.json()
        assert body["code"] and body["description"] and "Traceback" not in r.text


def test_tilejson(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/basemaps/raster/tilejson.json").json()
    assert doc["tiles"][0].endswith("/basemaps/raster/tiles/{z}/{x}/{y}.png")
    assert doc["bounds"][0] < 121.2 and doc["bounds"][2] > 121.55


def test_terrain_coverage_matches_the_dem(client, settings) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/collections/terrain_dem/coverage?bbox=121.20,29.75,121.25,29.80&f=GTiff")
    assert r.status_code == 200, r.text[:300]
    with MemoryFile(r.content) as mem, mem.open() as got:
        assert got.crs.to_epsg() == 4490
        window_bounds = got.bounds
        values = got.read(1)
        # pygeoapi's rasterio provider pads one edge row with 1e20: compare the real cells
        valid = values[values < 1e19]
        assert valid.size > 0.95 * values.size
    with rasterio.open(terrain_files(settings.home / "basemaps").dem) as dem:
        window = dem.window(*window_bounds)
        expected = dem.read(1, window=window.round_offsets().round_lengths())
    assert values.shape[0] > 10 and values.shape[1] > 10
    assert abs(float(valid.mean()) - float(expected.mean())) < 1.0
