"""Entry point of the demo district's generated geography (Haishu District, Ningbo, 330203).

:func:`generate_geography` reads the real boundaries, division codes and OSM POIs from the
reference folder and generates, deterministically from a seed, the township, community and grid
polygons, roads, compounds, buildings and standard addresses. Every frame is in CGCS2000
lon/lat (EPSG:4490) with its active geometry column named ``geom``; no database is touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from spatialsvc.demo.addresses import (
    ADDRESS_COLUMNS,
    CRS,
    TARGET_ADDRESSES,
    Admin,
    build_addresses,
    fit_floors,
    none_for_missing,
)
from spatialsvc.demo.compounds import XIAOQU, build_frontage
from spatialsvc.demo.divisions import build_divisions
from spatialsvc.demo.frame import to_lonlat, to_metric
from spatialsvc.demo.roads import build_roads

COUNTY_CODE = "330203"
OSM_SOURCE = "© OpenStreetMap contributors, ODbL 1.0"
BOUNDARIES = "boundaries/haishu_ningbo_zhejiang_tianditu.geojson"
STREETS = "admin-divisions/streets_330000_zhejiang.csv"
VILLAGES = "admin-divisions/villages_330203_haishu.csv"
POIS = "osm-pois/haishu_osm_pois.geojson"


@dataclass
class Geography:
    """The generated demo geography, one GeoDataFrame per base-library table."""

    divisions: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame


def _frame(data: dict[str, object], geoms: object) -> gpd.GeoDataFrame:
    """A GeoDataFrame with active geometry ``geom`` in EPSG:4490."""
    df = pd.DataFrame(data)
    none_for_missing(df)
    df["geom"] = gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=CRS).values
    return gpd.GeoDataFrame(df, geometry="geom", crs=CRS)


def _multi(geom: BaseGeometry) -> BaseGeometry:
    return shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, encoding="utf-8")


def load_pois(reference_dir: Path) -> gpd.GeoDataFrame:
    """The real OSM POIs of Haishu as base.poi rows (WGS84 taken as CGCS2000, sub-metre)."""
    raw = gpd.read_file(reference_dir / POIS)
    geoms = np.array([_multi(g) for g in raw.geometry], dtype=object)
    geoms = shapely.make_valid(geoms)
    geoms = np.array([_multi(g) for g in geoms], dtype=object)
    frame = _frame(
        {
            "poi_id": [f"osm-{i + 1}" for i in range(len(raw))],
            "name": raw["name"].astype(str).to_numpy(),
            "category": raw["category"].astype(str).to_numpy(),
            "osm_query": raw["osm_query"].to_numpy(),
            "county": raw["county"].to_numpy(),
        },
        geoms,
    )
    frame["centroid"] = gpd.GeoSeries(shapely.point_on_surface(geoms), crs=CRS).values
    frame["source"] = OSM_SOURCE
    return frame


def generate_geography(
    reference_dir: Path, seed: int, echo: Callable[[str], None] = print
) -> Geography:
    """Generate the demo district's geography deterministically from ``seed``."""
    started = time.perf_counter()
    reference_dir = Path(reference_dir)
    seeds = np.random.SeedSequence(seed).spawn(4)
    rng_div, rng_road, rng_front, rng_addr = (np.random.default_rng(s) for s in seeds)

    bounds = gpd.read_file(reference_dir / BOUNDARIES)
    real = {lvl: _multi(bounds.loc[bounds["level"] == lvl].geometry.iloc[0])
            for lvl in ("province", "city", "county")}  # fmt: skip
    streets = _read_csv(reference_dir / STREETS)
    townships = streets[streets["areaCode"] == COUNTY_CODE].sort_values("code")
    townships = townships.reset_index(drop=True)
    communities = _read_csv(reference_dir / VILLAGES).sort_values("code").reset_index(drop=True)

    lay = build_divisions(real["county"], townships, communities, rng_div, echo)
    t_name = dict(zip(townships["code"], townships["name"], strict=True))
    c_name = dict(zip(communities["code"], communities["name"], strict=True))
    divisions = _frame(
        {
            "code": ["33", "3302", COUNTY_CODE, *lay.township_codes, *lay.community_codes],
            "name": ["浙江省", "宁波市", "海曙区"]
            + [t_name[c] for c in lay.township_codes]
            + [c_name[c] for c in lay.community_codes],
            "level": ["province", "city", "county"]
            + ["township"] * len(lay.township_codes)
            + ["community"] * len(lay.community_codes),
            "parent_code": [None, "33", "3302"]
            + [COUNTY_CODE] * len(lay.township_codes)
            + lay.community_township,
        },
        [real["province"], real["city"], lay.county, *lay.township_geoms, *lay.community_geoms],
    )
    grids = _frame(
        {"code": lay.grid_codes, "name": lay.grid_names, "community_code": lay.grid_community},
        lay.grid_geoms,
    )

    urban = {c for c in lay.township_codes if t_name[c].endswith("街道")}
    county_m = to_metric(real["county"])
    t_geoms_m = to_metric(lay.township_geoms)
    c_geoms_m = to_metric(lay.community_geoms)
    c_names = [c_name[c] for c in lay.community_codes]
    net = build_roads(
        county_m,
        lay.township_codes,
        t_geoms_m,
        c_names,
        c_geoms_m,
        urban,
        rng_road,
        echo,
    )
    roads = _frame(
        {
            "road_id": net.road_id,
            "name": net.name,
            "township_code": net.township_code,
            "road_class": net.road_class,
        },
        to_lonlat(net.geom_m),
    )

    fr = build_frontage(net, c_geoms_m, lay.community_township, urban, rng_front, echo)
    fit_floors(fr, TARGET_ADDRESSES - len(fr.plate_road) - len(fr.bld_plate))

    c_codes = np.array(lay.community_codes, dtype=object)
    road_names = np.array(net.name, dtype=object)
    numbers = fr.plate_number.astype(str).astype(object)
    comp_road = road_names[fr.plate_road[fr.comp_plate]]
    compounds = _frame(
        {
            "compound_id": [f"C{i + 1:05d}" for i in range(len(fr.comp_plate))],
            "name": fr.comp_name,
            "kind": np.where(fr.comp_kind == XIAOQU, "小区", "院落").astype(object),
            "township_code": np.array(lay.community_township, dtype=object)[fr.comp_community],
            "community_code": c_codes[fr.comp_community],
            "road": comp_road,
            "door_number": numbers[fr.comp_plate],
        },
        to_lonlat(fr.comp_geom),
    )
    comp_ids = compounds["compound_id"].to_numpy(dtype=object)
    buildings = _frame(
        {
            "building_id": [f"B{i + 1:06d}" for i in range(len(fr.bld_plate))],
            "compound_id": np.where(
                fr.bld_compound >= 0, comp_ids[np.maximum(fr.bld_compound, 0)], None
            ),
            "number": fr.bld_number.astype(str).astype(object),
            "road": road_names[fr.plate_road[fr.bld_plate]],
            "door_number": numbers[fr.bld_plate],
            "floors": fr.bld_floors,
            "units": fr.bld_units,
            "community_code": c_codes[fr.bld_community],
        },
        to_lonlat(fr.bld_geom),
    )
    echo(f"compounds: {len(compounds)}, buildings: {len(buildings)}")

    admin = Admin(
        codes=c_codes,
        names=np.array(c_names, dtype=object),
        township_codes=np.array(lay.community_township, dtype=object),
        township_names=np.array([t_name[c] for c in lay.community_township], dtype=object),
        geoms=lay.community_geoms,
    )
    addresses = build_addresses(fr, net, admin, rng_addr, echo)
    assert list(addresses.columns) == ADDRESS_COLUMNS
    pois = load_pois(reference_dir)
    echo(f"pois: {len(pois)} OSM features")
    echo(f"geography generated in {time.perf_counter() - started:.1f} s")
    return Geography(divisions, grids, roads, compounds, buildings, addresses, pois)
