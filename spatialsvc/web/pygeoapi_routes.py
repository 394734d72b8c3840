"""pygeoapi's API served by our own Starlette routes, from a configuration we pass in.

pygeoapi's own Starlette module reads its configuration and OpenAPI document from environment
variables when it is imported and keeps them in module globals, so one process can hold one
pygeoapi application and tests could not build two. Its API functions, however, take the
:class:`pygeoapi.api.API` object as an argument: here each application gets its own ``API``
built from the rendered configuration, and a small route table calls those functions.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pygeoapi.api import API, APIRequest, apply_gzip
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from spatialsvc.errors import InvalidInput

ApiFunction = Callable[..., tuple[dict[str, Any], int, Any]]


def _to_response(headers: dict[str, Any], status: int, content: Any) -> Response:
    response: Response
    if headers.get("Content-Type") == "text/html":
        response = HTMLResponse(content=content, status_code=status)
    elif isinstance(content, dict):
        response = JSONResponse(content, status_code=status)
    else:
        response = Response(content, status_code=status)
    response.headers.update(headers)
    return response


class PygeoapiAdapter:
    """Calls pygeoapi's API functions for Starlette requests, with one API object."""

    def __init__(self, config: dict[str, Any], openapi: dict[str, Any]) -> None:
        self.api = API(config, openapi)

    async def call(
        self, function: ApiFunction, request: Request, *args: Any, any_format: bool = False
    ) -> Response:
        """Run one pygeoapi API function in a worker thread and turn its answer into a response.

        ``any_format`` leaves the ``f`` parameter to the function (items, coverages and tiles
        offer formats beyond JSON and HTML), as pygeoapi's own routes do.
        """
        api_request = await APIRequest.from_starlette(request, self.api.locales)
        if not any_format and not api_request.is_valid():
            headers, status, content = self.api.get_format_exception(api_request)
        else:
            loop = asyncio.get_running_loop()

            def run() -> tuple[dict[str, Any], int, Any]:
                asyncio.set_event_loop(loop)  # some pygeoapi functions look for a loop
                return function(self.api, api_request, *args)

            # in the request's context: the job manager reads who is asking (CALLER)
            context = contextvars.copy_context()
            headers, status, content = await loop.run_in_executor(None, context.run, run)
            content = apply_gzip(headers, content)
        return _to_response(headers, status, content)


def routes(adapter: PygeoapiAdapter, static_dir: Path) -> list[BaseRoute]:
    """The pygeoapi paths the service offers (ours, matched earlier, take precedence)."""
    import pygeoapi.api as core
    import pygeoapi.api.coverages as coverages
    import pygeoapi.api.itemtypes as itemtypes
    import pygeoapi.api.tiles as tiles
    from pygeoapi.api import validate_bbox

    def simple(function: ApiFunction, *names: str, any_format: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            args = [request.path_params[n] for n in names]
            return await adapter.call(function, request, *args, any_format=any_format)

        return endpoint

    async def items(request: Request) -> Response:
        collection = request.path_params["collection_id"]
        item = request.path_params.get("item_id")
        if item is None:
            return await adapter.call(
                itemtypes.get_collection_items, request, collection, any_format=True
            )
        return await adapter.call(itemtypes.get_collection_item, request, collection, item)

    async def coverage(request: Request) -> Response:
        # pygeoapi 0.21 answers a malformed bbox here with a 500: check it first.
        bbox = request.query_params.get("bbox")
        if bbox is not None:
            try:
                validate_bbox(bbox)
            except ValueError as exc:
                raise InvalidInput(f"bbox: {exc}") from None
        collection = request.path_params["collection_id"]
        return await adapter.call(
            coverages.get_collection_coverage, request, collection, any_format=True
        )

    cid = "collection_id"
    return [
        Mount("/static", StaticFiles(directory=static_dir)),
        Route("/", simple(core.landing_page)),
        Route("/openapi", simple(core.openapi_)),
        Route("/conformance", simple(core.conformance)),
        Route("/TileMatrixSets", simple(tiles.tilematrixsets)),
        Route("/TileMatrixSets/{tms}", simple(tiles.tilematrixset, "tms")),
        Route("/collections", simple(core.describe_collections)),
        Route("/collections/{collection_id}", simple(core.describe_collections, cid)),
        Route("/collections/{collection_id}/schema", simple(core.get_collection_schema, cid)),
        Route(
            "/collections/{collection_id}/queryables",
            simple(itemtypes.get_collection_queryables, cid),
        ),
        Route("/collections/{collection_id}/items", items),
        Route("/collections/{collection_id}/items/{item_id}", items),
        Route("/collections/{collection_id}/tiles", simple(tiles.get_collection_tiles, cid)),
        Route("/collections/{collection_id}/coverage", coverage),
    ]
