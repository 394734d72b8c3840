"""Class (choropleth) maps as folium maps that work offline: :func:`thematic_map`.

Classes come from mapclassify (quantiles, natural breaks, equal interval, Fisher-Jenks ... or
breaks given, e.g. the service's ``/legend``). The legend and the title are our own HTML
controls (branca's colour-map legend loads d3 from a CDN). folium's default page loads Leaflet,
jQuery, Bootstrap, Font Awesome and awesome-markers from CDNs and renders blank offline: the map
loads only Leaflet's script and style, from the service's ``/static/vendor/leaflet/``, and its
basemap is the service's own raster tiles. :func:`external_urls` lists what a rendered page
would fetch from anywhere else.
"""

from __future__ import annotations

import html
import json
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from spatialsvc.client import palettes

if TYPE_CHECKING:
    from spatialsvc.client.client import Client

LEAFLET_JS = "leaflet/leaflet.js"
LEAFLET_CSS = "leaflet/leaflet.css"
FILL = "_spatialsvc_fill"
NO_DATA_LABEL = "无数据 / 已抑制"
_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""", re.I)
_TEMPLATE_URL = re.compile(r"""["'](https?://[^"'\s]+)["']""")
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost", "https://127.0.0.1", "https://localhost")


@dataclass(frozen=True)
class LegendClass:
    """One class of a thematic map: its bounds, colour, label and how many features it holds."""

    lower: float
    upper: float
    color: str
    label: str
    count: int


@dataclass
class Legend:
    """The classes of a column, the colour of every row, and the rows without a value."""

    column: str
    scheme: str
    classes: list[LegendClass]
    colors: pd.Series
    no_data: int = 0
    no_data_color: str = "#bdbdbd"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        """The number of classes actually made (mapclassify may make fewer than asked)."""
        return len(self.classes)


def _decimals(values: Sequence[float]) -> int:
    """Decimals that tell the bounds apart and show the smallest one's first digit."""
    finite = [v for v in values if math.isfinite(v)]
    if all(float(v).is_integer() for v in finite):
        return 0
    small = min((abs(v) for v in finite if v != 0), default=1.0)
    least = 0 if small >= 1 else min(6, 1 - math.floor(math.log10(small)) - 1)
    for digits in range(max(1, least), 7):
        shown = [f"{v:.{digits}f}" for v in finite]
        if len(set(shown)) == len(set(finite)):
            return digits
    return 6


def _formatter(fmt: str | Callable[[float], str] | None, bounds: Sequence[float]) -> Any:
    if callable(fmt):
        return fmt
    if isinstance(fmt, str):
        return fmt.format
    digits = _decimals(bounds)
    return lambda v: f"{v:,.{digits}f}"


SAME_AS_SERVICE = {"natural_breaks": "fisher_jenks"}
"""Schemes named as the service's legends name them: its ``natural_breaks`` are Jenks' optimal
breaks (mapclassify's FisherJenks, the same every run), not mapclassify's k-means
``NaturalBreaks`` (a random start: other classes on every run)."""


def classify(
    values: pd.Series,
    scheme: str = "quantiles",
    k: int = 5,
    *,
    breaks: Sequence[float] | None = None,
    colors: str | list[str] = palettes.DEFAULT,
    fmt: str | Callable[[float], str] | None = None,
    no_data_color: str = "#bdbdbd",
    **options: Any,
) -> Legend:
    """Classes of a numeric column with mapclassify, and the colour of every row.

    ``breaks`` (upper bounds, ascending) give the classes instead of ``scheme``; missing values
    (suppressed counts are NULL) get ``no_data_color`` and count in ``Legend.no_data``.
    ``options`` go to :func:`mapclassify.classify` (``pct``, ``hinge``, ``initial`` ...).
    ``natural_breaks`` means what it means in the service's legends: Fisher-Jenks.
    """
    name = str(values.name)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        example = values[bad].iloc[0]
        raise ValueError(f"column {name!r} is not numeric (e.g. {str(example)[:30]!r})")
    valid = numbers.notna().to_numpy()
    y = numbers[valid].to_numpy(dtype=float)
    if y.size == 0:
        raise ValueError(f"column {name!r} has no value to classify")
    if breaks is not None:
        bins = sorted(float(b) for b in breaks)
        classifier = mapclassify.UserDefined(y, bins=bins)
        used = "user_defined"
    else:
        with warnings.catch_warnings():  # "Numba not installed": the pure Python is enough
            warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
            classifier = mapclassify.classify(
                y, scheme=SAME_AS_SERVICE.get(scheme, scheme), k=k, **options
            )
        used = scheme
    bins = [float(b) for b in np.asarray(classifier.bins)]
    yb = np.asarray(classifier.yb, dtype=int)
    counts = np.bincount(yb, minlength=len(bins))
    palette = palettes.colours(colors, len(bins))
    lowers = [float(y.min()), *bins[:-1]]
    show = _formatter(fmt, [*lowers, *bins])
    classes = [
        LegendClass(lo, hi, palette[i], f"{show(lo)} – {show(hi)}", int(counts[i]))
        for i, (lo, hi) in enumerate(zip(lowers, bins, strict=True))
    ]
    row_colors = np.full(len(values), no_data_color, dtype=object)
    row_colors[valid] = [palette[c] for c in yb]
    return Legend(
        column=name,
        scheme=used,
        classes=classes,
        colors=pd.Series(row_colors, index=values.index, name=FILL),
        no_data=int((~valid).sum()),
        no_data_color=no_data_color,
    )


class ThematicMap(folium.Map):
    """A folium Map that keeps the :class:`Legend` it draws, as ``thematic_legend``."""

    thematic_legend: Legend


class HtmlControl(MacroElement):
    """A Leaflet control holding our own HTML (legend, title), with its CSS in the page head."""

    _template = Template(
        """
{% macro header(this, kwargs) %}<style>{{ this.css }}</style>{% endmacro %}
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
{{ this.get_name() }}.onAdd = function () {
    var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
    div.innerHTML = {{ this.body_json }};
    L.DomEvent.disableClickPropagation(div);
    return div;
};
{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self, body: str, position: str, css_class: str, css: str) -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.body = body
        # readable in the page (Chinese as is); "</" escaped so the script cannot be closed
        self.body_json = json.dumps(body, ensure_ascii=False).replace("</", "<\\/")
        self.position = position
        self.css_class = css_class
        self.css = css


LEGEND_CSS = (
    ".spatialsvc-legend{background:rgba(255,255,255,.92);padding:8px 10px;border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.5 'Noto Sans CJK SC','Microsoft YaHei',"
    "sans-serif;color:#222;max-width:260px}"
    ".spatialsvc-legend .title{font-weight:bold;margin-bottom:4px}"
    ".spatialsvc-legend .row{display:flex;align-items:center;white-space:nowrap}"
    ".spatialsvc-legend .swatch{display:inline-block;width:18px;height:12px;margin-right:6px;"
    "border:1px solid rgba(0,0,0,.3)}"
    ".spatialsvc-legend .count{color:#666;margin-left:6px}"
)
TITLE_CSS = (
    ".spatialsvc-title{background:rgba(255,255,255,.92);padding:6px 12px;border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.35);font:bold 16px/1.4 'Noto Sans CJK SC',"
    "'Microsoft YaHei',sans-serif;color:#222}"
)


def legend_html(legend: Legend, title: str, no_data_label: str = NO_DATA_LABEL) -> str:
    """The legend's HTML: a title and one swatch, label and count per class."""
    rows = [f'<div class="title">{html.escape(title)}</div>']
    entries = [(c.color, c.label, c.count) for c in legend.classes]
    if legend.no_data:
        entries.append((legend.no_data_color, no_data_label, legend.no_data))
    for color, label, count in entries:
        rows.append(
            f'<div class="row"><span class="swatch" style="background:{color}"></span>'
            f'<span class="label">{html.escape(label)}</span>'
            f'<span class="count">({count:,})</span></div>'
        )
    return "".join(rows)


def _service(value: Client | str | None) -> str | None:
    if value is None:
        return None
    url = getattr(value, "url", value)
    if not isinstance(url, str):
        raise TypeError("basemap / assets: give a spatialsvc Client or the service's URL")
    if "{z}" in url:
        return None
    return url.rstrip("/")


def _basemap(basemap: Client | str) -> dict[str, Any]:
    """Tile URL template, zoom range and attribution of the service's raster basemap."""
    if isinstance(basemap, str) and "{z}" in basemap:
        return {"tiles": [basemap], "attribution": "底图", "minzoom": 0, "maxzoom": 18}
    if isinstance(basemap, str):
        from spatialsvc.client.client import Client

        with Client(basemap) as plain:
            return plain.tilejson()
    return basemap.tilejson()


def _frame_for_map(gdf: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """The columns the map needs, in longitude/latitude, with JSON-friendly values."""
    frame = gdf[[*columns, gdf.geometry.name]].copy()
    if frame.crs is not None:
        frame = frame.to_crs("EPSG:4326")
    for name in columns:
        column = frame[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            frame[name] = column.astype("string").fillna("")
    frame = frame[~frame.geometry.isna() & ~frame.geometry.is_empty]
    return frame


def thematic_map(
    gdf: gpd.GeoDataFrame,
    column: str,
    scheme: str = "quantiles",
    k: int = 5,
    title: str | None = None,
    basemap: Client | str | None = None,
    tooltip: Sequence[str] | Mapping[str, str] | None = None,
    *,
    breaks: Sequence[float] | None = None,
    colors: str | list[str] = palettes.DEFAULT,
    assets: Client | str | None = None,
    legend_title: str | None = None,
    fmt: str | Callable[[float], str] | None = None,
    fill_opacity: float = 0.75,
    line_color: str = "#4d4d4d",
    line_weight: float = 0.6,
    point_radius: float = 5.0,
    no_data_color: str = "#bdbdbd",
    no_data_label: str = NO_DATA_LABEL,
    width: str | int = "100%",
    height: str | int = "100%",
    **classify_options: Any,
) -> ThematicMap:
    """A class map of ``gdf[column]`` as a folium Map that needs nothing but the service.

    - ``scheme``/``k``: a mapclassify scheme (``quantiles``, ``natural_breaks``,
      ``equal_interval``, ``fisher_jenks``, ``std_mean`` ...); ``breaks`` (upper bounds) instead.
    - ``basemap``: a :class:`~spatialsvc.client.Client`, the service's URL or a tile URL
      template: the service's raster basemap is drawn under the classes (None: no basemap).
    - ``assets``: where Leaflet's script and style are loaded from (``/static/vendor/leaflet/``
      of a Client or service URL); defaults to the basemap's service. One of them is needed.
    - ``tooltip``: columns shown on hover (a list, or ``{column: label}``); default the
      column, with ``name`` first when the frame has one.
    - ``colors``: a ColorBrewer ramp name (:data:`palettes.BREWER9`) or one colour per class.

    The map is fitted to the features; ``map.thematic_legend`` is the :class:`Legend` drawn.
    """
    if column not in gdf.columns:
        raise ValueError(
            f"column {column!r} is not in the frame ({', '.join(map(str, gdf.columns))})"
        )
    service = _service(assets) or _service(basemap)
    if service is None:
        raise ValueError(
            "thematic_map loads Leaflet from the service's /static/vendor: pass basemap=client "
            "(or assets=client / the service URL)"
        )
    legend = classify(
        gdf[column],
        scheme,
        k,
        breaks=breaks,
        colors=colors,
        fmt=fmt,
        no_data_color=no_data_color,
        **classify_options,
    )
    if tooltip is None:
        names = (["name"] if "name" in gdf.columns and column != "name" else []) + [column]
        aliases = names
    elif isinstance(tooltip, Mapping):
        names, aliases = list(tooltip), list(tooltip.values())
    else:
        names = list(tooltip)
        aliases = names
    missing = [n for n in names if n not in gdf.columns]
    if missing:
        raise ValueError(f"tooltip: no column {missing[0]!r} in the frame")
    frame = gdf.assign(**{FILL: legend.colors.to_numpy()})
    frame = _frame_for_map(frame, list(dict.fromkeys([*names, column, FILL])))
    if frame.empty:
        raise ValueError("the frame has no geometry to draw")
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)

    fmap = ThematicMap(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=12,
        tiles=None,
        control_scale=True,
        width=width,
        height=height,
    )
    # Only Leaflet, from the service: folium's CDN defaults (jQuery, Bootstrap, Font Awesome,
    # awesome-markers) are not needed by anything drawn here and would leave the machine.
    fmap.default_js = [("leaflet", f"{service}/static/vendor/{LEAFLET_JS}")]
    fmap.default_css = [("leaflet_css", f"{service}/static/vendor/{LEAFLET_CSS}")]

    if basemap is not None:
        tiles = _basemap(basemap)
        folium.TileLayer(
            tiles=tiles["tiles"][0],
            attr=html.escape(str(tiles.get("attribution") or "底图")),
            name=str(tiles.get("name") or "底图"),
            min_zoom=int(tiles.get("minzoom", 0)),
            max_zoom=int(tiles.get("maxzoom", 18)),
            max_native_zoom=int(tiles.get("maxzoom", 18)),
            overlay=False,
            control=False,
        ).add_to(fmap)

    kinds = set(frame.geom_type.dropna())
    lines = kinds <= {"LineString", "MultiLineString"}
    points = kinds <= {"Point", "MultiPoint"}

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        color = feature["properties"][FILL]
        if lines:
            return {"color": color, "weight": max(2.0, line_weight * 4), "opacity": 0.9}
        return {
            "fill": True,  # folium's CircleMarker defaults to no fill
            "fillColor": color,
            "fillOpacity": fill_opacity,
            "color": line_color,
            "weight": line_weight,
            "opacity": 0.8,
        }

    folium.GeoJson(
        json.loads(frame.to_json(na="null", show_bbox=False, drop_id=True)),
        name=title or column,
        style_function=style,
        highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=names, aliases=aliases, localize=True),
        marker=folium.CircleMarker(radius=point_radius) if points else None,
    ).add_to(fmap)

    fmap.add_child(
        HtmlControl(
            legend_html(legend, legend_title or title or column, no_data_label),
            "bottomright",
            "spatialsvc-legend",
            LEGEND_CSS,
        )
    )
    if title:
        fmap.add_child(
            HtmlControl(f"{html.escape(title)}", "topright", "spatialsvc-title", TITLE_CSS)
        )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]], padding=(10, 10))
    fmap.thematic_legend = legend
    return fmap


def external_urls(page: folium.Map | str, allowed: Sequence[str] = LOCAL_PREFIXES) -> list[str]:
    """URLs a rendered page would load (scripts, styles, tiles) that are not under ``allowed``.

    ``data:`` and relative URLs are local. A Map is rendered first. An empty list means the page
    asks nothing of any other machine.
    """
    text = page if isinstance(page, str) else page.get_root().render()
    found: set[str] = set()
    for match in _URL.finditer(text):
        found.add(match.group(1) or match.group(2))
    for match in _TEMPLATE_URL.finditer(text):
        found.add(match.group(1))
    out = []
    for url in sorted(found):
        url = url.strip()
        if not re.match(r"^(?:https?:)?//", url, re.I):
            continue  # relative, data:, javascript:, #anchors
        if not url.lower().startswith(tuple(a.lower() for a in allowed)):
            out.append(url)
    return out
