"""Cleaning a GeoDataFrame and swapping it into PostGIS as a new version of a layer.

The load runs in ONE transaction on one connection: build ``data.<layer>__load``, COPY the
rows in chunks, index, drop the old table, rename, record the version in ``meta.dataset``,
COMMIT.  A failure (or kill -9) anywhere before COMMIT leaves the previous version as it was.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from psycopg2 import sql

from spatialsvc.db.copy import ewkb_hex
from spatialsvc.errors import GeometryError, InvalidInput
from spatialsvc.geo.crs import TARGET_EPSG
from spatialsvc.ingest.readers import sanitize_name
from spatialsvc.ingest.report import Report

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

Echo = Callable[[str], None]
CHUNK = 50_000
RESERVED = {"fid", "geom"}
POLYGONAL = {"Polygon", "MultiPolygon"}


def _polygonal_part(geom: Any) -> Any:
    """The polygons of a repaired geometry as one (Multi)Polygon, or None."""
    import shapely

    if geom.geom_type in POLYGONAL:
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in POLYGONAL]
    flat = [p for g in parts for p in shapely.get_parts(g)]
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def clean_geometries(gdf: gpd.GeoDataFrame, invalid: str, report: Report) -> gpd.GeoDataFrame:
    """Reject null/empty geometries, repair or reject invalid ones, promote mixed to Multi*."""
    import shapely

    geoms = shapely.force_2d(np.asarray(gdf.geometry.values, dtype=object))
    keep = np.ones(len(geoms), dtype=bool)
    for i in np.flatnonzero(shapely.is_missing(geoms)):
        report.reject(i, "null geometry")
        keep[i] = False
    for i in np.flatnonzero(keep & shapely.is_empty(geoms)):
        report.reject(i, "empty geometry")
        keep[i] = False
    types = set(shapely.get_type_id(geoms[keep]).tolist())
    polygon_layer = bool(types) and types <= {3, 6}
    invalid_idx = np.flatnonzero(keep & ~shapely.is_valid(geoms))
    for i in invalid_idx:
        if invalid == "reject":
            report.reject(i, f"invalid geometry: {shapely.is_valid_reason(geoms[i])}")
            keep[i] = False
            continue
        fixed = shapely.make_valid(geoms[i])
        if polygon_layer:
            fixed = _polygonal_part(fixed)
        if fixed is None or fixed.is_empty:
            report.reject(
                i,
                f"invalid geometry, nothing left after repair: {shapely.is_valid_reason(geoms[i])}",
            )
            keep[i] = False
            continue
        geoms[i] = fixed
        report.repaired += 1
    out = gdf.iloc[np.flatnonzero(keep)].copy()
    geoms = geoms[keep]
    if len(out) == 0:
        first = report.rejected[0]["reason"] if report.rejected else "no features"
        raise GeometryError(
            f"no usable geometries in {report.source_file} "
            f"({len(report.rejected):,} rejected; first: {first})"
        )
    geoms = _promote(geoms, report)
    return out.set_geometry(geoms, crs=gdf.crs)


def _promote(geoms: np.ndarray, report: Report) -> np.ndarray:
    """Make every geometry Multi* when a layer mixes single and multi of one kind."""
    import shapely

    ids = shapely.get_type_id(geoms)
    present = set(ids.tolist())
    makers = {
        0: (4, shapely.MultiPoint),
        1: (5, shapely.MultiLineString),
        3: (6, shapely.MultiPolygon),
    }
    for single, (multi, maker) in makers.items():
        if present == {single, multi}:
            mask = ids == single
            geoms = geoms.copy()
            geoms[mask] = [maker([g]) for g in geoms[mask]]
            report.notes.append(f"promoted {int(mask.sum()):,} single geometries to Multi*")
    return geoms


def geometry_type(geoms: np.ndarray) -> str:
    """The PostGIS type modifier for the column: one type, or Geometry when mixed."""
    import shapely

    ids = set(shapely.get_type_id(geoms).tolist())
    names = {
        0: "Point",
        1: "LineString",
        3: "Polygon",
        4: "MultiPoint",
        5: "MultiLineString",
        6: "MultiPolygon",
        7: "GeometryCollection",
    }
    return names[ids.pop()] if len(ids) == 1 and next(iter(ids)) in names else "Geometry"


def column_names(columns: list[str]) -> list[str]:
    """Sanitised column names; reject two names that become the same."""
    seen: dict[str, str] = {}
    out = []
    for i, col in enumerate(columns):
        name = sanitize_name(col, i)
        if name in RESERVED:
            name = f"{name}_src"
        if name in seen:
            raise InvalidInput(
                f"columns {seen[name]!r} and {col!r} both become {name!r}; rename one"
            )
        seen[name] = str(col)
        out.append(name)
    return out


def _pg_type(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamptz" if getattr(dtype, "tz", None) else "timestamp"
    return "text"


def _copy_text(series: pd.Series, pg_type: str) -> pd.Series:
    """One column as COPY text-format strings, with \\N for NULL."""
    import pandas as pd

    missing = series.isna().to_numpy()
    if pg_type == "boolean":
        text = series.map(lambda v: "t" if v else "f")
    elif pg_type.startswith("timestamp"):
        text = series.map(lambda v: v.isoformat() if not pd.isna(v) else "")
    elif pg_type == "text":
        text = series.map(lambda v: v if isinstance(v, str) else str(v))
        text = (
            text.str.replace("\\", "\\\\", regex=False)
            .str.replace("\t", "\\t", regex=False)
            .str.replace("\n", "\\n", regex=False)
            .str.replace("\r", "\\r", regex=False)
        )
    else:
        text = series.astype(str)
    return text.where(~missing, "\\N")


def load(
    conn: Any,
    layer: str,
    gdf: gpd.GeoDataFrame,
    report: Report,
    echo: Echo,
    chunk: int = CHUNK,
) -> int:
    """Swap ``gdf`` (already in EPSG:4490) into ``data.<layer>``; return the new version."""
    import pandas as pd

    attrs = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name]))
    names = column_names([str(c) for c in attrs.columns])
    types = [_pg_type(attrs[c]) for c in attrs.columns]
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    gtype = geometry_type(geoms)
    load_name = f"{layer}__load"
    cols = [
        sql.SQL("fid bigint PRIMARY KEY"),
        *[
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
            for n, t in zip(names, types, strict=True)
        ],
        sql.SQL("geom geometry({}, {}) NOT NULL").format(sql.SQL(gtype), sql.Literal(TARGET_EPSG)),
    ]
    total = len(gdf)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("spatialsvc-ingest:" + layer,))
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("data", load_name)))
        cur.execute(
            sql.SQL("CREATE TABLE {} ({})").format(
                sql.Identifier("data", load_name), sql.SQL(", ").join(cols)
            )
        )
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier("data", load_name),
            sql.SQL(", ").join(sql.Identifier(n) for n in ["fid", *names, "geom"]),
        )
        copy_text = copy.as_string(conn)
        for start in range(0, total, chunk):
            stop = min(start + chunk, total)
            part = attrs.iloc[start:stop]
            columns: list[Any] = [
                pd.Series(np.arange(start + 1, stop + 1), index=part.index).astype(str)
            ]
            columns += [_copy_text(part[c], t) for c, t in zip(part.columns, types, strict=True)]
            columns.append(pd.Series(ewkb_hex(geoms[start:stop], TARGET_EPSG), index=part.index))
            lines = columns[0].str.cat(columns[1:], sep="\t")
            buf = io.StringIO("\n".join(lines.tolist()) + "\n")
            cur.copy_expert(copy_text, buf)
            echo(f"writing {stop:,}/{total:,} rows")
        _swap(cur, layer, load_name)
    return total


def _swap(cur: Any, layer: str, load_name: str) -> None:
    """Index the load table, drop the old table and rename the new one into place."""
    index = f"{layer}_geom_idx"
    cur.execute(
        sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
            sql.Identifier(f"{load_name}_geom_idx"), sql.Identifier("data", load_name)
        )
    )
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("data", layer)))
    cur.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier("data", load_name), sql.Identifier(layer)
        )
    )
    cur.execute(
        sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier("data", f"{load_name}_geom_idx"), sql.Identifier(index)
        )
    )
    cur.execute(
        sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier("data", f"{load_name}_pkey"), sql.Identifier(f"{layer}_pkey")
        )
    )
    cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier("data", layer)))
    # Edits made to the new table later invalidate cached tiles (sql/postgis/0005).
    qualified = sql.Identifier("data", layer).as_string(cur)
    cur.execute("SELECT meta.track_layer_version(%s::regclass)", (qualified,))
