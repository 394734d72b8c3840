"""The vector basemap's sprite sheet: a few POI icons drawn with numpy, as PNG + JSON index.

Icons are drawn as shapes on a normalised square (x, y in -1..1, y down), supersampled for
anti-aliasing, at pixel ratio 1 and 2.  The PNG writer is the format's minimal form (one IDAT,
no filtering) over :mod:`zlib`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

ICON_SIZE = 21  # CSS pixels at pixel ratio 1
SUPERSAMPLE = 4
WHITE = (255, 255, 255)

Mask = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _disk(cx: float, cy: float, r: float) -> Mask:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _rect(x0: float, y0: float, x1: float, y1: float) -> Mask:
    return lambda x, y: (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _union(*masks: Mask) -> Mask:
    def mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(x.shape, dtype=bool)
        for m in masks:
            out |= m(x, y)
        return out

    return mask


def _minus(a: Mask, b: Mask) -> Mask:
    return lambda x, y: a(x, y) & ~b(x, y)


def _triangle(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> Mask:
    def side(x: np.ndarray, y: np.ndarray, p: tuple[float, float, float, float]) -> np.ndarray:
        x0, y0, x1, y1 = p
        return (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)

    def mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d1 = side(x, y, (ax, ay, bx, by))
        d2 = side(x, y, (bx, by, cx, cy))
        d3 = side(x, y, (cx, cy, ax, ay))
        neg = (d1 < 0) | (d2 < 0) | (d3 < 0)
        pos = (d1 > 0) | (d2 > 0) | (d3 > 0)
        return ~(neg & pos)

    return mask


@dataclass(frozen=True)
class Icon:
    """One icon: a coloured disk with a white rim and a white symbol on it."""

    name: str
    colour: tuple[int, int, int]
    symbol: Mask


ICONS: tuple[Icon, ...] = (
    # a school house: roof and walls with a door
    Icon(
        "school",
        (49, 130, 189),
        _minus(
            _union(_triangle(0.0, -0.6, -0.55, -0.1, 0.55, -0.1), _rect(-0.4, -0.12, 0.4, 0.5)),
            _rect(-0.1, 0.15, 0.1, 0.5),
        ),
    ),
    # a hospital cross
    Icon(
        "hospital",
        (214, 39, 40),
        _union(_rect(-0.15, -0.55, 0.15, 0.55), _rect(-0.55, -0.15, 0.55, 0.15)),
    ),
    # a shopping bag: body and handle
    Icon(
        "mall",
        (230, 126, 34),
        _union(
            _rect(-0.45, -0.15, 0.45, 0.5),
            _minus(_disk(0.0, -0.15, 0.3), _union(_disk(0.0, -0.15, 0.18), _rect(-1, -0.15, 1, 1))),
        ),
    ),
    # a camera: body, viewfinder bump, lens hole
    Icon(
        "camera",
        (106, 61, 154),
        _minus(
            _union(_rect(-0.55, -0.25, 0.55, 0.4), _rect(-0.2, -0.42, 0.2, -0.2)),
            _disk(0.0, 0.08, 0.2),
        ),
    ),
)
CATEGORY_ICONS = {"school": "school", "hospital": "hospital", "cbd": "mall"}


def draw_icon(icon: Icon, size: int) -> np.ndarray:
    """An RGBA uint8 array of ``size``×``size`` pixels (premultiplication not used)."""
    n = size * SUPERSAMPLE
    coords = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    y, x = np.meshgrid(coords, coords, indexing="ij")
    disk = _disk(0, 0, 0.92)(x, y)
    inner = _disk(0, 0, 0.8)(x, y)
    white = (disk & ~inner) | (inner & icon.symbol(x, y))
    colour = inner & ~white

    def coverage(mask: np.ndarray) -> np.ndarray:
        return mask.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))

    alpha = coverage(disk)
    w, c = coverage(white), coverage(colour)
    total = np.maximum(w + c, 1e-9)
    rgb = (w[..., None] * np.array(WHITE) + c[..., None] * np.array(icon.colour)) / total[..., None]
    out = np.zeros((size, size, 4), dtype=np.uint8)
    out[..., :3] = np.clip(np.rint(rgb), 0, 255)
    out[..., 3] = np.clip(np.rint(alpha * 255), 0, 255)
    return out


def encode_png(rgba: np.ndarray) -> bytes:
    """A PNG (8-bit RGBA, no interlace) of an (h, w, 4) uint8 array."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError("encode_png wants an (h, w, 4) uint8 array")
    height, width = rgba.shape[:2]
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgba.reshape(height, -1)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=4)
def sprite_sheet(pixel_ratio: int) -> tuple[bytes, dict[str, Any]]:
    """The sprite PNG and its JSON index for a pixel ratio (1 or 2)."""
    if pixel_ratio not in (1, 2):
        raise ValueError("pixel ratio must be 1 or 2")
    size = ICON_SIZE * pixel_ratio
    sheet = np.zeros((size, size * len(ICONS), 4), dtype=np.uint8)
    index: dict[str, Any] = {}
    for i, icon in enumerate(ICONS):
        sheet[:, i * size : (i + 1) * size] = draw_icon(icon, size)
        index[icon.name] = {
            "x": i * size,
            "y": 0,
            "width": size,
            "height": size,
            "pixelRatio": pixel_ratio,
        }
    return encode_png(sheet), index
