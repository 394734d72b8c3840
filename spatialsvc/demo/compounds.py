"""Door plates, compounds (小区/院落) and buildings (幢) laid out along the roads.

Each road side is walked from its start: the frontage is cut into slots that are vacant, a plain
door plate, a standalone building or a compound behind a gate, with odd numbers on the left and
even numbers on the right, increasing along the road. Compounds and buildings are rectangles
aligned to the road; candidates that leave their community, touch a road or overlap an earlier
candidate become plain door plates. Everything here is in the local metric frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from spatialsvc.demo.names import pair_names, pool
from spatialsvc.demo.roads import HALF_WIDTH, RoadNet

VACANT, DOOR, BUILDING, XIAOQU, YUANLUO = 0, 1, 2, 3, 4
SETBACK = 3.0

# slot kind probabilities: vacant, door, building, 小区, 院落
P_URBAN = np.array([0.30, 0.30, 0.17, 0.19, 0.04])
P_RURAL = np.array([0.70, 0.19, 0.10, 0.005, 0.005])


@dataclass
class Frontage:
    """Door plates, compounds and buildings (metric frame)."""

    # door plates
    plate_road: NDArray[np.int64]
    plate_number: NDArray[np.int64]
    plate_x: NDArray[np.float64]
    plate_y: NDArray[np.float64]
    plate_kind: NDArray[np.int64]
    # compounds
    comp_plate: NDArray[np.int64]
    comp_kind: NDArray[np.int64]
    comp_community: NDArray[np.int64]
    comp_name: list[str]
    comp_geom: NDArray[np.object_]
    # buildings
    bld_plate: NDArray[np.int64]
    bld_compound: NDArray[np.int64]  # -1 for standalone
    bld_number: NDArray[np.int64]
    bld_community: NDArray[np.int64]
    bld_floors: NDArray[np.int64]
    bld_units: NDArray[np.int64]
    bld_geom: NDArray[np.object_]
    # building frames for room placement: centre, along-axis, across-axis, half sizes
    bld_cx: NDArray[np.float64]
    bld_cy: NDArray[np.float64]
    bld_ux: NDArray[np.float64]
    bld_uy: NDArray[np.float64]
    bld_ha: NDArray[np.float64]
    bld_hb: NDArray[np.float64]


def _slots(
    roads: RoadNet, urban: set[str], rng: np.random.Generator
) -> dict[str, NDArray[np.float64]]:
    """Walk every road side and cut it into slots (scalar loop over roads)."""
    cols: dict[str, list[float]] = {k: [] for k in ("road", "side", "s", "kind", "w", "d", "num")}
    counters: dict[tuple[int, int], int] = {}
    lengths = shapely.length(roads.geom_m)
    for r in range(len(roads.road_id)):
        is_urban = roads.township_code[r] in urban
        probs = P_URBAN if is_urban else P_RURAL
        length = float(lengths[r])
        for side in (1, -1):
            key = (roads.origin[r], side)
            num = counters.get(key, 1 if side == 1 else 2)
            pos = float(rng.uniform(5, 20))
            while pos < length - 12:
                kind = int(rng.choice(5, p=probs))
                if kind == VACANT:
                    pos += float(rng.uniform(30, 160))
                    continue
                if kind == XIAOQU:
                    w, d = rng.uniform(70, 170), rng.uniform(60, 150)
                elif kind == YUANLUO:
                    w, d = rng.uniform(28, 55), rng.uniform(25, 50)
                elif kind == BUILDING:
                    w, d = rng.uniform(12, 26), rng.uniform(10, 18)
                else:
                    w, d = rng.uniform(8, 22), 0.0
                if pos + w > length - 8:
                    kind, w, d = DOOR, 8.0, 0.0
                for k, val in zip(cols, (r, side, pos + w / 2, kind, w, d, num), strict=True):
                    cols[k].append(float(val))
                num += 2 if rng.random() > 0.15 else 4
                pos += float(w + rng.uniform(3, 12))
            counters[key] = num
    return {k: np.asarray(v) for k, v in cols.items()}


def _rects(
    cx: NDArray[np.float64],
    cy: NDArray[np.float64],
    ux: NDArray[np.float64],
    uy: NDArray[np.float64],
    a0: NDArray[np.float64],
    a1: NDArray[np.float64],
    b0: NDArray[np.float64],
    b1: NDArray[np.float64],
) -> NDArray[np.object_]:
    """Rectangles [a0,a1]x[b0,b1] in frames with origin (cx,cy), axis u and normal (-uy,ux)."""
    vx, vy = -uy, ux
    a = np.stack([a0, a1, a1, a0, a0], axis=1)
    b = np.stack([b0, b0, b1, b1, b0], axis=1)
    x = cx[:, None] + a * ux[:, None] + b * vx[:, None]
    y = cy[:, None] + a * uy[:, None] + b * vy[:, None]
    return shapely.polygons(np.stack([x, y], axis=2))


def _greedy(polys: NDArray[np.object_], blocked: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Accept candidates in order unless blocked or intersecting an accepted one."""
    tree = shapely.STRtree(polys)
    i, j = tree.query(polys, predicate="intersects")
    sel = i != j
    i, j = i[sel], j[sel]
    order = np.argsort(i, kind="stable")
    i, j = i[order], j[order]
    starts = np.searchsorted(i, np.arange(len(polys) + 1))
    accepted = np.zeros(len(polys), dtype=bool)
    for k in range(len(polys)):
        if blocked[k]:
            continue
        if not accepted[j[starts[k] : starts[k + 1]]].any():
            accepted[k] = True
    return accepted


def _compound_names(
    kinds: NDArray[np.int64], township: list[str], rng: np.random.Generator
) -> list[str]:
    """Invented names, unique within a township, repeating across townships."""
    prefixes = pair_names(rng, pool("compound_syllables.txt"), 600)
    suffixes = pool("compound_suffixes.txt")
    yard = pool("courtyard_suffixes.txt")
    used: dict[str, set[str]] = {}
    out: list[str] = []
    for k, town in zip(kinds, township, strict=True):
        seen = used.setdefault(town, set())
        while True:
            p = prefixes[int(rng.integers(0, 160 if rng.random() < 0.5 else len(prefixes)))]
            s = suffixes if k == XIAOQU else yard
            name = p + s[int(rng.integers(0, len(s)))]
            if name not in seen:
                seen.add(name)
                out.append(name)
                break
    return out


def build_frontage(
    roads: RoadNet,
    c_geoms_m: NDArray[np.object_],
    c_township: list[str],
    urban: set[str],
    rng: np.random.Generator,
    echo: Callable[[str], None],
) -> Frontage:
    """Lay out door plates, compounds and buildings along the roads."""
    sl = _slots(roads, urban, rng)
    road = sl["road"].astype(np.int64)
    side = sl["side"]
    kind = sl["kind"].astype(np.int64)
    lines = roads.geom_m[road]
    p = shapely.get_coordinates(shapely.line_interpolate_point(lines, sl["s"]))
    lengths = shapely.length(lines)
    pa = shapely.get_coordinates(
        shapely.line_interpolate_point(lines, np.clip(sl["s"] - 3, 0, lengths))
    )
    pb = shapely.get_coordinates(
        shapely.line_interpolate_point(lines, np.clip(sl["s"] + 3, 0, lengths))
    )
    t = pb - pa
    t /= np.hypot(t[:, 0], t[:, 1])[:, None]
    # local frame: u along the road, v = side * left normal (points away from the road)
    ux, uy = t[:, 0] * side, t[:, 1] * side
    half = np.array([HALF_WIDTH[roads.road_class[r]] for r in road])
    front = half + SETBACK
    w, d = sl["w"], sl["d"]

    # candidate footprints (compounds and standalone buildings)
    is_poly = kind >= BUILDING
    pi = np.flatnonzero(is_poly)
    polys = _rects(
        p[pi, 0], p[pi, 1], ux[pi], uy[pi], -w[pi] / 2, w[pi] / 2, front[pi], front[pi] + d[pi]
    )
    inner = shapely.buffer(c_geoms_m, -2.0)
    c_tree = shapely.STRtree(inner)
    qi, qc = c_tree.query(polys, predicate="within")
    comm = np.full(len(polys), -1, dtype=np.int64)
    comm[qi] = qc
    road_buf = shapely.buffer(roads.geom_m, np.array([HALF_WIDTH[c] + 1 for c in roads.road_class]))
    hit, _ = shapely.STRtree(road_buf).query(polys, predicate="intersects")
    blocked = comm < 0
    blocked[hit] = True
    c_town = np.array(c_township)
    r_town = np.array(roads.township_code)
    r_art = np.array([c == "arterial" for c in roads.road_class])
    wrong_town = (comm >= 0) & (c_town[np.maximum(comm, 0)] != r_town[road[pi]]) & ~r_art[road[pi]]
    blocked |= wrong_town
    accepted = _greedy(polys, blocked)
    kind[pi[~accepted]] = DOOR

    # door plate points
    off = np.where(kind == DOOR, half + rng.uniform(5, 10, len(kind)), front + 2.0)
    off = np.where(kind == BUILDING, front + 1.0, off)
    plate_x = p[:, 0] - uy * off
    plate_y = p[:, 1] + ux * off

    # compounds
    ci = np.flatnonzero(kind >= XIAOQU)
    poly_of = np.full(len(kind), -1, dtype=np.int64)
    poly_of[pi] = np.arange(len(pi))
    comp_geom = polys[poly_of[ci]]
    comp_comm = comm[poly_of[ci]]
    comp_kind = kind[ci]
    comp_names = _compound_names(comp_kind, [c_township[c] for c in comp_comm], rng)

    # buildings inside compounds: rows x cols of slabs with margins
    b_comp, b_num, b_a0, b_a1, b_b0, b_b1, b_floor, b_unit = ([] for _ in range(8))
    for k, slot in enumerate(ci):
        xq = comp_kind[k] == XIAOQU
        margin = 6.0 if xq else 3.0
        bl = rng.uniform(28, 48) if xq else rng.uniform(12, 22)
        bd = rng.uniform(11, 15) if xq else rng.uniform(8, 11)
        ga, gb = (rng.uniform(8, 14), rng.uniform(16, 26)) if xq else (4.0, 5.0)
        aw, bw = w[slot] - 2 * margin, d[slot] - 2 * margin
        bl, bd = min(bl, aw), min(bd, bw)
        ncol = max(1, int((aw + ga) // (bl + ga)))
        nrow = max(1, int((bw + gb) // (bd + gb)))
        if not xq:
            ncol, nrow = min(ncol, 2), min(nrow, 2)
        a_start = -w[slot] / 2 + margin + (aw - (ncol * bl + (ncol - 1) * ga)) / 2
        b_start = front[slot] + margin
        n = 0
        town_urban = roads.township_code[road[slot]] in urban
        high = bool(xq and rng.random() < (0.6 if town_urban else 0.15))
        for row in range(nrow):
            for col in range(ncol):
                n += 1
                a0 = a_start + col * (bl + ga)
                b0 = b_start + row * (bd + gb)
                b_comp.append(k)
                b_num.append(n)
                b_a0.append(a0)
                b_a1.append(a0 + bl)
                b_b0.append(b0)
                b_b1.append(b0 + bd)
                if xq:
                    b_floor.append(int(rng.integers(11, 34) if high else rng.integers(5, 8)))
                    b_unit.append(int(rng.integers(1, 5)))
                else:
                    b_floor.append(int(rng.integers(3, 7)))
                    b_unit.append(int(rng.integers(1, 3)))
    bc = np.asarray(b_comp, dtype=np.int64)
    slot_of_b = ci[bc]
    # standalone buildings
    si = np.flatnonzero(kind == BUILDING)
    all_slot = np.concatenate([slot_of_b, si])
    a0 = np.concatenate([b_a0, -w[si] / 2])
    a1 = np.concatenate([b_a1, w[si] / 2])
    b0 = np.concatenate([b_b0, front[si]])
    b1 = np.concatenate([b_b1, front[si] + d[si]])
    geoms = _rects(p[all_slot, 0], p[all_slot, 1], ux[all_slot], uy[all_slot], a0, a1, b0, b1)
    am, bm = (a0 + a1) / 2, (b0 + b1) / 2
    cx = p[all_slot, 0] + am * ux[all_slot] - bm * uy[all_slot]
    cy = p[all_slot, 1] + am * uy[all_slot] + bm * ux[all_slot]
    n_si = len(si)
    bld_comm = np.concatenate([comp_comm[bc], comm[poly_of[si]]])
    floors = np.concatenate([b_floor, rng.integers(1, 6, n_si)]).astype(np.int64)
    units = np.concatenate([b_unit, np.ones(n_si)]).astype(np.int64)

    fr = Frontage(
        plate_road=road,
        plate_number=sl["num"].astype(np.int64),
        plate_x=plate_x,
        plate_y=plate_y,
        plate_kind=kind,
        comp_plate=ci,
        comp_kind=comp_kind,
        comp_community=comp_comm,
        comp_name=comp_names,
        comp_geom=comp_geom,
        bld_plate=all_slot,
        bld_compound=np.concatenate([bc, np.full(n_si, -1)]).astype(np.int64),
        bld_number=np.concatenate([b_num, np.ones(n_si)]).astype(np.int64),
        bld_community=bld_comm,
        bld_floors=floors,
        bld_units=units,
        bld_geom=geoms,
        bld_cx=cx,
        bld_cy=cy,
        bld_ux=ux[all_slot],
        bld_uy=uy[all_slot],
        bld_ha=(a1 - a0) / 2,
        bld_hb=(b1 - b0) / 2,
    )
    echo(
        f"frontage: {len(kind)} door plates, {len(ci)} compounds "
        f"({int((comp_kind == XIAOQU).sum())} 小区), {len(geoms)} buildings "
        f"({n_si} standalone)"
    )
    return fr
