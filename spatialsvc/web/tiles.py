"""Routes for vector tiles and the tile matrix sets, matched before pygeoapi's.

Tiles come from :class:`spatialsvc.tiles.TileService` with a strong ETag, ``Cache-Control``
and ``304 Not Modified`` on ``If-None-Match``; an empty tile is ``204 No Content``.
``/TileMatrixSets`` is ours because pygeoapi only knows its two built-in matrix sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.tiles.matrixsets import get_matrix_set, matrix_sets
from spatialsvc.tiles.mvt import TileView
from spatialsvc.tiles.service import TileService, install

if TYPE_CHECKING:
    from spatialsvc.web.app import AppState

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
MAX_AGE = 300
TILE_FORMATS = {None, "mvt", "pbf"}
METADATA_FORMATS = {"json", "jsonld", "tilejson"}


def cache_control(sharing: str) -> str:
    """Open layers may sit in shared caches; the others only in the client's own."""
    scope = "public" if sharing == "open" else "private"
    return f"{scope}, max-age={MAX_AGE}"


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 says)."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


def tile_endpoint(service: TileService) -> Any:
    """The tile route's handler, bound to a service (run in the thread pool)."""

    def tile(request: Request) -> Response:
        if request.query_params.get("f") not in TILE_FORMATS:
            raise InvalidInput("f must be mvt (or pbf) for a vector tile")
        p = request.path_params
        # the access middleware narrows a caller's tiles to the fields it may see
        view = request.scope.get("state", {}).get("tile_view")
        result = service.tile(
            p["collection_id"],
            p["tms_id"],
            p["tile_matrix"],
            p["tile_row"],
            p["tile_col"],
            view if isinstance(view, TileView) else None,
        )
        headers = {
            "ETag": result.etag,
            "Cache-Control": cache_control(service.layer(p["collection_id"]).sharing),
            "X-Tile-Cache": "hit" if result.cached else "miss",
        }
        if _matches(request.headers.get("if-none-match"), result.etag):
            return Response(status_code=304, headers=headers)
        if not result.data:
            return Response(status_code=204, headers=headers)
        return Response(result.data, media_type=MVT_MEDIA_TYPE, headers=headers)

    return tile


def _tms_links(base: str, tms_id: str) -> list[dict[str, str]]:
    return [
        {
            "rel": "self",
            "type": "application/json",
            "title": f"The {tms_id} tile matrix set",
            "href": f"{base}/TileMatrixSets/{tms_id}?f=json",
        }
    ]


def matrix_sets_endpoint(base: str) -> Any:
    """``/TileMatrixSets``: the matrix sets we offer."""

    def handler(_request: Request) -> JSONResponse:
        sets = [
            {
                "id": ms.id,
                "title": ms.tms.title or ms.id,
                "uri": ms.uri,
                "crs": ms.crs_uri,
                "links": _tms_links(base, ms.id),
            }
            for ms in matrix_sets().values()
        ]
        links = [{"rel": "self", "type": "application/json", "href": f"{base}/TileMatrixSets"}]
        return JSONResponse({"tileMatrixSets": sets, "links": links})

    return handler


def matrix_set_endpoint(_request: Request) -> JSONResponse:
    """``/TileMatrixSets/{id}``: the OGC Two Dimensional Tile Matrix Set 2.0 definition."""
    ms = get_matrix_set(_request.path_params["tms_id"])
    document = ms.tms.model_dump(mode="json", exclude_none=True)
    document.setdefault("uri", ms.uri)
    document.setdefault("orderedAxes", ms.ordered_axes)
    return JSONResponse(document)


def _wants_html(request: Request) -> bool:
    fmt = request.query_params.get("f")
    if fmt is not None:
        return fmt.lower() == "html"
    return "text/html" in request.headers.get("accept", "")


def tileset_endpoint(state: AppState) -> Any:
    """``/collections/{id}/tiles/{tms}``: tileset metadata (JSON, or TileJSON with f=tilejson).

    Ours because pygeoapi answers an unknown matrix set there with a 500; once the collection
    and the matrix set are known good, HTML is left to pygeoapi's page.
    """
    from spatialsvc.providers.tiles import PostGISTileProvider

    async def handler(request: Request) -> Response:
        collection_id = request.path_params["collection_id"]
        layer = state.layers.get(collection_id)
        if layer is None:
            raise NotFound(f"collection {collection_id!r} has no tiles")
        matrix_set = get_matrix_set(request.path_params["tms_id"])
        if _wants_html(request):
            import pygeoapi.api.tiles as tiles_api

            adapter = state.extras["pygeoapi"]
            page: Response = await adapter.call(
                tiles_api.get_collection_tiles_metadata,
                request,
                collection_id,
                matrix_set.id,
                any_format=True,
            )
            return page
        fmt = (request.query_params.get("f") or "json").lower()
        if fmt not in METADATA_FORMATS:
            raise InvalidInput("f must be json, tilejson or html")
        resource = state.config["resources"][collection_id]
        provider_def = next(p for p in resource["providers"] if p["type"] == "tile")
        provider = PostGISTileProvider(provider_def)
        method = (
            provider.get_vendor_metadata if fmt == "tilejson" else provider.get_default_metadata
        )
        document = method(
            collection_id,
            state.settings.url,
            layer.id,
            matrix_set.id,
            layer.title,
            layer.description,
            layer.keywords,
        )
        return JSONResponse(document)

    return handler


def routes(state: AppState) -> list[BaseRoute]:
    """The tile routes; also installs the service the pygeoapi provider delegates to."""
    service = TileService(state.settings, state.layers)
    install(service)
    state.extras["tiles"] = service
    base = state.settings.url
    tileset = tileset_endpoint(state)
    return [
        Route(
            "/collections/{collection_id}/tiles/{tms_id}/{tile_matrix}/{tile_row}/{tile_col}",
            tile_endpoint(service),
            methods=["GET"],
        ),
        Route("/collections/{collection_id}/tiles/{tms_id}", tileset, methods=["GET"]),
        Route("/collections/{collection_id}/tiles/{tms_id}/metadata", tileset, methods=["GET"]),
        Route("/TileMatrixSets", matrix_sets_endpoint(base), methods=["GET"]),
        Route("/TileMatrixSets/{tms_id}", matrix_set_endpoint, methods=["GET"]),
    ]
