"""Glyph PBFs: the protobuf encoding, the SDF layout and the on-disk cache."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from spatialsvc.basemaps.glyphs import (
    DEFAULT_FONT,
    GlyphStore,
    discover_fonts,
    parse_range,
    resolve_fontstack,
    sdf_values,
)
from spatialsvc.basemaps.pbf import Glyph, decode_glyphs, encode_glyphs, varint, zigzag
from spatialsvc.errors import InvalidInput, NotFound

SEA = 0x6D77  # 海


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf reader independent of spatialsvc.basemaps.pbf (varint and bytes only)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        if key & 7 == 0:
            value, pos = _varint(data, pos)
            out.append((key >> 3, value))
        else:
            assert key & 7 == 2
            size, pos = _varint(data, pos)
            out.append((key >> 3, data[pos : pos + size]))
            pos += size
    return out


def _decode(data: bytes) -> tuple[str, str, list[dict[int, int | bytes]]]:
    (field, stack), *rest = _fields(data)
    assert field == 1 and not rest
    assert isinstance(stack, bytes)
    parts = _fields(stack)
    name, rng = parts[0][1], parts[1][1]
    assert parts[0][0] == 1 and parts[1][0] == 2
    assert isinstance(name, bytes) and isinstance(rng, bytes)
    glyphs = []
    for f, g in parts[2:]:
        assert f == 3 and isinstance(g, bytes)
        glyphs.append(dict(_fields(g)))
    return name.decode(), rng.decode(), glyphs


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GlyphStore:
    return GlyphStore(tmp_path_factory.mktemp("glyphs"))


def test_the_cjk_font_is_installed() -> None:
    assert DEFAULT_FONT in discover_fonts(), "install fonts-noto-cjk (make system)"


def test_encoding_primitives() -> None:
    assert varint(0) == b"\x00" and varint(300) == b"\xac\x02"
    assert [zigzag(v) for v in (0, -1, 1, -2, 2)] == [0, 1, 2, 3, 4]
    glyph = Glyph(65, b"\x01" * 42, 1, 0, -3, -20, 7)
    data = encode_glyphs("A B", 0, 255, [glyph])
    assert decode_glyphs(data) == [("A B", "0-255", [glyph])]
    fields = _decode(data)[2][0]
    assert fields[5] == 5 and fields[6] == 39  # zig-zag: -3 → 5, -20 → 39


def test_cjk_range(store: GlyphStore) -> None:
    data = store.get(DEFAULT_FONT, "27904-28159")
    name, rng, glyphs = _decode(data)
    assert name == DEFAULT_FONT and rng == "27904-28159"
    assert 0 < len(glyphs) <= 256
    ids = [g[1] for g in glyphs]
    assert all(isinstance(i, int) and 27904 <= i <= 28159 for i in ids)
    assert len(set(ids)) == len(ids)
    for g in glyphs:
        width, height = g[3], g[4]
        assert isinstance(width, int) and isinstance(height, int)
        if width and height:
            bitmap = g[2]
            assert isinstance(bitmap, bytes)
            assert len(bitmap) == (width + 6) * (height + 6)
    sea = next(g for g in glyphs if g[1] == SEA)
    w, h, bitmap = sea[3], sea[4], sea[2]
    assert isinstance(w, int) and isinstance(h, int) and isinstance(bitmap, bytes)
    assert 18 <= w <= 26 and 18 <= h <= 26  # a 24 px ideograph
    sdf = np.frombuffer(bitmap, dtype=np.uint8).reshape(h + 6, w + 6)
    assert sdf.max() > 192 > sdf.min()
    assert (sdf[0] < 192).all() and (sdf[-1] < 192).all()  # the buffer is outside
    assert 20 <= sea[7] <= 26  # advance: about one em


def test_latin_range_and_space(store: GlyphStore) -> None:
    _, _, glyphs = _decode(store.get(DEFAULT_FONT, "0-255"))
    by_id = {g[1]: g for g in glyphs}
    space = by_id[32]
    assert 2 not in space and space[3] == 0 and isinstance(space[7], int) and space[7] > 0
    a = by_id[ord("A")]
    assert isinstance(a[2], bytes) and len(a[2]) == (a[3] + 6) * (a[4] + 6)  # type: ignore[operator]


def test_cache_is_used(store: GlyphStore) -> None:
    start = time.perf_counter()
    first = store.get(DEFAULT_FONT, "30464-30719")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    again = store.get(DEFAULT_FONT, "30464-30719")
    warm = time.perf_counter() - start
    assert first == again and warm < cold
    assert list(Path(store.folder).rglob("30464-30719.pbf"))
    assert cold < 10  # vectorised: a CJK range takes about a second


def test_fallback_stack_and_errors(store: GlyphStore) -> None:
    fonts = discover_fonts()
    faces = resolve_fontstack(f"Arial Unicode MS Regular,{DEFAULT_FONT}", fonts)
    assert [f.name for f in faces] == [DEFAULT_FONT]
    with pytest.raises(NotFound):
        store.get("Comic Sans MS Regular", "0-255")
    for bad in ("0-254", "1-256", "65536-65791", "abc", "256-0", "-1-255"):
        with pytest.raises(InvalidInput):
            parse_range(bad)
    assert parse_range("65280-65535") == (65280, 65535)


def test_sdf_edge_is_192() -> None:
    inside = np.zeros((40, 80), dtype=bool)
    inside[:, :40] = True  # a straight edge at high-res column 40, low-res column 10
    values = sdf_values(inside, scale=4)
    row = values[5].astype(int)
    assert row[0] == 255 and row[-1] == 0  # saturated far from the edge
    # low-res pixel 9 is inside, its centre half a pixel from the edge; pixel 10 outside
    assert 192 < row[9] < 192 + 32 and 192 - 32 < row[10] < 192
    assert abs((row[9] + row[10]) / 2 - 192) <= 1
