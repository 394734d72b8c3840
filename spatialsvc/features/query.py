"""Items of a layer as GeoJSON, built in SQL in one round trip.

:func:`parse_items_query` checks the request's parameters (plain strings) against the layer
and returns an :class:`ItemsQuery`; :func:`fetch_items` and :func:`fetch_item` run it. The SQL
for a query without a filter is composed once per shape and cached.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from psycopg2 import sql

from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.features import cql
from spatialsvc.features.crs import CRS, STORAGE_SRID, BBox, parse_bbox, resolve
from spatialsvc.layers import Layer

# Query parameters this API defines for /items (the layer's fields come on top). Others are
# ignored, not refused: the OpenAPI document declares ``vendorSpecificParameters`` (any
# further parameter), so they are "specified in the API definition" (Features Part 1, 7.15.1).
ITEMS_PARAMETERS = frozenset(
    {
        "f",
        "lang",
        "bbox",
        "bbox-crs",
        "limit",
        "offset",
        "properties",
        "sortby",
        "crs",
        "filter",
        "filter-lang",
        "filter-crs",
        "skipGeometry",
        "datetime",
    }
)
ITEM_PARAMETERS = frozenset({"f", "lang", "crs"})

_KINDS = {
    "text": "string",
    "character varying": "string",
    "character": "string",
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
    "boolean": "boolean",
    "date": "date",
    "timestamp without time zone": "date-time",
    "timestamp with time zone": "date-time",
}
_KINDS_CACHE: dict[tuple[str, str], dict[str, str]] = {}
_KINDS_LOCK = threading.Lock()


def column_kinds(conn: Any, layer: Layer, cache_key: str = "") -> dict[str, str]:
    """JSON-schema kinds of the layer's fields, from information_schema (cached)."""
    key = (cache_key, layer.table)
    with _KINDS_LOCK:
        cached = _KINDS_CACHE.get(key)
    if cached is not None:
        return cached
    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            (layer.schema_name, layer.table_name),
        )
        types = dict(cur.fetchall())
    kinds = {name: _KINDS.get(types.get(name, "text"), "string") for name in layer.fields}
    with _KINDS_LOCK:
        _KINDS_CACHE[key] = kinds
    return kinds


@dataclass(frozen=True)
class Shape:
    """What decides the SQL text of an items query (everything but bound values)."""

    layer_id: str
    table: str
    id_column: str
    geometry_column: str
    properties: tuple[str, ...]
    crs: CRS
    skip_geometry: bool
    has_bbox: bool
    sortby: tuple[tuple[str, bool], ...]
    bbox_transform: bool = False
    point_layer: bool = False


@dataclass
class ItemsQuery:
    """A checked items request."""

    layer: Layer
    crs: CRS
    limit: int
    offset: int = 0
    bbox: BBox | None = None
    properties: tuple[str, ...] = ()
    sortby: tuple[tuple[str, bool], ...] = ()
    skip_geometry: bool = False
    filter_text: str | None = None
    filter_lang: str | None = None
    filter_crs: CRS | None = None
    equals: tuple[tuple[str, Any], ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> Shape:
        """The cache key of the SQL text."""
        return Shape(
            self.layer.id,
            self.layer.table,
            self.layer.id_column,
            self.layer.geometry_column,
            self.properties,
            self.crs,
            self.skip_geometry,
            self.bbox is not None,
            self.sortby,
            self.bbox is not None and self.bbox.needs_transform,
            self.layer.geometry_type == "Point",
        )


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"{name}: {raw[:20]!r} is not an integer") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name}: must be between {low} and {high}")
    return value


def _names(raw: str, layer: Layer, what: str) -> list[str]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        bare = name.lstrip("+-")
        if bare not in layer.fields:
            raise InvalidInput(f"{what}: unknown property {bare[:60]!r}")
    return names


def _bool(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    low = raw.strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no", ""):
        return False
    raise InvalidInput(f"{name}: use true or false")


def parse_items_query(
    params: Mapping[str, str],
    layer: Layer,
    default_limit: int,
    max_limit: int,
    kinds: Mapping[str, str] | None = None,
) -> ItemsQuery:
    """Check the query parameters of an items request against the layer."""
    crs = resolve(params.get("crs"), "crs")
    query = ItemsQuery(
        layer=layer,
        crs=crs,
        limit=_int(params, "limit", default_limit, 1, max_limit),
        offset=_int(params, "offset", 0, 0, 2**31 - 1),
        skip_geometry=_bool(params.get("skipGeometry"), "skipGeometry"),
    )
    if "bbox" in params:
        query.bbox = parse_bbox(params["bbox"], resolve(params.get("bbox-crs"), "bbox-crs"))
    elif "bbox-crs" in params:
        resolve(params["bbox-crs"], "bbox-crs")
    props = params.get("properties")
    query.properties = tuple(layer.fields if props is None else _names(props, layer, "properties"))
    if params.get("sortby"):
        query.sortby = tuple(
            (n.lstrip("+-"), n.startswith("-")) for n in _names(params["sortby"], layer, "sortby")
        )
    if "filter" in params:
        query.filter_text = params["filter"]
        query.filter_lang = params.get("filter-lang")
        query.filter_crs = resolve(params.get("filter-crs"), "filter-crs")
    elif "filter-lang" in params or "filter-crs" in params:
        raise InvalidInput("filter-lang and filter-crs need a filter")
    kinds = kinds or {}
    equals = []
    for name in layer.fields:
        if name in params:
            equals.append((name, _typed(params[name], kinds.get(name, "string"), name)))
    query.equals = tuple(equals)
    return query


def _typed(raw: str, kind: str, name: str) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        raise InvalidInput(f"{name}: {raw[:20]!r} is not a {kind}") from None
    if kind == "boolean":
        return _bool(raw, name)
    return raw


# --- SQL ---------------------------------------------------------------------------------


def _geometry(shape: Shape) -> sql.Composable:
    geom: sql.Composable = sql.SQL("t.{}").format(sql.Identifier(shape.geometry_column))
    if shape.crs.needs_transform:
        geom = sql.SQL("ST_Transform({}, %(out_srid)s::int)").format(geom)
    if shape.crs.lat_first:
        geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
    return sql.SQL("ST_AsGeoJSON({}, {}, 0)::json").format(geom, sql.Literal(shape.crs.decimals))


def _feature(shape: Shape) -> sql.Composable:
    props = sql.SQL(", ").join(
        sql.SQL("{}, t.{}").format(sql.Literal(name), sql.Identifier(name))
        for name in shape.properties
    )
    geometry = sql.SQL("NULL") if shape.skip_geometry else _geometry(shape)
    return sql.SQL(
        "json_build_object('type', 'Feature', 'id', t.{}, 'geometry', {}, 'properties', {})"
    ).format(
        sql.Identifier(shape.id_column),
        geometry,
        sql.SQL("json_build_object({})").format(props)
        if shape.properties
        else sql.SQL("'{}'::json"),
    )


def _bbox_condition(shape: Shape) -> sql.Composable:
    geom = sql.SQL("t.{}").format(sql.Identifier(shape.geometry_column))
    storage = sql.Literal(STORAGE_SRID)
    if not shape.bbox_transform:
        envelope = sql.SQL("ST_MakeEnvelope(%(bx1)s, %(by1)s, %(bx2)s, %(by2)s, {})").format(
            storage
        )
        if shape.point_layer:  # && compares float4 boxes: exact bounds with ST_X/ST_Y, cheaply
            return sql.SQL(
                "({g} && {e} AND ST_X({g}) BETWEEN %(bx1)s AND %(bx2)s"
                " AND ST_Y({g}) BETWEEN %(by1)s AND %(by2)s)"
            ).format(g=geom, e=envelope)
    else:
        envelope = sql.SQL(
            "ST_Transform(ST_Segmentize(ST_MakeEnvelope("
            "%(bx1)s, %(by1)s, %(bx2)s, %(by2)s, %(bsrid)s::int), %(bseg)s), {})"
        ).format(storage)
    return sql.SQL("({g} && {e} AND ST_Intersects({g}, {e}))").format(g=geom, e=envelope)


def _order(shape: Shape) -> sql.Composable:
    keys = [
        sql.SQL("t.{} {}").format(sql.Identifier(name), sql.SQL("DESC" if desc else "ASC"))
        for name, desc in shape.sortby
    ]
    keys.append(sql.SQL("t.{}").format(sql.Identifier(shape.id_column)))
    return sql.SQL(", ").join(keys)


@functools.lru_cache(maxsize=512)
def _parts(shape: Shape) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    schema, table = shape.table.split(".")
    head = sql.SQL(
        "SELECT coalesce(json_agg(q.feature), '[]'::json)::text, count(*) FROM ("
        "SELECT {} AS feature FROM {}.{} AS t"
    ).format(_feature(shape), sql.Identifier(schema), sql.Identifier(table))
    bbox = _bbox_condition(shape) if shape.has_bbox else sql.SQL("")
    tail = sql.SQL(" ORDER BY {} LIMIT %(limit)s OFFSET %(offset)s) AS q").format(_order(shape))
    return head, bbox, tail


_TEXT_CACHE: dict[Shape, str] = {}


def items_sql(
    query: ItemsQuery,
    kinds: Mapping[str, str],
    extra: sql.Composable | None = None,
    extra_values: Mapping[str, Any] | None = None,
) -> tuple[sql.Composable | str, dict[str, Any]]:
    """The SQL and bound values of an items query (``extra``: one more condition)."""
    shape = query.shape
    head, bbox_condition, tail = _parts(shape)
    values: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
    if shape.crs.needs_transform:
        values["out_srid"] = shape.crs.srid
    conditions: list[sql.Composable] = []
    if query.bbox is not None:
        b = query.bbox
        values.update(bx1=b.minx, by1=b.miny, bx2=b.maxx, by2=b.maxy)
        if b.needs_transform:  # edges cut every ~1/64 so they stay straight lines in 4490
            values.update(bsrid=b.srid, bseg=max(b.maxx - b.minx, b.maxy - b.miny) / 64 or 1.0)
        conditions.append(bbox_condition)
    params = cql.Params()
    for name, value in query.equals:
        conditions.append(sql.SQL("t.{} = {}").format(sql.Identifier(name), params.bind(value)))
    if query.filter_text is not None:
        assert query.filter_crs is not None
        conditions.append(
            cql.to_sql(
                query.filter_text,
                query.filter_lang,
                kinds,
                query.layer.geometry_column,
                query.filter_crs,
                params,
            )
        )
    values.update(params.values)
    if extra is not None:
        conditions.append(extra)
        values.update(extra_values or {})
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    if query.filter_text is None and not query.equals and extra is None:
        cached = _TEXT_CACHE.get(shape)
        if cached is not None:
            return cached, values
    return sql.Composed([head, where, tail]), values


@dataclass
class Page:
    """A page of features: the GeoJSON array as text and how many it holds."""

    features_json: str
    number_returned: int


def _execute(conn: Any, statement: sql.Composable | str, values: dict[str, Any]) -> Any:
    with conn.cursor() as cur:
        try:
            cur.execute(statement, values)
        except (psycopg2.DataError, psycopg2.InternalError) as exc:
            # Bad geometry or value in a filter (e.g. an unclosed polygon): the client's input.
            raise InvalidInput("filter: a value or geometry cannot be used") from exc
        return cur.fetchone()


def fetch_items(conn: Any, query: ItemsQuery, kinds: Mapping[str, str]) -> Page:
    """Run an items query: one round trip."""
    statement, values = items_sql(query, kinds)
    if isinstance(statement, sql.Composable) and query.filter_text is None and not query.equals:
        text = statement.as_string(conn)
        _TEXT_CACHE[query.shape] = text
        statement = text
    row = _execute(conn, statement, values)
    return Page(features_json=row[0], number_returned=int(row[1]))


def fetch_items_where(
    conn: Any, query: ItemsQuery, kinds: Mapping[str, str], condition: cql.Translated
) -> Page:
    """Run an items query with one more, already translated, condition."""
    statement, values = items_sql(query, kinds, condition.sql, condition.values)
    row = _execute(conn, statement, values)
    return Page(features_json=row[0], number_returned=int(row[1]))


def fetch_item(conn: Any, layer: Layer, identifier: str, crs: CRS, kinds: Mapping[str, str]) -> str:
    """One feature as GeoJSON text; NotFound if there is none with that id."""
    kind = kinds.get(layer.id_column, "string")
    value: Any = identifier
    if kind == "integer":
        try:
            value = int(identifier)
        except ValueError:
            raise NotFound(f"no feature {identifier[:60]!r} in {layer.id}") from None
    shape = ItemsQuery(layer=layer, crs=crs, limit=1, properties=tuple(layer.fields)).shape
    schema, table = layer.table.split(".")
    statement = sql.SQL("SELECT {}::text FROM {}.{} AS t WHERE t.{} = %(id)s").format(
        _feature(shape),
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.Identifier(layer.id_column),
    )
    values: dict[str, Any] = {"id": value}
    if crs.needs_transform:
        values["out_srid"] = crs.srid
    with conn.cursor() as cur:
        cur.execute(statement, values)
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no feature {identifier[:60]!r} in {layer.id}")
    return str(row[0])
