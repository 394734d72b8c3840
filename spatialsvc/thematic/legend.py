"""Class breaks by mapclassify, legends, and MapLibre styles of the thematic layers.

A layer file's ``thematic:`` entries name a field, a classification scheme and one colour per
class; the first is the layer's default style.  Any other numeric field of the layer can be
classed on request (:func:`legend`).  Breaks are computed from the values the layer
publishes (suppressed cells are NULL and counted in the "no data" entry), so a legend never
shows a value that the layer hides.  Legends are kept in ``thematic.legend`` with the table's
data version and a hash of what else they depend on, and computed again when either changes.

Schemes: ``quantiles``, ``equal_interval``, ``natural_breaks`` and ``fisher_jenks`` (both
mapclassify's FisherJenks: Jenks' optimal natural breaks, the same every time, unlike
mapclassify's k-means ``NaturalBreaks``), ``maximum_breaks``, ``jenks_caspall``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from psycopg2 import sql

from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.layers import Layer, Thematic

SCHEMES = {
    "quantiles": "Quantiles",
    "natural_breaks": "FisherJenks",
    "equal_interval": "EqualInterval",
    "fisher_jenks": "FisherJenks",
    "maximum_breaks": "MaximumBreaks",
    "jenks_caspall": "JenksCaspall",
}
STYLE_MEDIA_TYPE = "application/vnd.mapbox.style+json"
K_RANGE = (2, 9)
DEFAULT_K = 5
# ColorBrewer YlOrRd, 9 classes: the ramp of a field that no thematic style of the layer names.
DEFAULT_COLOURS = [
    "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c",
    "#fc4e2a", "#e31a1c", "#bd0026", "#800026",
]  # fmt: skip
NO_DATA_COLOUR = "#d9d9d9"
NO_DATA_LABEL = "少于 5 或不公开"
NUMERIC_TYPES = ("integer", "bigint", "smallint", "numeric", "double precision", "real")


@dataclass(frozen=True)
class LegendClass:
    """One class: values in (lower, upper] (the first class: [lower, upper])."""

    lower: float
    upper: float
    color: str
    label: str
    count: int


@dataclass(frozen=True)
class Legend:
    """The classes of one field of a layer, and where they come from."""

    layer: str
    field: str
    scheme: str
    k: int
    classes: tuple[LegendClass, ...]
    no_data: dict[str, Any]
    source: dict[str, Any]
    title: str = ""
    unit: str = ""
    filter: dict[str, Any] = dataclass_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The legend as JSON (``GET /collections/{id}/legend``)."""
        out = {
            "layer": self.layer,
            "field": self.field,
            "title": self.title,
            "unit": self.unit,
            "scheme": self.scheme,
            "k": self.k,
            "classes": [c.__dict__ for c in self.classes],
            "no_data": self.no_data,
            "source": self.source,
        }
        if self.filter:
            out["filter"] = self.filter
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Legend:
        """A legend stored by :meth:`to_dict`."""
        return cls(
            layer=data["layer"],
            field=data["field"],
            scheme=data["scheme"],
            k=int(data["k"]),
            classes=tuple(LegendClass(**c) for c in data["classes"]),
            no_data=dict(data["no_data"]),
            source=dict(data["source"]),
            title=data.get("title", ""),
            unit=data.get("unit", ""),
            filter=dict(data.get("filter") or {}),
        )


def find_style(layer: Layer, style_id: str = "default") -> Thematic:
    """The layer's thematic style ``style_id`` (``default``: its first), or NotFound."""
    if not layer.thematic:
        raise NotFound(f"layer {layer.id!r} has no thematic style")
    if style_id == "default":
        return layer.thematic[0]
    for style in layer.thematic:
        if style.id == style_id:
            return style
    names = ", ".join(["default", *(s.id for s in layer.thematic)])
    raise NotFound(f"layer {layer.id!r} has no style {style_id[:40]!r} (styles: {names})")


def class_breaks(values: np.ndarray, scheme: str, k: int) -> list[float]:
    """Upper bounds of at most ``k`` classes (each class holds values <= its bound)."""
    import mapclassify

    values = values[np.isfinite(values)]
    if not len(values):
        return []
    distinct = np.unique(values)
    if len(distinct) <= k:
        return [float(v) for v in distinct]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mapclassify warns when it merges classes
        classifier = getattr(mapclassify, SCHEMES[scheme])(values, k=k)
    bins = sorted({float(b) for b in np.asarray(classifier.bins)})
    bins[-1] = float(values.max())
    return bins


def _label(lower: float, upper: float, digits: int) -> str:
    """``"120 – 300"``; a class is (lower, upper], the first [lower, upper]."""
    low, high = f"{lower:,.{digits}f}", f"{upper:,.{digits}f}"
    return high if low == high else f"{low} – {high}"


def _colours(colours: list[str], n: int) -> list[str]:
    """``n`` colours spread over a ramp (all of it when n == len)."""
    if n <= 0:
        return []
    if n == 1:
        return [colours[-1]]
    picks = np.linspace(0, len(colours) - 1, n).round().astype(int)
    return [colours[i] for i in picks]


@dataclass(frozen=True)
class _Spec:
    """What a legend is made of besides the data."""

    field: str
    scheme: str
    k: int
    colours: tuple[str, ...]
    title: str
    unit: str
    digits: int
    latest: str | None
    no_data_color: str = NO_DATA_COLOUR
    no_data_label: str = NO_DATA_LABEL

    def digest(self, layer: Layer) -> str:
        text = layer.table + "|" + json.dumps(self.__dict__, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _style_spec(style: Thematic) -> _Spec:
    return _Spec(
        field=style.field,
        scheme=style.scheme,
        k=len(style.colors),
        colours=tuple(style.colors),
        title=style.title,
        unit=style.unit,
        digits=style.digits,
        latest=style.latest,
        no_data_color=style.no_data_color,
        no_data_label=style.no_data_label,
    )


def _request_spec(layer: Layer, field: str | None, scheme: str | None, k: int | None) -> _Spec:
    """The spec of ``GET /legend?field=&scheme=&k=``: the default style, changed as asked."""
    base = layer.thematic[0] if layer.thematic else None
    name = field or (base.field if base else None)
    if name is None:
        raise InvalidInput(f"layer {layer.id!r} has no thematic style: give field=")
    if name not in layer.fields:
        raise InvalidInput(f"field {name[:40]!r} is not a field of {layer.id!r}")
    style = next((s for s in layer.thematic if s.field == name), None)
    if scheme is not None and scheme not in SCHEMES:
        raise InvalidInput(f"scheme must be one of {', '.join(SCHEMES)}")
    if k is not None and not K_RANGE[0] <= k <= K_RANGE[1]:
        raise InvalidInput(f"k must be between {K_RANGE[0]} and {K_RANGE[1]}")
    ramp = list(style.colors) if style else DEFAULT_COLOURS
    count = k or (len(style.colors) if style else DEFAULT_K)
    return _Spec(
        field=name,
        scheme=scheme or (style.scheme if style else "quantiles"),
        k=count,
        colours=tuple(ramp if len(ramp) == count else _colours(ramp, count)),
        title=style.title if style else name,
        unit=style.unit if style else "",
        digits=style.digits if style else 0,
        latest=style.latest if style else None,
        no_data_color=style.no_data_color if style else NO_DATA_COLOUR,
        no_data_label=style.no_data_label if style else NO_DATA_LABEL,
    )


def build_legend(layer: Layer, spec: _Spec, values: list[Any], source: dict[str, Any]) -> Legend:
    """The legend of ``spec`` over the published ``values`` (None = suppressed)."""
    present = np.array([float(v) for v in values if v is not None], dtype=float)
    bins = class_breaks(present, spec.scheme, spec.k)
    colours = list(spec.colours) if len(bins) == spec.k else _colours(list(spec.colours), len(bins))
    classes = []
    lower = float(present.min()) if len(present) else 0.0
    for i, (upper, colour) in enumerate(zip(bins, colours, strict=True)):
        inside = present <= upper if i == 0 else (present > lower) & (present <= upper)
        classes.append(
            LegendClass(lower, upper, colour, _label(lower, upper, spec.digits), int(inside.sum()))
        )
        lower = upper
    return Legend(
        layer=layer.id,
        field=spec.field,
        scheme=spec.scheme,
        k=spec.k,
        classes=tuple(classes),
        no_data={
            "color": spec.no_data_color,
            "label": spec.no_data_label,
            "count": len(values) - len(present),
        },
        source=source,
        title=spec.title,
        unit=spec.unit,
    )


def _data_version(cur: Any, layer: Layer) -> int:
    cur.execute(
        "SELECT coalesce((SELECT version FROM meta.layer_version WHERE table_name = %s), 0)",
        (layer.table,),
    )
    return int(cur.fetchone()[0])


def _check_numeric(cur: Any, layer: Layer, name: str) -> None:
    cur.execute(
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s AND column_name = %s",
        (layer.schema_name, layer.table_name, name),
    )
    row = cur.fetchone()
    if row is None or row[0] not in NUMERIC_TYPES:
        raise InvalidInput(f"field {name!r} of {layer.id!r} is not numeric")


def _compute(cur: Any, layer: Layer, spec: _Spec, version: int) -> Legend:
    """Class the table's values now and keep the legend in ``thematic.legend``."""
    import mapclassify

    _check_numeric(cur, layer, spec.field)
    table = sql.Identifier(layer.schema_name, layer.table_name)
    column = sql.Identifier(spec.field)
    if spec.latest is None:
        cur.execute(sql.SQL("SELECT {}, NULL FROM {}").format(column, table))
    else:
        cur.execute(
            sql.SQL(
                "SELECT {column}, {latest} FROM {table}"
                " WHERE {latest} = (SELECT max({latest}) FROM {table})"
            ).format(column=column, latest=sql.Identifier(spec.latest), table=table)
        )
    rows = cur.fetchall()
    source = {
        "table": layer.table,
        "data_version": version,
        "values": len(rows),
        "classifier": f"mapclassify {mapclassify.__version__} {SCHEMES[spec.scheme]}",
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    legend = build_legend(layer, spec, [r[0] for r in rows], source)
    if spec.latest is not None and rows:
        value = rows[0][1]
        legend = Legend(**{**legend.__dict__, "filter": {spec.latest: _plain(value)}})
    cur.execute(
        "INSERT INTO thematic.legend (layer, field, scheme, k, spec_hash, data_version, legend)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (layer, field, scheme, k) DO UPDATE SET spec_hash = excluded.spec_hash,"
        " data_version = excluded.data_version, legend = excluded.legend, computed_at = now()",
        (
            layer.id,
            spec.field,
            spec.scheme,
            spec.k,
            spec.digest(layer),
            version,
            json.dumps(legend.to_dict(), ensure_ascii=False),
        ),
    )
    return legend


def _plain(value: Any) -> Any:
    """A database value as JSON holds it."""
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


def _current(cur: Any, layer: Layer, spec: _Spec, refresh: bool) -> Legend:
    version = _data_version(cur, layer)
    if not refresh:
        cur.execute(
            "SELECT legend FROM thematic.legend WHERE layer = %s AND field = %s AND scheme = %s"
            " AND k = %s AND spec_hash = %s AND data_version = %s",
            (layer.id, spec.field, spec.scheme, spec.k, spec.digest(layer), version),
        )
        row = cur.fetchone()
        if row is not None:
            return Legend.from_dict(dict(row[0]))
    return _compute(cur, layer, spec, version)


def legend_for_style(cur: Any, layer: Layer, style: Thematic, refresh: bool = False) -> Legend:
    """The legend of one of the layer's thematic styles (stored, or computed now)."""
    return _current(cur, layer, _style_spec(style), refresh)


def legend(
    conn: Any,
    layer: Layer,
    field: str | None = None,
    scheme: str | None = None,
    k: int | None = None,
) -> Legend:
    """The classes of ``field`` (default: the layer's default thematic style) by ``scheme`` in
    ``k`` classes; InvalidInput for a field that is not a numeric field of the layer, an
    unknown scheme or k outside 2-9."""
    spec = _request_spec(layer, field, scheme, k)
    with conn.cursor() as cur:
        return _current(cur, layer, spec, refresh=False)


def _no_value(name: str) -> list[Any]:
    return ["any", ["!", ["has", name]], ["==", ["get", name], None]]


def colour_expression(legend: Legend) -> list[Any]:
    """A MapLibre expression giving each feature its class colour (grey when suppressed)."""
    name = legend.field
    expr: list[Any] = ["case", _no_value(name), legend.no_data["color"]]
    for cls in legend.classes[:-1]:
        expr += [["<=", ["to-number", ["get", name]], cls.upper], cls.color]
    expr.append(legend.classes[-1].color if legend.classes else legend.no_data["color"])
    return expr


def maplibre_style(layer: Layer, legend: Legend, base_url: str) -> dict[str, Any]:
    """A MapLibre style drawing the layer's vector tiles in the legend's classes."""
    tiles = f"{base_url}/collections/{layer.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"
    source = {"type": "vector", "tiles": [tiles], "minzoom": layer.minzoom, "maxzoom": 18}
    colour = colour_expression(legend)
    base = {"source": layer.id, "source-layer": layer.id}
    name = f"{layer.id}-{legend.field}"
    drawn: list[dict[str, Any]]
    if layer.geometry_type == "Point":
        paint = {
            "circle-color": colour,
            "circle-radius": layer.style.radius,
            "circle-stroke-color": layer.style.stroke,
            "circle-stroke-width": layer.style.width,
        }
        drawn = [{"id": name, "type": "circle", **base, "paint": paint}]
    else:
        drawn = [
            {
                "id": name,
                "type": "fill",
                **base,
                "paint": {"fill-color": colour, "fill-opacity": 0.75},
            },
            {
                "id": f"{name}-outline",
                "type": "line",
                **base,
                "paint": {"line-color": layer.style.stroke, "line-width": layer.style.width},
            },
        ]
    if legend.filter:
        only = [["==", ["get", key], value] for key, value in legend.filter.items()]
        for item in drawn:
            item["filter"] = ["all", *only]
    return {
        "version": 8,
        "name": f"{layer.title}：{legend.title or legend.field}",
        "metadata": {"spatialsvc:legend": legend.to_dict()},
        "sources": {layer.id: source},
        "layers": drawn,
    }
