"""Legends and thematic styles of the published layers, matched before pygeoapi's routes.

``GET /collections/{id}/legend[?field=…&scheme=…&k=…]``: the class breaks (mapclassify) of a
numeric field, by default the layer's default thematic style; ``GET
/collections/{id}/styles/{style}`` (``default`` or a ``thematic:`` id of the layer file): a
MapLibre style over the layer's vector tiles with those breaks, the legend in its metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from spatialsvc.db.pool import connection
from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.layers import Layer
from spatialsvc.thematic.legend import (
    STYLE_MEDIA_TYPE,
    find_style,
    legend,
    legend_for_style,
    maplibre_style,
)

if TYPE_CHECKING:
    from spatialsvc.web.app import AppState

LEGEND_PARAMETERS = frozenset({"f", "field", "scheme", "k"})
CACHE = "public, max-age=60"


def _layer(state: AppState, request: Request) -> Layer:
    name = request.path_params["collection_id"]
    layer = state.layers.get(name)
    if layer is None:
        raise NotFound(f"no collection {name[:60]!r}")
    return layer


def _format(request: Request, allowed: frozenset[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0][:40]!r}")
    fmt = request.query_params.get("f", "json")
    if fmt not in ("json", "mapbox"):
        raise InvalidInput("f must be json")


def _k(request: Request) -> int | None:
    raw = request.query_params.get("k")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput("k must be an integer") from None


def routes(state: AppState) -> list[BaseRoute]:
    """The legend and style routes."""
    settings = state.settings

    def legend_endpoint(request: Request) -> JSONResponse:
        _format(request, LEGEND_PARAMETERS)
        layer = _layer(state, request)
        q = request.query_params
        with connection(settings) as conn:
            found = legend(conn, layer, q.get("field"), q.get("scheme"), _k(request))
        return JSONResponse(found.to_dict(), headers={"Cache-Control": CACHE})

    def style_endpoint(request: Request) -> JSONResponse:
        _format(request, frozenset({"f"}))
        layer = _layer(state, request)
        style = find_style(layer, request.path_params["style_id"])
        with connection(settings) as conn, conn.cursor() as cur:
            found = legend_for_style(cur, layer, style)
        document = maplibre_style(layer, found, settings.url)
        return JSONResponse(document, media_type=STYLE_MEDIA_TYPE, headers={"Cache-Control": CACHE})

    return [
        Route("/collections/{collection_id}/legend", legend_endpoint, methods=["GET"]),
        Route("/collections/{collection_id}/styles/{style_id}", style_endpoint, methods=["GET"]),
    ]
