"""Routes of the vector basemap: its MapLibre style, the glyphs and the sprite sheet."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from spatialsvc.basemaps.glyphs import GlyphStore
from spatialsvc.basemaps.sprites import sprite_sheet
from spatialsvc.basemaps.style import check_style, load_template, render_style
from spatialsvc.errors import ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from spatialsvc.web.app import AppState

PBF_MEDIA_TYPE = "application/x-protobuf"
STYLE_CACHE = "public, max-age=300"
ASSET_CACHE = "public, max-age=86400"
SPRITES = {"basemap": 1, "basemap@2x": 2}
_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha1(data, usedforsecurity=False).hexdigest()[:20] + '"'


def _cached(request: Request, data: bytes, media_type: str, cache: str) -> Response:
    tag = _etag(data)
    headers = {"ETag": tag, "Cache-Control": cache}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


def _styles(state: AppState) -> dict[bool, dict[str, Any]]:
    """The style with and without the hillshade underlay, checked once at start."""
    template = load_template()
    styles = {}
    for hillshade in (True, False):
        optional = frozenset({"hillshade"}) if hillshade else frozenset()
        style = render_style(template, state.settings.url, state.layers, optional=optional)
        problems = check_style(style, state.layers)
        if problems:
            raise ConfigError("vector basemap style: " + "; ".join(problems))
        styles[hillshade] = style
    return styles


def routes(state: AppState) -> list[BaseRoute]:
    """The vector basemap's routes."""
    styles = _styles(state)
    store = GlyphStore(state.settings.home / "glyphs")

    def style(request: Request) -> Response:
        flag = (request.query_params.get("hillshade") or "true").lower()
        if flag not in _FLAGS:
            raise InvalidInput("hillshade must be true or false")
        data = json.dumps(styles[_FLAGS[flag]], ensure_ascii=False).encode("utf-8")
        return _cached(request, data, "application/json", STYLE_CACHE)

    def fonts(_request: Request) -> JSONResponse:
        return JSONResponse(store.font_names())

    def glyphs(request: Request) -> Response:
        p = request.path_params
        data = store.get(p["fontstack"], p["range"])
        return _cached(request, data, PBF_MEDIA_TYPE, ASSET_CACHE)

    def sprite(request: Request) -> Response:
        name, ext = request.path_params["name"], request.path_params["ext"]
        if name not in SPRITES or ext not in ("json", "png"):
            raise NotFound(f"no sprite {name[:40]}.{ext[:10]}")
        png, index = sprite_sheet(SPRITES[name])
        if ext == "png":
            return _cached(request, png, "image/png", ASSET_CACHE)
        return _cached(request, json.dumps(index).encode(), "application/json", ASSET_CACHE)

    return [
        Route("/basemaps/vector/style.json", style, methods=["GET"]),
        Route("/basemaps/fonts.json", fonts, methods=["GET"]),
        Route("/basemaps/fonts/{fontstack}/{range}.pbf", glyphs, methods=["GET"]),
        Route("/basemaps/sprites/{name}.{ext}", sprite, methods=["GET"]),
    ]
