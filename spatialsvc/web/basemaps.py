"""Routes of the raster basemap: XYZ tiles (PNG / WebP) and a TileJSON description."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from spatialsvc.basemaps.raster_tiles import FORMATS, MAX_ZOOM, etag, render_tile
from spatialsvc.basemaps.terrain import EXTENT, terrain_files
from spatialsvc.errors import InvalidInput

if TYPE_CHECKING:
    from spatialsvc.web.app import AppState

CACHE_CONTROL = "public, max-age=86400"


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, not {value[:20]!r}") from None


def routes(state: AppState) -> list[BaseRoute]:
    """The raster basemap's routes."""
    folder = state.settings.home / "basemaps"
    base = state.settings.url

    def tile(request: Request) -> Response:
        p = request.path_params
        z, x, y = _int(p["z"], "z"), _int(p["x"], "x"), _int(p["y"], "y")
        fmt = p["fmt"]
        data = render_tile(terrain_files(folder).hillshade, z, x, y, fmt)
        tag = etag(data)
        headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=FORMATS[fmt][1], headers=headers)

    def tilejson(_request: Request) -> JSONResponse:
        doc: dict[str, Any] = {
            "tilejson": "3.0.0",
            "name": "海曙区地形晕渲底图",
            "description": "示范生成的地形晕渲（非测绘成果）",
            "attribution": "示范数据；行政区划 天地图",
            "tiles": [base + "/basemaps/raster/tiles/{z}/{x}/{y}.png"],
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "bounds": list(EXTENT),
        }
        return JSONResponse(doc)

    return [
        Route("/basemaps/raster/tiles/{z}/{x}/{y}.{fmt}", tile),
        Route("/basemaps/raster/tilejson.json", tilejson),
    ]
