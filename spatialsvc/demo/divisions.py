"""Township, community and grid polygons generated inside the real county boundary.

All linework (the county ring, the township Voronoi edges, each township's community Voronoi
edges and each community's grid Voronoi edges) is noded in one go and polygonized; every face
is then assigned to one grid (hence one community and one township) and each level is the
coverage union of its faces, so siblings tile their parent with no gaps and no overlaps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from spatialsvc.demo.frame import to_lonlat, to_metric
from spatialsvc.demo.names import short_community_name

# Approximate real centres of Haishu's townships (lon, lat); seeds outside the county are nudged in.
TOWNSHIP_CENTRES: dict[str, tuple[float, float]] = {
    "330203001": (121.548, 29.862),
    "330203002": (121.556, 29.872),
    "330203003": (121.535, 29.875),
    "330203004": (121.545, 29.869),
    "330203005": (121.550, 29.878),
    "330203006": (121.520, 29.868),
    "330203007": (121.530, 29.850),
    "330203008": (121.495, 29.878),
    "330203009": (121.510, 29.810),
    "330203100": (121.465, 29.895),
    "330203101": (121.410, 29.880),
    "330203102": (121.455, 29.860),
    "330203103": (121.470, 29.830),
    "330203104": (121.430, 29.800),
    "330203105": (121.350, 29.780),
    "330203106": (121.290, 29.810),
    "330203200": (121.330, 29.850),
}

EDGE_MARGIN_M = 40.0  # Voronoi edges run this far past their parent so they always reach it


@dataclass
class DivisionLayout:
    """Generated township, community and grid polygons (lon/lat, MultiPolygon)."""

    county: BaseGeometry
    township_codes: list[str]
    township_geoms: NDArray[np.object_]
    community_codes: list[str]
    community_geoms: NDArray[np.object_]
    community_township: list[str]
    grid_codes: list[str]
    grid_names: list[str]
    grid_community: list[str]
    grid_geoms: NDArray[np.object_]


def _sample_inside(rng: np.random.Generator, region: BaseGeometry, n: int) -> NDArray[np.float64]:
    """Draw ``n`` uniform random points inside ``region`` (rejection sampling)."""
    x0, y0, x1, y1 = region.bounds
    shapely.prepare(region)
    out = np.empty((0, 2))
    while len(out) < n:
        m = max(64, 4 * n)
        cand = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        keep = shapely.contains_xy(region, cand[:, 0], cand[:, 1])
        out = np.vstack([out, cand[keep]])
    return out[:n]


def _cells(points: NDArray[np.float64], envelope: BaseGeometry) -> NDArray[np.object_]:
    """Voronoi cells of ``points``, in input order."""
    gc = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=envelope, ordered=True)
    return shapely.get_parts(gc)


def _edges(points: NDArray[np.float64], envelope: BaseGeometry) -> BaseGeometry:
    """Voronoi edges of ``points`` (a MultiLineString)."""
    return shapely.voronoi_polygons(
        shapely.multipoints(points), extend_to=envelope, only_edges=True
    )


def _relaxed_seeds(
    rng: np.random.Generator, region: BaseGeometry, n: int, rounds: int
) -> NDArray[np.float64]:
    """Random seeds inside ``region`` spread by a few rounds of Lloyd relaxation."""
    pts = _sample_inside(rng, region, n)
    if n < 2:
        return pts
    env = region.envelope.buffer(1000.0)
    for _ in range(rounds):
        clipped = shapely.intersection(_cells(pts, env), region)
        cent = shapely.centroid(clipped)
        inside = shapely.contains(region, cent)
        cent = np.where(inside, cent, shapely.point_on_surface(clipped))
        new = shapely.get_coordinates(cent)
        if len(new) != n or len({tuple(p) for p in np.round(new, 6)}) != n:
            break
        pts = new
    return pts


def _nudge_inside(point: NDArray[np.float64], inner: BaseGeometry) -> NDArray[np.float64]:
    """Move a seed outside ``inner`` to the nearest point of it."""
    p = shapely.Point(point)
    if inner.contains(p):
        return point
    q = shapely.ops.nearest_points(inner, p)[0]
    return np.array([q.x, q.y])


def _to_multi(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type == "MultiPolygon":
        return geom
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"]
    return shapely.MultiPolygon(polys)


def _lookup(
    points: NDArray[np.object_],
    cells: NDArray[np.object_],
    owner_ok: NDArray[np.int64] | None,
    cell_owner: NDArray[np.int64] | None,
) -> NDArray[np.int64]:
    """Index of the cell holding each point (restricted to cells with the right owner)."""
    tree = shapely.STRtree(cells)
    pi, ci = tree.query(points, predicate="within")
    if owner_ok is not None and cell_owner is not None:
        good = cell_owner[ci] == owner_ok[pi]
        pi, ci = pi[good], ci[good]
    result = np.full(len(points), -1, dtype=np.int64)
    result[pi[::-1]] = ci[::-1]  # first match wins
    missing = np.flatnonzero(result < 0)
    for i in missing:  # rare: a face point on a cell edge; take the nearest allowed cell
        cand = np.arange(len(cells))
        if owner_ok is not None and cell_owner is not None:
            cand = cand[cell_owner == owner_ok[i]]
        d = shapely.distance(cells[cand], points[i])
        result[i] = cand[int(np.argmin(d))]
    return result


def build_divisions(
    county_ll: BaseGeometry,
    townships: pd.DataFrame,
    communities: pd.DataFrame,
    rng: np.random.Generator,
    echo: Callable[[str], None],
) -> DivisionLayout:
    """Generate township, community and grid polygons tiling the county."""
    county_m: BaseGeometry = to_metric(county_ll)
    env = county_m.envelope.buffer(5000.0)
    inner = county_m.buffer(-300.0)
    t_codes = list(townships["code"])

    # townships
    seeds = []
    for i, code in enumerate(t_codes):
        lon, lat = TOWNSHIP_CENTRES.get(code, (121.40 + 0.01 * i, 29.84))
        pt = shapely.get_coordinates(to_metric(shapely.Point(lon, lat)))[0]
        pt = pt + rng.normal(0.0, 120.0, 2)  # a little seed-dependent jitter
        seeds.append(_nudge_inside(pt, inner))
    t_seeds = np.array(seeds)
    t_cells = _cells(t_seeds, env)
    t_regions = shapely.intersection(t_cells, county_m)
    lines: list[BaseGeometry] = [
        shapely.intersection(_edges(t_seeds, env), county_m.buffer(EDGE_MARGIN_M))
    ]

    # communities inside each township
    c_codes: list[str] = []
    c_owner: list[int] = []
    c_cells: list[BaseGeometry] = []
    c_regions: list[BaseGeometry] = []
    for ti, code in enumerate(t_codes):
        rows = communities[communities["streetCode"] == code]
        n = len(rows)
        region = t_regions[ti]
        pts = _relaxed_seeds(rng, region, n, rounds=3)
        if n == 1:
            cells = np.array([env])
        else:
            cells = _cells(pts, env)
            lines.append(shapely.intersection(_edges(pts, env), region.buffer(EDGE_MARGIN_M)))
        c_codes.extend(rows["code"])
        c_owner.extend([ti] * n)
        c_cells.extend(cells)
        c_regions.extend(shapely.intersection(cells, region))

    # grids inside each community
    g_owner: list[int] = []
    g_cells: list[BaseGeometry] = []
    n_grids = rng.integers(2, 9, size=len(c_codes))
    for ci, region in enumerate(c_regions):
        k = int(n_grids[ci])
        pts = _relaxed_seeds(rng, region, k, rounds=2)
        cells = _cells(pts, env)
        lines.append(shapely.intersection(_edges(pts, env), region.buffer(EDGE_MARGIN_M / 2)))
        g_owner.extend([ci] * k)
        g_cells.extend(cells)

    # node everything once (in lon/lat, with the real county ring), polygonize, assign faces
    parts = shapely.get_parts(shapely.get_parts(np.array(lines, dtype=object)))
    parts = parts[shapely.get_type_id(parts) == 1]
    all_lines = np.concatenate([shapely.get_parts(shapely.boundary(county_ll)), to_lonlat(parts)])
    noded = shapely.union_all(all_lines)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    reps = shapely.point_on_surface(faces)
    shapely.prepare(county_ll)
    keep = shapely.contains(county_ll, reps)
    faces, reps = faces[keep], reps[keep]
    reps_m = to_metric(reps)

    face_t = _lookup(reps_m, t_cells, None, None)
    face_c = _lookup(
        reps_m,
        np.array(c_cells, dtype=object),
        face_t,
        np.array(c_owner),
    )
    face_g = _lookup(
        reps_m,
        np.array(g_cells, dtype=object),
        face_c,
        np.array(g_owner),
    )

    # grids: coverage unions of faces; drop grids that got no face and renumber
    order = np.argsort(face_g, kind="stable")
    bounds = np.searchsorted(face_g[order], np.arange(len(g_cells) + 1))
    grid_geoms: list[BaseGeometry] = []
    grid_comm: list[int] = []
    for gi in range(len(g_cells)):
        idx = order[bounds[gi] : bounds[gi + 1]]
        if len(idx) == 0:
            continue
        grid_geoms.append(_to_multi(shapely.coverage_union_all(faces[idx])))
        grid_comm.append(g_owner[gi])
    c_names = dict(zip(communities["code"], communities["name"], strict=True))
    grid_codes, grid_names, grid_community = [], [], []
    counter: dict[int, int] = {}
    for ci in grid_comm:
        counter[ci] = counter.get(ci, 0) + 1
        grid_codes.append(f"{c_codes[ci]}{counter[ci]:03d}")
        grid_names.append(f"{short_community_name(c_names[c_codes[ci]])}第{counter[ci]}网格")
        grid_community.append(c_codes[ci])

    # communities and townships: coverage unions of faces
    c_geoms = []
    for ci in range(len(c_codes)):
        idx = np.flatnonzero(face_c == ci)
        if len(idx) == 0:
            raise RuntimeError(f"community {c_codes[ci]} received no face")
        c_geoms.append(_to_multi(shapely.coverage_union_all(faces[idx])))
    t_geoms = []
    for ti in range(len(t_codes)):
        idx = np.flatnonzero(face_t == ti)
        t_geoms.append(_to_multi(shapely.coverage_union_all(faces[idx])))
    county = _to_multi(shapely.coverage_union_all(faces))
    echo(
        f"divisions: {len(t_codes)} townships, {len(c_codes)} communities, "
        f"{len(grid_codes)} grids ({len(faces)} faces)"
    )
    return DivisionLayout(
        county=county,
        township_codes=t_codes,
        township_geoms=np.array(t_geoms, dtype=object),
        community_codes=c_codes,
        community_geoms=np.array(c_geoms, dtype=object),
        community_township=[t_codes[c_owner[i]] for i in range(len(c_codes))],
        grid_codes=grid_codes,
        grid_names=grid_names,
        grid_community=grid_community,
        grid_geoms=np.array(grid_geoms, dtype=object),
    )
