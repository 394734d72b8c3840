"""Sequential colour ramps for class maps, without a plotting library.

The anchors are ColorBrewer's 9-class sequential schemes (Cynthia Brewer, Mark Harrower and
The Pennsylvania State University; Apache-2.0 licence). :func:`ramp` samples ``k`` colours from
the second to the last anchor (the first is too close to white to read on a basemap),
interpolating in RGB.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

BREWER9: dict[str, list[str]] = {
    "YlOrRd": "#ffffcc #ffeda0 #fed976 #feb24c #fd8d3c #fc4e2a #e31a1c #bd0026 #800026".split(),
    "OrRd": "#fff7ec #fee8c8 #fdd49e #fdbb84 #fc8d59 #ef6548 #d7301f #b30000 #7f0000".split(),
    "Reds": "#fff5f0 #fee0d2 #fcbba1 #fc9272 #fb6a4a #ef3b2c #cb181d #a50f15 #67000d".split(),
    "Blues": "#f7fbff #deebf7 #c6dbef #9ecae1 #6baed6 #4292c6 #2171b5 #08519c #08306b".split(),
    "Greens": "#f7fcf5 #e5f5e0 #c7e9c0 #a1d99b #74c476 #41ab5d #238b45 #006d2c #00441b".split(),
    "Purples": "#fcfbfd #efedf5 #dadaeb #bcbddc #9e9ac8 #807dba #6a51a3 #54278f #3f007d".split(),
    "YlGnBu": "#ffffd9 #edf8b1 #c7e9b4 #7fcdbb #41b6c4 #1d91c0 #225ea8 #253494 #081d58".split(),
    "YlGn": "#ffffe5 #f7fcb9 #d9f0a3 #addd8e #78c679 #41ab5d #238443 #006837 #004529".split(),
    "PuBu": "#fff7fb #ece7f2 #d0d1e6 #a6bddb #74a9cf #3690c0 #0570b0 #045a8d #023858".split(),
}
DEFAULT = "YlOrRd"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(v))):02x}" for v in rgb)


def ramp(name: str, k: int) -> list[str]:
    """``k`` colours (``#rrggbb``) from light to dark along a named ColorBrewer scheme."""
    if k < 1:
        raise ValueError("k must be at least 1")
    found = {n.lower(): v for n, v in BREWER9.items()}.get(name.lower())
    if found is None:
        raise ValueError(f"unknown palette {name!r}; use one of {', '.join(BREWER9)}")
    anchors = [_rgb(c) for c in found[1:]]
    if k == 1:
        return [_hex(anchors[len(anchors) // 2])]
    out = []
    for i in range(k):
        t = i * (len(anchors) - 1) / (k - 1)
        lo = min(int(t), len(anchors) - 2)
        f = t - lo
        a, b = anchors[lo], anchors[lo + 1]
        out.append(
            _hex((a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f))
        )
    return out


def colours(spec: str | list[str], k: int) -> list[str]:
    """A palette name, or a list of exactly ``k`` ``#rrggbb`` colours, checked."""
    if isinstance(spec, str):
        return ramp(spec, k)
    given = list(spec)
    if len(given) != k:
        raise ValueError(f"colors: {len(given)} colours given for {k} classes")
    for color in given:
        if not _HEX.match(color):
            raise ValueError(f"colors: {color!r} is not a #rrggbb colour")
    return [c.lower() for c in given]
