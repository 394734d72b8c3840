"""Render one Mapbox Vector Tile of a layer with ST_AsMVT, in SQL with integer SRIDs.

Geometries are stored in EPSG:4490. The rows are picked with the tile's envelope (plus the
MVT buffer) transformed to 4490 so the GiST index is used, reprojected to the tile's SRID
(3857 for WebMercatorQuad, none for CGCS2000Quad), simplified to about one screen pixel of
the tile (lines and polygons only; points are left alone), then clipped and quantised by
ST_AsMVTGeom. The MVT layer is named after the layer id and carries only the layer's fields;
features are ordered by the layer's id so that the same data always gives the same bytes (and
ETag), whatever plan PostgreSQL picks.
"""

from __future__ import annotations

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
class TileQuery:
    """The SQL of one tile and its bound parameters."""

    statement: sql.Composed
    params: dict[str, Any]


def tile_query(layer: Layer, address: TileAddress) -> TileQuery:
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
        fields=sql.SQL(", ").join(
            sql.SQL("t.{}").format(sql.Identifier(name)) for name in layer.fields
        ),
        table=sql.Identifier(layer.schema_name, layer.table_name),
        geom_column=sql.Identifier(layer.geometry_column),
        id_column=sql.Identifier(layer.id_column),
        search_env=search_env,
    )
    return TileQuery(statement, params)


def render(conn: Any, layer: Layer, address: TileAddress) -> bytes:
    """The tile's bytes (empty when no feature touches the tile)."""
    query = tile_query(layer, address)
    with conn.cursor() as cur:
        cur.execute(query.statement, query.params)
        row = cur.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
