"""Render one Mapbox Vector Tile of a layer with ST_AsMVT, in SQL with integer SRIDs.

Geometries are stored in EPSG:4490. The rows are picked with the tile's envelope (plus the
MVT buffer) transformed to 4490 so the GiST index is used, reprojected to the tile's SRID
(3857 for WebMercatorQuad, none for CGCS2000Quad), simplified to about one screen pixel of
the tile (lines and polygons only; points are left alone), then clipped and quantised by
ST_AsMVTGeom. The MVT layer is named after the layer id and carries only the layer's fields;
features are ordered by the layer's id so that the same data always gives the same bytes (and
ETag), whatever plan PostgreSQL picks.

A :class:`TileView` narrows a tile to what one class of callers may see: fields left out, and
sensitive fields masked in SQL by ``auth.mask_value`` (the twin of
:func:`spatialsvc.auth.mask.mask_value`), so a tile carries what the same caller's GeoJSON
carries. Each view is cached apart (:attr:`TileView.key`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

from spatialsvc.layers import Layer
from spatialsvc.tiles.matrixsets import TileAddress

EXTENT = 4096
BUFFER = 64
PIXELS = 256  # screen pixels across a tile: the simplification tolerance is one of them
STORAGE_SRID = 4490
POINT_TYPES = {"Point", "MultiPoint"}


@dataclass(frozen=True)
class TileView:
    """The fields one class of callers gets in a tile, and which of them are masked."""

    fields: tuple[str, ...]
    masked: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """A short, stable name for this view in the tile cache's paths."""
        text = ",".join(self.fields) + "|" + ",".join(sorted(self.masked))
        return "v-" + hashlib.sha256(text.encode()).hexdigest()[:16]


FULL_VIEW_KEY = "all"
"""The cache folder of whole tiles (no view)."""


def _columns(layer: Layer, view: TileView | None) -> sql.Composed:
    """The layer's fields as the view shows them; the id column is always kept (for order)."""
    if view is None:
        names = list(layer.fields)
        masked: frozenset[str] = frozenset()
    else:
        wanted = set(view.fields) | {layer.id_column}
        names = [name for name in layer.fields if name in wanted]
        masked = view.masked - {layer.id_column}
    if layer.id_column not in names:
        names.insert(0, layer.id_column)
    parts = []
    for name in names:
        column = sql.Identifier(name)
        if name in masked:
            parts.append(
                sql.SQL("auth.mask_value({}, t.{}::text) AS {}").format(
                    sql.Literal(name), column, column
                )
            )
        else:
            parts.append(sql.SQL("t.{}").format(column))
    return sql.SQL(", ").join(parts)


@dataclass(frozen=True)
class TileQuery:
    """The SQL of one tile and its bound parameters."""

    statement: sql.Composed
    params: dict[str, Any]


def tile_query(layer: Layer, address: TileAddress, view: TileView | None = None) -> TileQuery:
    """The ST_AsMVT statement for one layer and tile (every value bound as a parameter)."""
    srid = address.matrix_set.srid
    minx, miny, maxx, maxy = address.bounds()
    width = maxx - minx
    margin = BUFFER / EXTENT
    params: dict[str, Any] = {
        "z": address.z,
        "x": address.col,
        "y": address.row,
        "minx": minx,
        "miny": miny,
        "maxx": maxx,
        "maxy": maxy,
        "margin": margin,
        "tolerance": width / PIXELS,
        "expand": width * margin,
        "layer": layer.id,
        "extent": EXTENT,
        "buffer": BUFFER,
    }
    if srid == 3857:
        tile_env = sql.SQL("ST_TileEnvelope(%(z)s, %(x)s, %(y)s)")
        search_env = sql.SQL(
            "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4490)"
        )
        geom = sql.SQL("ST_Transform(t.{}, 3857)").format(sql.Identifier(layer.geometry_column))
    else:
        tile_env = sql.SQL("ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4490)")
        search_env = sql.SQL(
            "ST_Expand(ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4490), %(expand)s)"
        )
        geom = sql.SQL("t.{}").format(sql.Identifier(layer.geometry_column))
    if layer.geometry_type not in POINT_TYPES:
        geom = sql.SQL("ST_SimplifyPreserveTopology({}, %(tolerance)s)").format(geom)
    statement = sql.SQL(
        "WITH rows AS ("
        " SELECT ST_AsMVTGeom({geom}, {tile_env}, %(extent)s, %(buffer)s, true) AS mvt_geom,"
        " {fields}"
        " FROM {table} AS t"
        " WHERE t.{geom_column} && {search_env}"
        ") "
        "SELECT ST_AsMVT(rows.*, %(layer)s, %(extent)s, 'mvt_geom' ORDER BY rows.{id_column})"
        " FROM rows"
        " WHERE rows.mvt_geom IS NOT NULL"
    ).format(
        geom=geom,
        tile_env=tile_env,
        fields=_columns(layer, view),
        table=sql.Identifier(layer.schema_name, layer.table_name),
        geom_column=sql.Identifier(layer.geometry_column),
        id_column=sql.Identifier(layer.id_column),
        search_env=search_env,
    )
    return TileQuery(statement, params)


def render(conn: Any, layer: Layer, address: TileAddress, view: TileView | None = None) -> bytes:
    """The tile's bytes (empty when no feature touches the tile)."""
    query = tile_query(layer, address, view)
    with conn.cursor() as cur:
        cur.execute(query.statement, query.params)
        row = cur.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
