"""Glyph PBFs for MapLibre, made from real fonts (Noto Sans CJK, WenQuanYi) with FreeType.

MapLibre asks for ``{fontstack}/{start}-{end}.pbf``: 256 code points at a time, each glyph a
signed distance field laid out as Mapbox's fontnik does: glyphs rasterised at 24 px, a 3 px
buffer around the bitmap, 8-bit values with the outline at 192 and 32 steps a pixel
(``255 - 255 * (d / 8 + 0.25)``, ``d`` the distance in pixels, negative inside).

Each glyph is rasterised at four times the size, its exact signed distance computed there with
``scipy.ndimage.distance_transform_edt`` and averaged down to 24 px, which gives sub-pixel
edges without tracing outlines.  Ranges are made on first request and cached on disk.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from spatialsvc.basemaps.pbf import Glyph, encode_glyphs
from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.fileio import write_atomic

SIZE = 24
BUFFER = 3
RADIUS = 8.0
CUTOFF = 0.25
SCALE = 4  # rasterise at SCALE × SIZE, then average the distance field down
RANGE_SIZE = 256
MAX_CODE_POINT = 65535

# Font files looked for, in order; every face of each file that exists is published.
FONT_FILES: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
DEFAULT_FONT = "Noto Sans CJK SC Regular"

_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")


@dataclass(frozen=True)
class FontFace:
    """One face of a font file, named as MapLibre names it: family and style."""

    name: str
    path: Path
    index: int


@lru_cache(maxsize=8)
def discover_fonts(paths: tuple[Path, ...] = FONT_FILES) -> dict[str, FontFace]:
    """The faces of the font files that exist, by ``"{family} {style}"``."""
    import freetype

    fonts: dict[str, FontFace] = {}
    for path in paths:
        if not path.is_file():
            continue
        count = freetype.Face(str(path)).num_faces
        for index in range(count):
            face = freetype.Face(str(path), index)
            family = face.family_name.decode("utf-8", "replace")
            style = face.style_name.decode("utf-8", "replace")
            fonts.setdefault(f"{family} {style}", FontFace(f"{family} {style}", path, index))
    return fonts


def parse_range(text: str) -> tuple[int, int]:
    """``"27904-28159"`` → ``(27904, 28159)``; a range must be one aligned block of 256."""
    match = _RANGE.match(text)
    if not match:
        raise InvalidInput(f"glyph range must look like 0-255, not {text[:20]!r}")
    start, end = int(match.group(1)), int(match.group(2))
    if start % RANGE_SIZE or end != start + RANGE_SIZE - 1 or end > MAX_CODE_POINT:
        raise InvalidInput(
            f"glyph range {text!r} must be 256 code points starting at a multiple of 256, "
            f"up to {MAX_CODE_POINT}"
        )
    return start, end


def resolve_fontstack(fontstack: str, fonts: dict[str, FontFace]) -> list[FontFace]:
    """The known faces of a comma-separated fontstack, in order; none known → NotFound."""
    names = [n.strip() for n in fontstack.split(",") if n.strip()]
    faces = [fonts[n] for n in names if n in fonts]
    if not faces:
        raise NotFound(f"font stack {fontstack[:100]!r} names no font this service has")
    return faces


def sdf_values(inside: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """8-bit SDF of a high-resolution coverage mask, averaged down by ``scale``.

    ``inside`` is a boolean array whose sides are multiples of ``scale``; the result has the
    sides divided by ``scale``.  192 is the outline; larger is inside.
    """
    from scipy.ndimage import distance_transform_edt

    outside_dist = distance_transform_edt(~inside)  # to the nearest inside pixel
    inside_dist = distance_transform_edt(inside)  # to the nearest outside pixel
    signed = np.where(inside, 0.5 - inside_dist, outside_dist - 0.5) / scale
    rows, cols = inside.shape[0] // scale, inside.shape[1] // scale
    low = signed.reshape(rows, scale, cols, scale).mean(axis=(1, 3))
    values = 255.0 - 255.0 * (low / RADIUS + CUTOFF)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


class GlyphRenderer:
    """Renders the glyphs of one font face (not thread-safe: guard with a lock)."""

    def __init__(self, font: FontFace) -> None:
        import freetype

        self.font = font
        self.face = freetype.Face(str(font.path), font.index)
        self.face.set_char_size(SIZE * 64)
        self.ascender = self.face.size.ascender / 64.0
        self.face.set_char_size(SIZE * SCALE * 64)
        self._flags = freetype.FT_LOAD_RENDER | freetype.FT_LOAD_NO_HINTING

    def has(self, code_point: int) -> bool:
        """Whether the face maps the code point to a glyph."""
        return bool(self.face.get_char_index(code_point))

    def render(self, code_point: int) -> Glyph:
        """The SDF glyph of one code point the face has."""
        self.face.load_char(code_point, self._flags)
        slot = self.face.glyph
        advance = int(round(slot.linearHoriAdvance / 65536.0 / SCALE))
        bitmap: Any = slot.bitmap
        rows, width, pitch = bitmap.rows, bitmap.width, bitmap.pitch
        if rows == 0 or width == 0:
            return Glyph(code_point, b"", 0, 0, 0, 0, advance)
        raw = ctypes.string_at(bitmap._FT_Bitmap.buffer, rows * abs(pitch))
        hi = np.frombuffer(raw, dtype=np.uint8).reshape(rows, abs(pitch))[:, :width]
        left_hi, top_hi = slot.bitmap_left, slot.bitmap_top
        left = left_hi // SCALE
        right = -((-(left_hi + width)) // SCALE)
        top = -((-top_hi) // SCALE)
        bottom = (top_hi - rows) // SCALE
        w, h = right - left, top - bottom
        canvas = np.zeros(((h + 2 * BUFFER) * SCALE, (w + 2 * BUFFER) * SCALE), dtype=bool)
        r0 = (top + BUFFER) * SCALE - top_hi
        c0 = left_hi - (left - BUFFER) * SCALE
        canvas[r0 : r0 + rows, c0 : c0 + width] = hi >= 128
        values = sdf_values(canvas)
        glyph_top = int(top - self.ascender)
        return Glyph(code_point, values.tobytes(), w, h, left, glyph_top, advance)


def render_range(renderers: Iterable[GlyphRenderer], start: int, end: int) -> list[Glyph]:
    """Glyphs of ``start..end`` (inclusive), each from the first face that has it."""
    chain = list(renderers)
    glyphs = []
    for code_point in range(start, end + 1):
        for renderer in chain:
            if renderer.has(code_point):
                glyphs.append(renderer.render(code_point))
                break
    return glyphs


class GlyphStore:
    """Glyph PBFs by fontstack and range, made on demand and cached under ``folder``."""

    def __init__(self, folder: Path, fonts: dict[str, FontFace] | None = None) -> None:
        self.folder = folder
        self.fonts = discover_fonts() if fonts is None else fonts
        self._renderers: dict[str, GlyphRenderer] = {}
        self._lock = threading.Lock()

    def font_names(self) -> list[str]:
        """Names of the fonts served."""
        return sorted(self.fonts)

    def _renderer(self, font: FontFace) -> GlyphRenderer:
        if font.name not in self._renderers:
            self._renderers[font.name] = GlyphRenderer(font)
        return self._renderers[font.name]

    def _cache_path(self, faces: list[FontFace], start: int, end: int) -> Path:
        key = ",".join(f.name for f in faces)
        digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
        return self.folder / digest / f"{start}-{end}.pbf"

    def get(self, fontstack: str, range_text: str) -> bytes:
        """The PBF of one range of a fontstack (NotFound / InvalidInput on a bad request)."""
        start, end = parse_range(range_text)
        faces = resolve_fontstack(fontstack, self.fonts)
        path = self._cache_path(faces, start, end)
        if path.is_file():
            return path.read_bytes()
        with self._lock:
            if path.is_file():
                return path.read_bytes()
            glyphs = render_range([self._renderer(f) for f in faces], start, end)
            data = encode_glyphs(",".join(f.name for f in faces), start, end, glyphs)
            write_atomic(path, data)
        return data
