"""The demo district's registers: people, legal entities, cameras and township indicators.

Every row is generated and plainly fictitious. The same seed and scale always give the same
frames: all randomness comes from one ``numpy.random.Generator`` per register, spawned from
the seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from spatialsvc.demo.entities import generate_legal_entities, load_industries
from spatialsvc.demo.people import generate_persons

PERSONS_AT_SCALE_1 = 413_000
ENTITIES_AT_SCALE_1 = 104_000
CAMERAS = 5_090  # not scaled: the district's real number of video points
CAMERA_KINDS: tuple[tuple[str, float], ...] = (
    ("治安监控", 0.55),
    ("交通卡口", 0.2),
    ("高空瞭望", 0.05),
    ("人脸识别", 0.2),
)
ROAD_CLASS_DENSITY = {"arterial": 3.0, "secondary": 2.0, "branch": 1.0}  # cameras per length
P_CAMERA_AT_JUNCTION = 0.45
YEARS = range(2015, 2025)
DISTRICT_GDP_2024 = 1_650.0  # 亿元, split over townships by their share of residents

Echo = Callable[[str], None]


@dataclass
class Registers:
    """The generated registers, one frame per registry table."""

    industries: pd.DataFrame
    persons: pd.DataFrame
    legal_entities: pd.DataFrame
    cameras: gpd.GeoDataFrame
    macro_indicators: pd.DataFrame


def scaled_count(base: int, scale: float) -> int:
    """``base * scale`` rounded up (so scale 1 gives at least ``base``), at least 1."""
    return max(1, math.ceil(round(base * scale, 6)))


def generate_registers(
    addresses: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    townships: pd.DataFrame,
    seed: int,
    scale: float = 1.0,
    echo: Echo = print,
) -> Registers:
    """Generate every register of the demo district from its addresses and roads."""
    rng_people, rng_entities, rng_cameras, rng_macro = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    addresses = addresses.reset_index(drop=True)
    started = time.perf_counter()
    industries = load_industries()
    persons = generate_persons(addresses, scaled_count(PERSONS_AT_SCALE_1, scale), rng_people)
    echo(f"  persons: {len(persons):,} ({time.perf_counter() - started:.1f} s)")

    started = time.perf_counter()
    n_entities = scaled_count(ENTITIES_AT_SCALE_1, scale)
    entities = generate_legal_entities(addresses, industries, n_entities, rng_entities)
    echo(f"  legal entities: {len(entities):,} ({time.perf_counter() - started:.1f} s)")

    started = time.perf_counter()
    cameras = generate_cameras(roads, addresses, CAMERAS, rng_cameras)
    echo(f"  cameras: {len(cameras):,} ({time.perf_counter() - started:.1f} s)")

    residents = addresses["township_code"].iloc[0:0]
    if len(persons):
        by_id = pd.Series(addresses["township_code"].to_numpy(), index=addresses["address_id"])
        residents = by_id.reindex(persons["eval_address_id"]).reset_index(drop=True)
    macro = generate_macro_indicators(townships, residents.value_counts(), rng_macro)
    echo(f"  macro indicators: {len(macro):,}")
    return Registers(industries, persons, entities, cameras, macro)


def _junctions(roads: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j), i != j, of roads that cross or touch: the intersections to name."""
    geoms = roads.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    order = np.lexsort((right, left))
    left, right = left[order], right[order]
    keep = (left != right) & (roads["name"].to_numpy()[left] != roads["name"].to_numpy()[right])
    return left[keep], right[keep]


def _max_doors(addresses: pd.DataFrame) -> pd.Series:
    doors = pd.to_numeric(addresses["door_number"], errors="coerce")
    return doors.groupby(addresses["road"]).max().dropna()


def generate_cameras(
    roads: gpd.GeoDataFrame, addresses: pd.DataFrame, n: int, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """``n`` video points along roads, denser on arterials; some at named junctions."""
    roads = roads.reset_index(drop=True)
    geoms = roads.geometry.to_numpy()
    weight = roads["road_class"].map(ROAD_CLASS_DENSITY).fillna(1.0).to_numpy()
    weight = weight * np.maximum(shapely.length(geoms), 1e-9)
    road = rng.choice(len(roads), n, p=weight / weight.sum())
    points = shapely.line_interpolate_point(geoms[road], rng.random(n), normalized=True)
    names = roads["name"].to_numpy(dtype=object)
    max_door = _max_doors(addresses).reindex(names[road]).fillna(300).to_numpy()
    door = 1 + (rng.random(n) * np.maximum(max_door, 1)).astype(np.int64)
    label = np.array(
        [f"{r}{d}号附近" for r, d in zip(names[road], door, strict=True)], dtype=object
    )

    left, right = _junctions(roads)
    at_junction = (rng.random(n) < P_CAMERA_AT_JUNCTION) & (len(left) > 0)
    if at_junction.any():
        # Each road's junctions as a slice of the (sorted) pair list; pick one at random.
        starts = np.searchsorted(left, road)
        counts = np.searchsorted(left, road, side="right") - starts
        at_junction &= counts > 0
        k = starts + (rng.random(n) * np.maximum(counts, 1)).astype(np.int64)
        k = np.minimum(k, max(len(left) - 1, 0))
        idx = np.flatnonzero(at_junction)
        other = right[k[idx]]
        meet = shapely.intersection(geoms[road[idx]], geoms[other])
        points[idx] = shapely.centroid(shapely.get_geometry(meet, 0))
        label[idx] = [f"{a}与{b}口" for a, b in zip(names[road[idx]], names[other], strict=True)]
    kinds = [k for k, _ in CAMERA_KINDS]
    kw = np.array([w for _, w in CAMERA_KINDS])
    return gpd.GeoDataFrame(
        {
            "camera_id": [f"CAM{i:05d}" for i in range(1, n + 1)],
            "name": label,
            "road": names[road],
            "township_code": roads["township_code"].to_numpy(dtype=object)[road],
            "kind": np.array(kinds, dtype=object)[rng.choice(len(kinds), n, p=kw / kw.sum())],
        },
        geometry=gpd.GeoSeries(points, crs=roads.crs or "EPSG:4490"),
    ).rename_geometry("geom")


def generate_macro_indicators(
    townships: pd.DataFrame, residents: pd.Series, rng: np.random.Generator
) -> pd.DataFrame:
    """Indicators for each township and year 2015-2024, in 亿元; population from the register.

    ``residents`` counts the registered persons by township code.
    """
    townships = townships.sort_values("code").reset_index(drop=True)
    codes = townships["code"].astype(str).to_numpy()
    urban = townships["name"].astype(str).str.endswith("街道").to_numpy()
    people = residents.reindex(codes).fillna(0).to_numpy(dtype=float)
    share = (people + 0.3 * max(people.mean(), 1.0)) if len(people) else people
    share = share / share.sum() if len(share) else share
    years = np.array(list(YEARS))
    k, t = len(codes), len(years)
    growth = rng.normal(0.065, 0.015, (k, t)) - np.where(years == 2020, 0.04, 0.0)
    growth[:, 0] = 0.0
    # Index relative to 2024, walking growth backwards.
    level = np.exp(np.cumsum(np.log1p(growth), axis=1))
    level = level / level[:, -1:]
    gdp = (DISTRICT_GDP_2024 * share * rng.lognormal(0, 0.1, k))[:, None] * level
    u = urban[:, None]
    noise = rng.lognormal(0, 0.08, (4, k, t))
    industrial = gdp * np.where(u, 0.35, 1.45) * noise[0]
    retail = gdp * np.where(u, 0.62, 0.22) * noise[1]
    investment = gdp * rng.uniform(0.3, 0.5, (k, 1)) * noise[2]
    fiscal = gdp * rng.uniform(0.08, 0.12, (k, 1)) * noise[3]
    pop_2024 = np.maximum(np.rint(people * rng.uniform(1.02, 1.12, k)), 1)
    pop_growth = rng.normal(0.006, 0.004, (k, t))
    pop_growth[:, 0] = 0.0
    pop_level = np.exp(np.cumsum(np.log1p(pop_growth), axis=1))
    population = np.rint(pop_2024[:, None] * pop_level / pop_level[:, -1:]).astype(np.int64)
    return pd.DataFrame(
        {
            "township_code": np.repeat(codes, t).astype(object),
            "year": np.tile(years, k).astype(np.int64),
            "gdp": np.round(gdp, 2).ravel(),
            "industrial_output": np.round(industrial, 2).ravel(),
            "retail_sales": np.round(retail, 2).ravel(),
            "fixed_investment": np.round(investment, 2).ravel(),
            "fiscal_revenue": np.round(fiscal, 2).ravel(),
            "resident_population": population.ravel(),
        }
    )
