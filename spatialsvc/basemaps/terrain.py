"""A generated terrain for the demo district: a DEM and a shaded-relief basemap, as COGs.

Haishu is a coastal plain in the east (a few metres above the sea) rising to the hills of the
Siming Shan foothills in the west and south-west. No real elevation data is available offline,
so the DEM is generated: a west-to-east ramp with fractal noise, deterministic for a seed. It is
plainly a demo surface, not survey data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_bounds

Echo = Callable[[str], None]
CELL_DEG = 0.0002  # about 20 m
EXTENT = (121.10, 29.68, 121.62, 29.99)  # CRS84 / CGCS2000 lon-lat, a margin around Haishu
DEM_NAME = "haishu_dem.tif"
HILLSHADE_NAME = "haishu_hillshade.tif"

# Hypsometric tint: (elevation m, RGB)
TINT = [
    (0, (158, 197, 140)),
    (30, (190, 214, 150)),
    (120, (222, 214, 160)),
    (300, (196, 170, 125)),
    (600, (160, 130, 100)),
    (900, (230, 225, 220)),
]


@dataclass(frozen=True)
class TerrainFiles:
    """Where the terrain rasters are."""

    dem: Path
    hillshade: Path


def terrain_files(folder: Path) -> TerrainFiles:
    """The files under a basemaps folder."""
    return TerrainFiles(dem=folder / DEM_NAME, hillshade=folder / HILLSHADE_NAME)


def _fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], octaves: int = 6
) -> np.ndarray:
    """Sum of bilinearly upsampled random grids: smooth, self-similar noise in [-1, 1]."""
    h, w = shape
    total = np.zeros(shape)
    amplitude, weight = 1.0, 0.0
    for octave in range(octaves):
        cells = 2 ** (octave + 3)
        coarse = rng.uniform(-1, 1, (cells + 1, cells + 1))
        ys = np.linspace(0, cells, h)
        xs = np.linspace(0, cells, w)
        y0 = np.minimum(ys.astype(int), cells - 1)
        x0 = np.minimum(xs.astype(int), cells - 1)
        fy = (ys - y0)[:, None]
        fx = (xs - x0)[None, :]
        a = coarse[y0][:, x0]
        b = coarse[y0][:, x0 + 1]
        c = coarse[y0 + 1][:, x0]
        d = coarse[y0 + 1][:, x0 + 1]
        total += amplitude * ((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy)
        weight += amplitude
        amplitude *= 0.5
    return total / weight


def elevation(seed: int, extent: tuple[float, float, float, float] = EXTENT) -> np.ndarray:
    """A DEM in metres over ``extent`` (rows north to south), deterministic for a seed."""
    minx, miny, maxx, maxy = extent
    width = round((maxx - minx) / CELL_DEG)
    height = round((maxy - miny) / CELL_DEG)
    rng = np.random.default_rng(seed)
    lon = np.linspace(minx, maxx, width)[None, :]
    lat = np.linspace(maxy, miny, height)[:, None]
    wobble = _fractal_noise(rng, (height, width), octaves=4)
    ridges = 1.0 - np.abs(_fractal_noise(rng, (height, width), octaves=8))
    # 0 on the plain east of ~121.42E, rising to the south-west hills; an irregular foot.
    west = (121.42 - lon) / 0.28 + 0.6 * np.clip((29.84 - lat) / 0.15, 0, 1)
    hills = np.clip(west + 0.35 * wobble, 0, 1.4) ** 1.5
    dem = 3.0 + 2.0 * wobble + hills * (100.0 + 620.0 * ridges**2.2)
    return np.clip(dem, 0.0, None).astype("float32")


def hillshade(dem: np.ndarray, azimuth: float = 315.0, altitude: float = 45.0) -> np.ndarray:
    """Shaded relief in [0, 1] for a DEM on a grid of ~20 m cells."""
    cell_m = CELL_DEG * 111_000.0
    dy, dx = np.gradient(dem.astype("float64"), cell_m)
    slope = np.arctan(np.hypot(dx, dy) * 1.5)
    aspect = np.arctan2(-dx, dy)
    az = np.radians(360.0 - azimuth + 90.0)
    alt = np.radians(altitude)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    return np.clip(shade, 0, 1)


def tinted_relief(dem: np.ndarray) -> np.ndarray:
    """RGB (3, h, w) uint8: hypsometric tint multiplied by the hillshade."""
    levels = np.array([t[0] for t in TINT], dtype="float64")
    colours = np.array([t[1] for t in TINT], dtype="float64")
    rgb = np.stack([np.interp(dem, levels, colours[:, i]) for i in range(3)])
    shade = 0.55 + 0.45 * hillshade(dem)
    return np.clip(rgb * shade[None, :, :], 0, 255).astype("uint8")


def _write_cog(path: Path, data: np.ndarray, extent: tuple[float, float, float, float]) -> None:
    """Write a Cloud-Optimised GeoTIFF in EPSG:4490 atomically (temp file, then rename)."""
    bands = data if data.ndim == 3 else data[None, :, :]
    count, height, width = bands.shape
    profile = {
        "driver": "COG",
        "width": width,
        "height": height,
        "count": count,
        "dtype": bands.dtype.name,
        "crs": "EPSG:4490",
        "transform": from_bounds(*extent, width, height),
        "compress": "DEFLATE",
        "blocksize": 256,
        "overview_resampling": "average",
    }
    if count == 3:
        profile["photometric"] = "RGB"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(bands)
    tmp.replace(path)


def build_terrain(folder: Path, seed: int, echo: Echo = print) -> TerrainFiles:
    """Generate the DEM and the shaded-relief basemap as COGs under ``folder``."""
    files = terrain_files(folder)
    dem = elevation(seed)
    _write_cog(files.dem, dem, EXTENT)
    _write_cog(files.hillshade, tinted_relief(dem), EXTENT)
    echo(
        f"terrain: DEM {dem.shape[1]}x{dem.shape[0]} cells, {dem.min():.0f}-{dem.max():.0f} m, "
        f"and shaded relief, as COGs in {folder}"
    )
    return files
