"""Standard addresses (标准地址): door plates, buildings and rooms (base.standard_address rows).

Points are placed in the metric frame, converted to lon/lat, and only then assigned to the
community polygon that contains them, so every address lies inside its community.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from spatialsvc.demo.compounds import DOOR, XIAOQU, Frontage
from spatialsvc.demo.frame import xy_to_lonlat
from spatialsvc.demo.roads import RoadNet

PROVINCE, CITY, COUNTY = "浙江省", "宁波市", "海曙区"
CRS = "EPSG:4490"
TARGET_ADDRESSES = 190_000
ROOMS_PER_FLOOR = 2

ADDRESS_COLUMNS = [
    "address_id", "admin_code", "province", "city", "county", "township", "community", "road",
    "door_number", "compound", "building", "unit", "floor", "room", "full_address", "level",
    "geom", "township_code", "compound_id", "building_id",
]  # fmt: skip


@dataclass
class Admin:
    """Community polygons (lon/lat) with their codes and names, for point-in-polygon."""

    codes: NDArray[np.str_]
    names: NDArray[np.str_]
    township_codes: NDArray[np.str_]
    township_names: NDArray[np.str_]
    geoms: NDArray[np.object_]


def none_for_missing(df: pd.DataFrame) -> None:
    """Store missing text values as ``None`` in object columns (pandas 3 would use NaN)."""
    for col in df.columns:
        series = df[col]
        if col != "geom" and not pd.api.types.is_numeric_dtype(series) and series.isna().any():
            df[col] = series.astype(object).where(series.notna(), None)


def fit_floors(fr: Frontage, target_rooms: int) -> None:
    """Scale the floors of 小区 buildings so the room count lands near ``target_rooms``."""
    in_comp = fr.bld_compound >= 0
    xq = np.zeros(len(fr.bld_floors), dtype=bool)
    xq[in_comp] = fr.comp_kind[fr.bld_compound[in_comp]] == XIAOQU
    floors = fr.bld_floors.astype(np.float64)
    for _ in range(8):
        rooms = int((np.round(floors) * fr.bld_units)[in_comp].sum()) * ROOMS_PER_FLOOR
        if rooms == 0 or abs(rooms - target_rooms) < 0.005 * target_rooms:
            break
        floors[xq] = np.clip(floors[xq] * target_rooms / rooms, 3, 33)
    fr.bld_floors = np.round(floors).astype(np.int64)


def _locate(admin: Admin, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index of the community strictly containing each lon/lat point, -1 if none."""
    pts = shapely.points(x, y)
    pi, ci = shapely.STRtree(admin.geoms).query(pts, predicate="within")
    out = np.full(len(pts), -1, dtype=np.int64)
    out[pi[::-1]] = ci[::-1]
    return out


def _pick(index: NDArray[np.int64], values: NDArray[np.object_]) -> NDArray[np.object_]:
    """``values[index]`` where ``index >= 0``, else ``None``."""
    out = np.full(len(index), None, dtype=object)
    ok = index >= 0
    out[ok] = values[index[ok]]
    return out


def _digits(values: NDArray[np.int64]) -> NDArray[np.object_]:
    return pd.Series(values).astype(str).to_numpy(dtype=object)


def build_addresses(
    fr: Frontage,
    roads: RoadNet,
    admin: Admin,
    rng: np.random.Generator,
    echo: Callable[[str], None],
) -> gpd.GeoDataFrame:
    """Build the door, building and room addresses."""
    none = np.array([None], dtype=object)
    road_names = np.array(roads.name, dtype=object)
    plate_road = road_names[fr.plate_road]
    plate_num = _digits(fr.plate_number)
    comp_names = np.array(fr.comp_name, dtype=object)
    comp_ids = np.array([f"C{i + 1:05d}" for i in range(len(comp_names))], dtype=object)
    bld_ids = np.array([f"B{i + 1:06d}" for i in range(len(fr.bld_plate))], dtype=object)
    plate_comp = np.full(len(plate_road), -1, dtype=np.int64)
    plate_comp[fr.comp_plate] = np.arange(len(fr.comp_plate))
    plate_bld = np.full(len(plate_road), -1, dtype=np.int64)
    standalone = np.flatnonzero(fr.bld_compound < 0)
    plate_bld[fr.bld_plate[standalone]] = standalone

    # door level
    d_x, d_y = fr.plate_x, fr.plate_y
    door = {
        "road": plate_road,
        "door_number": plate_num,
        "compound": np.repeat(none, len(plate_road)),
        "building": np.repeat(none, len(plate_road)),
        "unit": np.repeat(none, len(plate_road)),
        "floor": np.repeat(none, len(plate_road)),
        "room": np.repeat(none, len(plate_road)),
        "level": np.repeat(np.array(["door"], dtype=object), len(plate_road)),
        "compound_id": _pick(plate_comp, comp_ids),
        "building_id": _pick(plate_bld, bld_ids),
        "x": d_x,
        "y": d_y,
        "road_idx": fr.plate_road,
        "check_town": fr.plate_kind == DOOR,
    }

    # building level
    nb = len(fr.bld_plate)
    bcomp = fr.bld_compound
    in_comp = bcomp >= 0
    b_comp_name = _pick(bcomp, comp_names)
    b_comp_id = _pick(bcomp, comp_ids)
    b_num = _digits(fr.bld_number)
    bld = {
        "road": plate_road[fr.bld_plate],
        "door_number": plate_num[fr.bld_plate],
        "compound": b_comp_name,
        "building": b_num,
        "unit": np.repeat(none, nb),
        "floor": np.repeat(none, nb),
        "room": np.repeat(none, nb),
        "level": np.repeat(np.array(["building"], dtype=object), nb),
        "compound_id": b_comp_id,
        "building_id": bld_ids,
        "x": fr.bld_cx,
        "y": fr.bld_cy,
        "road_idx": fr.plate_road[fr.bld_plate],
        "check_town": np.zeros(nb, dtype=bool),
    }

    # room level: unit u, floor f, room f*100+k inside compound buildings
    rb = np.flatnonzero(in_comp)
    per_floor = fr.bld_units[rb] * ROOMS_PER_FLOOR
    counts = fr.bld_floors[rb] * per_floor
    b_of = np.repeat(rb, counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    floors_rep = np.repeat(fr.bld_floors[rb], counts)
    units_rep = np.repeat(fr.bld_units[rb], counts)
    unit = local // (floors_rep * ROOMS_PER_FLOOR) + 1
    rem = local % (floors_rep * ROOMS_PER_FLOOR)
    floor = rem // ROOMS_PER_FLOOR + 1
    room = floor * 100 + rem % ROOMS_PER_FLOOR + 1
    nr = len(b_of)
    # point: along the building's axis within the unit's share, jittered, strictly inside
    seg = 2.0 * fr.bld_ha[b_of] / units_rep
    a = -fr.bld_ha[b_of] + seg * (unit - 0.5) + rng.uniform(-0.3, 0.3, nr) * seg
    b = rng.uniform(-0.6, 0.6, nr) * fr.bld_hb[b_of]
    ux, uy = fr.bld_ux[b_of], fr.bld_uy[b_of]
    rooms = {
        "road": plate_road[fr.bld_plate[b_of]],
        "door_number": plate_num[fr.bld_plate[b_of]],
        "compound": comp_names[bcomp[b_of]],
        "building": b_num[b_of],
        "unit": _digits(unit),
        "floor": _digits(floor),
        "room": _digits(room),
        "level": np.repeat(np.array(["room"], dtype=object), nr),
        "compound_id": comp_ids[bcomp[b_of]],
        "building_id": bld_ids[b_of],
        "x": fr.bld_cx[b_of] + a * ux - b * uy,
        "y": fr.bld_cy[b_of] + a * uy + b * ux,
        "road_idx": fr.plate_road[fr.bld_plate[b_of]],
        "check_town": np.zeros(nr, dtype=bool),
    }
    df = pd.DataFrame({k: np.concatenate([door[k], bld[k], rooms[k]]) for k in door})

    # locate in lon/lat; drop plain door plates that fell in another township than their road's
    lon, lat = xy_to_lonlat(df["x"].to_numpy(), df["y"].to_numpy())
    ci = _locate(admin, lon, lat)
    r_town = np.array(roads.township_code, dtype=object)[df["road_idx"].to_numpy()]
    r_art = np.array([c == "arterial" for c in roads.road_class])[df["road_idx"].to_numpy()]
    p_town = np.where(ci >= 0, admin.township_codes[np.maximum(ci, 0)], "")
    bad = (ci < 0) | (df["check_town"].to_numpy() & ~r_art & (p_town != r_town))
    if (ci[~df["check_town"].to_numpy()] < 0).any():
        raise AssertionError("a building or room address fell outside every community")
    keep = ~bad
    df, ci, lon, lat = df[keep].reset_index(drop=True), ci[keep], lon[keep], lat[keep]

    df["admin_code"] = admin.codes[ci]
    df["township_code"] = admin.township_codes[ci]
    df["township"] = admin.township_names[ci]
    df["community"] = admin.names[ci]
    df["province"], df["city"], df["county"] = PROVINCE, CITY, COUNTY
    full = PROVINCE + CITY + COUNTY + df["township"] + df["road"] + df["door_number"] + "号"
    lvl = df["level"]
    full = full.where(lvl == "door", full + df["compound"].fillna("") + df["building"] + "幢")
    full = full.where(lvl != "room", full + df["unit"] + "单元" + df["room"] + "室")
    df["full_address"] = full
    dup = df["full_address"].duplicated()
    if dup.any():
        echo(f"addresses: dropped {int(dup.sum())} duplicate door plates")
        df, lon, lat = df[~dup].reset_index(drop=True), lon[~dup], lat[~dup]
    df["address_id"] = [
        "A" + hashlib.blake2b(s.encode("utf-8"), digest_size=8).hexdigest()
        for s in df["full_address"]
    ]
    if not df["address_id"].is_unique:
        raise AssertionError("address_id collision")
    geom = shapely.points(lon, lat)
    inside = shapely.contains_xy(admin.geoms[ci[~dup.to_numpy()]], lon, lat)
    if not inside.all():
        raise AssertionError("an address lies outside its community")
    gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=CRS), crs=CRS)
    gdf = gdf.rename_geometry("geom")[ADDRESS_COLUMNS]
    none_for_missing(gdf)
    counts = gdf["level"].value_counts()
    echo(
        f"addresses: {len(gdf)} ({counts.get('door', 0)} door, "
        f"{counts.get('building', 0)} building, {counts.get('room', 0)} room)"
    )
    return gdf
