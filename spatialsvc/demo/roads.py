"""A plausible road network: county arterials plus a jittered grid of roads in each township.

Built in the local metric frame. Arterials cross township borders and have names unique in the
county; township roads have names unique within their township, repeating across townships.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from spatialsvc.demo.names import pair_names, pool, short_community_name

HALF_WIDTH = {"arterial": 14.0, "secondary": 9.0, "branch": 5.0}
MIN_PART_M = 80.0


@dataclass
class RoadNet:
    """Road features in the metric frame (one LineString each)."""

    road_id: list[str]
    name: list[str]
    township_code: list[str]
    road_class: list[str]
    geom_m: NDArray[np.object_]
    origin: list[int]  # index of the generated road a part belongs to (shared door numbering)


def _jittered_line(
    rng: np.random.Generator,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    step: float,
    amp: float,
) -> BaseGeometry:
    """A polyline from ``a`` to ``b`` with waypoints every ``step`` m jittered sideways."""
    length = float(np.hypot(*(b - a)))
    n = max(2, int(length // step) + 1)
    t = np.linspace(0.0, 1.0, n)
    d = (b - a) / length
    nrm = np.array([-d[1], d[0]])
    off = rng.normal(0.0, amp, n)
    off[0] = off[-1] = 0.0
    off = np.convolve(off, np.ones(3) / 3, mode="same")
    pts = a + np.outer(t, b - a) + np.outer(off, nrm)
    return shapely.LineString(pts)


def _majority(line: BaseGeometry, t_geoms: NDArray[np.object_], t_codes: list[str]) -> str:
    lengths = shapely.length(shapely.intersection(t_geoms, line))
    return t_codes[int(np.argmax(lengths))]


def _parts(geom: BaseGeometry) -> list[BaseGeometry]:
    merged = shapely.line_merge(geom) if geom.geom_type == "MultiLineString" else geom
    return [
        p
        for p in shapely.get_parts(merged)
        if p.geom_type == "LineString" and p.length >= MIN_PART_M
    ]


class _Namer:
    """Per-township road names: common stems first (so they repeat), then invented ones."""

    def __init__(self, rng: np.random.Generator, reserved: set[str]) -> None:
        self.rng = rng
        self.reserved = reserved
        self.common = list(pool("road_common.txt"))
        self.invented = pair_names(rng, pool("road_syllables.txt"), 400)

    def names_for(self, n: int) -> list[str]:
        used = set(self.reserved)
        k = min(len(self.common), max(2, n // 3))
        picks = [self.common[i] for i in self.rng.choice(len(self.common), k, replace=False)]
        picks += [self.invented[i] for i in self.rng.permutation(len(self.invented))]
        out: list[str] = []
        for stem in picks:
            if len(out) == n:
                break
            if stem not in used:
                used.add(stem)
                out.append(stem)
        return out


def _suffix(rng: np.random.Generator, road_class: str) -> str:
    if road_class == "secondary":
        return str(rng.choice(["路", "路", "街"]))
    return str(rng.choice(["路", "路", "街", "巷", "弄"]))


def build_roads(
    county_m: BaseGeometry,
    t_codes: list[str],
    t_geoms_m: NDArray[np.object_],
    c_names: list[str],
    c_geoms_m: NDArray[np.object_],
    urban: set[str],
    rng: np.random.Generator,
    echo: Callable[[str], None],
) -> RoadNet:
    """Generate arterials and township roads, clipped and split into LineStrings."""
    names: list[str] = []
    towns: list[str] = []
    classes: list[str] = []
    geoms: list[BaseGeometry] = []
    origin: list[int] = []
    gen = 0

    # arterials across the county
    x0, y0, x1, y1 = county_m.bounds
    stems = pair_names(rng, pool("road_syllables.txt"), 12)
    art_stems = [s for s in stems if s not in pool("road_common.txt")][:7]
    specs = []
    for f in (0.35, 0.55, 0.72):  # east-west
        y = y0 + (f + rng.uniform(-0.05, 0.05)) * (y1 - y0)
        specs.append((np.array([x0 - 500, y]), np.array([x1 + 500, y + rng.uniform(-2000, 2000)])))
    for f in (0.3, 0.55, 0.75, 0.9):  # north-south
        x = x0 + (f + rng.uniform(-0.03, 0.03)) * (x1 - x0)
        specs.append((np.array([x, y0 - 500]), np.array([x + rng.uniform(-1500, 1500), y1 + 500])))
    reserved: set[str] = set()
    for k, (a, b) in enumerate(specs):
        name = art_stems[k] + ("大道" if k % 2 == 0 else "路")
        reserved.add(art_stems[k])
        line = shapely.intersection(_jittered_line(rng, a, b, 600.0, 120.0), county_m)
        for part in _parts(line):
            names.append(name)
            towns.append(_majority(part, t_geoms_m, t_codes))
            classes.append("arterial")
            geoms.append(part)
            origin.append(gen)
        gen += 1

    namer = _Namer(rng, reserved)
    shapely.prepare(c_geoms_m)
    for ti, code in enumerate(t_codes):
        region = t_geoms_m[ti]
        is_urban = code in urban
        spacing = float(rng.uniform(190, 260) if is_urban else rng.uniform(600, 800))
        angle = math.radians(float(rng.uniform(-18, 18)))
        c = np.array(region.centroid.coords[0])
        half = (
            0.5
            * math.hypot(region.bounds[2] - region.bounds[0], region.bounds[3] - region.bounds[1])
            + spacing
        )
        u = np.array([math.cos(angle), math.sin(angle)])
        v = np.array([-u[1], u[0]])
        offsets = np.arange(-half, half + 1, spacing) + rng.uniform(0, spacing)
        cand: list[tuple[BaseGeometry, str]] = []
        for axis, other in ((u, v), (v, u)):
            for j, off in enumerate(offsets):
                a = c + other * off - axis * half
                b = c + other * off + axis * half
                cls = "secondary" if j % 3 == 0 else "branch"
                line = shapely.intersection(
                    _jittered_line(rng, a, b, 300.0, spacing * 0.06), region
                )
                if not line.is_empty and line.length >= MIN_PART_M:
                    cand.append((line, cls))
        stems_t = namer.names_for(len(cand))
        village_used: set[str] = set()
        for (line, cls), stem in zip(cand, stems_t, strict=False):
            name = stem + ("路" if cls == "secondary" else _suffix(rng, cls))
            if not is_urban and cls == "branch":
                mid = line.interpolate(0.5, normalized=True)
                hits = np.flatnonzero(shapely.contains(c_geoms_m, mid))
                if len(hits):
                    village = short_community_name(c_names[int(hits[0])])
                    if village.endswith("村") and village not in village_used:
                        village_used.add(village)
                        name = village + "路"
            for part in _parts(line):
                names.append(name)
                towns.append(code)
                classes.append(cls)
                geoms.append(part)
                origin.append(gen)
            gen += 1

    ids = [f"R{i + 1:05d}" for i in range(len(names))]
    echo(
        f"roads: {len(ids)} road features "
        f"({classes.count('arterial')} arterial, {classes.count('secondary')} secondary, "
        f"{classes.count('branch')} branch)"
    )
    return RoadNet(ids, names, towns, classes, np.array(geoms, dtype=object), origin)
