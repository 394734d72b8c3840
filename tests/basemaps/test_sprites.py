"""The sprite sheet: PNG and JSON index agree, at both pixel ratios."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rasterio.io import MemoryFile

from spatialsvc.basemaps.sprites import ICONS, encode_png, sprite_sheet


def _read_png(data: bytes) -> np.ndarray:
    with MemoryFile(io.BytesIO(data)) as mem, mem.open() as img:
        return img.read()


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize("ratio", [1, 2])
def test_sheet_matches_index(ratio: int) -> None:
    png, index = sprite_sheet(ratio)
    bands = _read_png(png)
    assert bands.shape[0] == 4
    height, width = bands.shape[1:]
    assert set(index) == {icon.name for icon in ICONS} >= {"school", "hospital", "mall", "camera"}
    for name, entry in index.items():
        assert entry["pixelRatio"] == ratio
        assert entry["x"] + entry["width"] <= width and entry["y"] + entry["height"] <= height
        alpha = bands[
            3, entry["y"] : entry["y"] + entry["height"], entry["x"] : entry["x"] + entry["width"]
        ]
        assert alpha.max() == 255 and alpha[0, 0] == 0, name  # drawn, with transparent corners


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_png_round_trip() -> None:
    rgba = np.random.default_rng(1).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    assert (_read_png(encode_png(rgba)).transpose(1, 2, 0) == rgba).all()
    with pytest.raises(ValueError):
        encode_png(rgba[..., :3].copy())
