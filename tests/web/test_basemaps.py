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


# A CoverageJSON answer is bounded (coverage_json_max_cells, 1,000,000 by default): the whole
# demo DEM (2,600 x 1,550 cells) as JSON is 73 MB and seconds of a worker for anyone.


def _dem_grid(settings) -> tuple[int, int, tuple[float, float, float, float]]:  # type: ignore[no-untyped-def]
    with rasterio.open(terrain_files(settings.home / "basemaps").dem) as dem:
        b = dem.bounds
        return dem.width, dem.height, (b.left, b.bottom, b.right, b.top)


def test_whole_dem_as_json_is_refused_with_the_way_out(client, settings) -> None:  # type: ignore[no-untyped-def]
    width, height, _bounds = _dem_grid(settings)
    assert width * height > 1_000_000  # the premise: the demo DEM is over the limit
    for query in ("", "?f=json", "?f=html"):
        r = client.get(f"/collections/terrain_dem/coverage{query}")
        assert r.status_code == 400, (query, r.text[:300])
        body = r.json()
        assert f"{width * height:,} cells" in body["description"]
        assert "f=GTiff" in body["description"] and "Traceback" not in r.text
    whole = client.get("/collections/terrain_dem/coverage?f=GTiff")  # the file itself: cheap
    assert whole.status_code == 200
    with MemoryFile(whole.content) as mem, mem.open() as got:
        assert (got.width, got.height) == (width, height)


def test_json_within_the_limit_by_bbox_or_subset(client) -> None:  # type: ignore[no-untyped-def]
    small = client.get("/collections/terrain_dem/coverage?bbox=121.20,29.75,121.25,29.80")
    assert small.status_code == 200, small.text[:300]
    assert small.json()["type"] == "Coverage"
    subset = client.get(
        "/collections/terrain_dem/coverage?subset=Lat(29.75:29.80),Long(121.20:121.25)"
    )
    assert subset.status_code == 200, subset.text[:300]
    # a subset of one axis narrows nothing in the other: still the whole width, refused
    one_axis = client.get("/collections/terrain_dem/coverage?subset=Lat(29.70:29.97)")
    assert one_axis.status_code == 400


def test_cell_count_of_a_box(settings) -> None:  # type: ignore[no-untyped-def]
    from spatialsvc.errors import InvalidInput
    from spatialsvc.web.pygeoapi_routes import RasterGrid, _subset_box, check_coverage_size

    width, height, (west, south, east, north) = _dem_grid(settings)
    grid = RasterGrid(width, height, (west, south, east, north))
    assert grid.cells(None) == width * height
    # a quarter of the raster (half of each side): a quarter of its cells, give or take a row
    half = (west, south, (west + east) / 2, (south + north) / 2)
    assert abs(grid.cells(half) - width * height / 4) <= width + height
    # a box reaching past the raster counts only the cells inside it
    assert grid.cells((west - 1, south - 1, east + 1, north + 1)) == width * height
    assert grid.cells((east + 1, north + 1, east + 2, north + 2)) == 0
    assert _subset_box(["Lat(29.75:29.80),Long(121.25:121.20)"]) == (121.20, 29.75, 121.25, 29.80)
    assert _subset_box(["Lat(29.75:29.80)", "Long(121.20:121.25)"]) == (
        121.20,
        29.75,
        121.25,
        29.80,
    )
    assert _subset_box(["Lat(29.75:29.80)"]) is None
    assert _subset_box(["Lat(a:b),Long(1:2)"]) is None
    check_coverage_size(grid, half, "GTiff", 10)  # GeoTIFF answers are not limited
    check_coverage_size(grid, half, "json", width * height)
    try:
        check_coverage_size(grid, half, "json", 10)
    except InvalidInput as exc:
        assert "cells, more than the 10 a CoverageJSON answer may" in exc.message
    else:
        raise AssertionError("a JSON answer over the limit was let through")
