"""Raster basemap tiles (PNG / WebP) cut from the shaded-relief COG with rio-tiler."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from spatialsvc.errors import InvalidInput, NotFound

FORMATS = {"png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
TILE_SIZE = 256
MAX_ZOOM = 18


@lru_cache(maxsize=4)
def empty_tile(fmt: str) -> bytes:
    """A fully transparent tile, for the world outside the basemap."""
    from rio_tiler.utils import render

    data = np.zeros((3, TILE_SIZE, TILE_SIZE), dtype="uint8")
    mask = np.zeros((TILE_SIZE, TILE_SIZE), dtype="uint8")
    return bytes(render(data, mask, img_format=FORMATS[fmt][0]))


def check_tile(z: int, x: int, y: int, fmt: str) -> None:
    """Reject a tile address or format that cannot exist."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown tile format {fmt!r}: use png or webp")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom {z} is outside 0-{MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise NotFound(f"tile {z}/{x}/{y} does not exist")


def render_tile(source: Path, z: int, x: int, y: int, fmt: str) -> bytes:
    """One WebMercatorQuad tile of the basemap, or a transparent tile outside it."""
    check_tile(z, x, y, fmt)
    if not source.exists():
        raise NotFound("the raster basemap has not been built: run `spatialsvc demo generate`")
    with Reader(str(source)) as reader:
        try:
            image = reader.tile(x, y, z, tilesize=TILE_SIZE)
        except TileOutsideBounds:
            return empty_tile(fmt)
    if not np.any(image.mask):
        return empty_tile(fmt)
    return bytes(image.render(img_format=FORMATS[fmt][0]))


def etag(data: bytes) -> str:
    """A strong ETag for tile bytes."""
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
