"""Name pools for the demo geography, read from the data files in ``spatialsvc/data/demo``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"

_COMMUNITY_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会")


def _lines(name: str) -> list[str]:
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.extend(line.split())
    return out


@cache
def pool(name: str) -> tuple[str, ...]:
    """Return the entries of one pool file, in file order (duplicates removed)."""
    return tuple(dict.fromkeys(_lines(name)))


def short_community_name(name: str) -> str:
    """Drop the committee suffix: '东方社区居委会' -> '东方社区', '某某村村委会' -> '某某村'."""
    for suffix in _COMMUNITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def pair_names(rng: np.random.Generator, syllables: tuple[str, ...], n: int) -> list[str]:
    """Draw ``n`` distinct two-syllable stems (deterministic for a given generator state)."""
    out: dict[str, None] = {}
    k = len(syllables)
    while len(out) < n:
        a, b = rng.integers(0, k, size=2)
        if a != b:
            out[syllables[int(a)] + syllables[int(b)]] = None
    return list(out)
