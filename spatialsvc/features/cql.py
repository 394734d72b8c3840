"""CQL2 (text and JSON) to SQL: pygeofilter parses, this module translates the AST.

Every literal becomes a bound parameter (a named placeholder and a value in
:attr:`Params.values`); property names must be fields of the layer and are quoted with
``psycopg2.sql.Identifier``. Anything the translator does not know is refused with a 400.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql
from pygeofilter import ast, values

from spatialsvc.errors import InvalidInput
from spatialsvc.features.crs import CRS, STORAGE_SRID

FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 20_000
GEOMETRY_NAMES = frozenset({"geom", "geometry"})

_COMPARISON = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}
# With the literal first, S_CONTAINS(lit, geom) is ST_Within(geom, lit) and so on.
_SWAPPED = {"ST_Contains": "ST_Within", "ST_Within": "ST_Contains"}


@dataclass
class Params:
    """Bound values, each under a generated name (``f0``, ``f1``...)."""

    prefix: str = "f"
    values: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> sql.Placeholder:
        """A placeholder for a new bound value."""
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


def parse(text: str, lang: str | None) -> ast.AstType:
    """Parse a filter in ``cql2-text`` (default) or ``cql2-json``; malformed → 400."""
    lang = (lang or "cql2-text").strip().lower()
    if lang not in FILTER_LANGS:
        raise InvalidInput(f"filter-lang: use one of {', '.join(FILTER_LANGS)}")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(f"filter: longer than {MAX_FILTER_CHARS} characters")
    if not text.strip():
        raise InvalidInput("malformed CQL2 filter: empty")
    try:
        if lang == "cql2-json":
            from pygeofilter.parsers.cql2_json import parse as parse_json

            return parse_json(json.loads(text))
        from pygeofilter.parsers.cql2_text import parse as parse_text

        return parse_text(text)
    except RecursionError:
        raise InvalidInput("malformed CQL2 filter: nested too deeply") from None
    except Exception:  # noqa: BLE001 - the parsers raise many kinds; none are the client's business
        raise InvalidInput(f"malformed CQL2 filter ({lang})") from None


# JSON-schema kinds of the layer's columns: "string", "integer", "number", "boolean", "date",
# "date-time"; see spatialsvc.features.query.column_kinds.
_KIND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "date": lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
    "date-time": lambda v: isinstance(v, dt.datetime),
}


def _positions(coords: Any, depth: int) -> list[Any]:
    """Check nested coordinate arrays of a given depth (0: one position)."""
    if depth == 0:
        if not isinstance(coords, list | tuple) or len(coords) not in (2, 3):
            raise InvalidInput("filter: a position needs 2 or 3 numbers")
        if not all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in coords
        ):
            raise InvalidInput("filter: coordinates must be finite numbers")
        return [coords]
    if not isinstance(coords, list | tuple) or not coords:
        raise InvalidInput("filter: empty coordinates")
    return [p for item in coords for p in _positions(item, depth - 1)]


def _ring(ring: Any) -> None:
    points = _positions(ring, 1)
    if len(points) < 4 or list(points[0]) != list(points[-1]):
        raise InvalidInput("filter: a polygon ring needs 4 positions and must be closed")


_DEPTHS = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2}


def check_geometry(geometry: Any) -> None:
    """Refuse a malformed geometry literal before it reaches PostGIS."""
    if not isinstance(geometry, dict):
        raise InvalidInput("filter: malformed geometry")
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        for member in geometry.get("geometries") or []:
            check_geometry(member)
        return
    coords: Any = geometry.get("coordinates")
    if kind in _DEPTHS:
        _positions(coords, _DEPTHS[kind])
        if kind == "LineString" and len(coords) < 2:
            raise InvalidInput("filter: a line needs 2 positions")
    elif kind == "Polygon":
        _positions(coords, 2)
        for ring in coords:
            _ring(ring)
    elif kind == "MultiPolygon":
        _positions(coords, 3)
        for polygon in coords:
            for ring in polygon:
                _ring(ring)
    else:
        raise InvalidInput("filter: unsupported geometry type")


class Translator:
    """Translate one parsed filter for one layer into an SQL condition with bound values."""

    def __init__(
        self,
        kinds: Mapping[str, str],
        geometry_column: str,
        filter_crs: CRS,
        params: Params | None = None,
    ) -> None:
        self.kinds = kinds
        self.geometry_column = geometry_column
        self.filter_crs = filter_crs
        self.params = params or Params()

    def translate(self, node: Any) -> sql.Composable:
        """The SQL condition for a node of the AST."""
        if isinstance(node, ast.Not):
            return sql.SQL("(NOT {})").format(self.translate(node.sub_node))
        if isinstance(node, ast.And | ast.Or):
            op = sql.SQL(" AND " if isinstance(node, ast.And) else " OR ")
            return sql.SQL("({})").format(
                op.join([self.translate(node.lhs), self.translate(node.rhs)])
            )
        if isinstance(node, ast.Include):
            return sql.SQL("FALSE" if node.not_ else "TRUE")
        if isinstance(node, bool):
            return sql.SQL("TRUE" if node else "FALSE")
        for kind, handler in self._handlers():
            if isinstance(node, kind):
                return handler(node)
        raise InvalidInput(f"filter: {self._name(node)} is not supported")

    def _handlers(self) -> list[tuple[Any, Callable[[Any], sql.Composable]]]:
        return [
            (ast.Comparison, self._comparison),
            (ast.Like, self._like),
            (ast.In, self._in),
            (ast.Between, self._between),
            (ast.IsNull, self._is_null),
            (ast.SpatialComparisonPredicate, self._spatial),
        ]

    @staticmethod
    def _name(node: Any) -> str:
        if isinstance(node, ast.Function):
            return f"function {str(node.name)[:40]!r}"
        return type(node).__name__

    # --- scalar operands ----------------------------------------------------------------

    def _column(self, node: Any) -> tuple[sql.Composable, str]:
        if not isinstance(node, ast.Attribute):
            raise InvalidInput(f"filter: expected a property, got {self._name(node)}")
        name = str(node.name)
        if name.lower() in GEOMETRY_NAMES or name == self.geometry_column:
            raise InvalidInput(f"filter: {name!r} is the geometry; use a spatial function")
        kind = self.kinds.get(name)
        if kind is None:
            raise InvalidInput(f"filter: unknown property {name[:60]!r}")
        return sql.SQL("t.{}").format(sql.Identifier(name)), kind

    def _literal(self, value: Any, kind: str | None) -> sql.Composable:
        if isinstance(value, ast.Node | values.Geometry | values.Envelope):
            raise InvalidInput(f"filter: {self._name(value)} is not supported here")
        if value is None or not isinstance(value, str | int | float | bool | dt.date):
            raise InvalidInput("filter: unsupported literal")
        if kind is not None and not _KIND_CHECKS.get(kind, lambda _v: True)(value):
            raise InvalidInput(f"filter: a {kind} property compared with {type(value).__name__}")
        return self.params.bind(value)

    def _scalar_pair(self, lhs: Any, rhs: Any) -> tuple[sql.Composable, sql.Composable]:
        lhs_is_attr = isinstance(lhs, ast.Attribute)
        rhs_is_attr = isinstance(rhs, ast.Attribute)
        if lhs_is_attr and rhs_is_attr:
            (a, ka), (b, kb) = self._column(lhs), self._column(rhs)
            if ka != kb:
                raise InvalidInput("filter: properties of different types compared")
            return a, b
        if lhs_is_attr:
            a, kind = self._column(lhs)
            return a, self._literal(rhs, kind)
        if rhs_is_attr:
            b, kind = self._column(rhs)
            return self._literal(lhs, kind), b
        return self._literal(lhs, None), self._literal(rhs, None)

    # --- predicates ---------------------------------------------------------------------

    def _comparison(self, node: Any) -> sql.Composable:
        op = _COMPARISON.get(type(node))
        if op is None:
            raise InvalidInput(f"filter: {type(node).__name__} is not supported")
        lhs, rhs = self._scalar_pair(node.lhs, node.rhs)
        return sql.SQL("({} {} {})").format(lhs, sql.SQL(op), rhs)

    def _like(self, node: Any) -> sql.Composable:
        column, _kind = self._column(node.lhs)
        if not isinstance(node.pattern, str):
            raise InvalidInput("filter: LIKE needs a text pattern")
        op = "ILIKE" if node.nocase else "LIKE"
        neg = "NOT " if node.not_ else ""
        # CQL2's wildcards are SQL's: % any, _ one, backslash escapes.
        return sql.SQL("({}::text {}{} {})").format(
            column, sql.SQL(neg), sql.SQL(op), self.params.bind(node.pattern)
        )

    def _in(self, node: Any) -> sql.Composable:
        column, kind = self._column(node.lhs)
        if not node.sub_nodes:
            raise InvalidInput("filter: IN needs at least one value")
        items = sql.SQL(", ").join([self._literal(v, kind) for v in node.sub_nodes])
        neg = "NOT " if node.not_ else ""
        return sql.SQL("({} {}IN ({}))").format(column, sql.SQL(neg), items)

    def _between(self, node: Any) -> sql.Composable:
        column, kind = self._column(node.lhs)
        low, high = self._literal(node.low, kind), self._literal(node.high, kind)
        neg = "NOT " if node.not_ else ""
        return sql.SQL("({} {}BETWEEN {} AND {})").format(column, sql.SQL(neg), low, high)

    def _is_null(self, node: Any) -> sql.Composable:
        column, _kind = self._column(node.lhs)
        return sql.SQL("({} IS {}NULL)").format(column, sql.SQL("NOT " if node.not_ else ""))

    # --- spatial ------------------------------------------------------------------------

    def _is_geometry_property(self, node: Any) -> bool:
        if not isinstance(node, ast.Attribute):
            return False
        name = str(node.name)
        return name.lower() in GEOMETRY_NAMES or name == self.geometry_column

    def _spatial(self, node: Any) -> sql.Composable:
        function = _SPATIAL.get(type(node))
        if function is None:
            raise InvalidInput(f"filter: {type(node).__name__} is not supported")
        lhs, rhs = node.lhs, node.rhs
        if not self._is_geometry_property(lhs) and self._is_geometry_property(rhs):
            lhs, rhs = rhs, lhs
            function = _SWAPPED.get(function, function)
        if not self._is_geometry_property(lhs):
            raise InvalidInput("filter: a spatial function needs the geometry property")
        geom = sql.SQL("t.{}").format(sql.Identifier(self.geometry_column))
        if self._is_geometry_property(rhs):
            other: sql.Composable = geom
        else:
            other = self._geometry_literal(rhs)
        return sql.SQL("{}({}, {})").format(sql.SQL(function), geom, other)

    def _to_storage(self, geometry: sql.Composable) -> sql.Composable:
        if not self.filter_crs.needs_transform:
            return sql.SQL("ST_SetSRID({}, {})").format(geometry, sql.Literal(STORAGE_SRID))
        srid = self.params.bind(self.filter_crs.srid)
        return sql.SQL("ST_Transform(ST_SetSRID({}, {}::int), {})").format(
            geometry, srid, sql.Literal(STORAGE_SRID)
        )

    def _geometry_literal(self, node: Any) -> sql.Composable:
        if isinstance(node, values.Envelope):
            coords = [node.x1, node.y1, node.x2, node.y2]
        elif isinstance(node, ast.Function) and str(node.name).lower() == "bbox":
            args = list(node.arguments)
            if len(args) == 6:
                args = [args[0], args[1], args[3], args[4]]
            coords = args
        elif isinstance(node, values.Geometry):
            check_geometry(node.geometry)
            inner: sql.Composable = sql.SQL("ST_GeomFromGeoJSON({})").format(
                self.params.bind(json.dumps(node.geometry))
            )
            if self.filter_crs.lat_first:
                inner = sql.SQL("ST_FlipCoordinates({})").format(inner)
            return self._to_storage(inner)
        else:
            raise InvalidInput(f"filter: {self._name(node)} is not a geometry")
        if len(coords) != 4 or not all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in coords
        ):
            raise InvalidInput("filter: BBOX needs 4 numbers")
        a1, b1, a2, b2 = (float(c) for c in coords)
        x1, y1, x2, y2 = (b1, a1, b2, a2) if self.filter_crs.lat_first else (a1, b1, a2, b2)
        bound = [self.params.bind(v) for v in (x1, y1, x2, y2)]
        envelope = sql.SQL("ST_MakeEnvelope({}, {}, {}, {})").format(*bound)
        if self.filter_crs.needs_transform:
            seg = self.params.bind(max(x2 - x1, y2 - y1) / 64 or 1.0)
            envelope = sql.SQL("ST_Segmentize({}, {})").format(envelope, seg)
        return self._to_storage(envelope)


@dataclass
class Translated:
    """An SQL condition and its bound values."""

    sql: sql.Composable
    values: dict[str, Any]


def translate_tree(
    tree: Any, kinds: Mapping[str, str], geometry_column: str, filter_crs: CRS
) -> Translated:
    """Translate an already parsed filter (values under names ``x0``, ``x1``...)."""
    params = Params(prefix="x")
    try:
        condition = Translator(kinds, geometry_column, filter_crs, params).translate(tree)
    except RecursionError:
        raise InvalidInput("filter: nested too deeply") from None
    return Translated(condition, params.values)


def to_sql(
    text: str,
    lang: str | None,
    kinds: Mapping[str, str],
    geometry_column: str,
    filter_crs: CRS,
    params: Params,
) -> sql.Composable:
    """Parse and translate a filter into an SQL condition; its values go into ``params``."""
    tree = parse(text, lang)
    try:
        return Translator(kinds, geometry_column, filter_crs, params).translate(tree)
    except RecursionError:
        raise InvalidInput("filter: nested too deeply") from None
