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
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from babel.core import UnknownLocaleError
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


def _without_locale(request: Request) -> Request:
    """The same request without the ``lang`` parameter and the ``Accept-Language`` header."""
    scope = dict(request.scope)
    query = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "lang"]
    scope["query_string"] = urlencode(query).encode("ascii")
    scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"accept-language"]
    plain = Request(scope, request.receive)
    if hasattr(request, "_body"):  # already read by our route: the receive channel is spent
        plain._body = request._body
    return plain


async def api_request(request: Request, locales: Any) -> APIRequest:
    """pygeoapi's request object, in the server's default language when none asked for fits.

    pygeoapi 0.21 answers a ``lang`` or ``Accept-Language`` that matches none of the server's
    languages (``fr``, ``zh``, garbage) by building ``Locale("zh", territory="CN")``, which Babel
    does not know (it is ``zh_Hans_CN``): a 500 on every pygeoapi path. Asked again without them,
    it takes its default, as OGC API - Common says a server should.
    """
    try:
        return await APIRequest.from_starlette(request, locales)
    except UnknownLocaleError:
        return await APIRequest.from_starlette(_without_locale(request), locales)


@functools.lru_cache(maxsize=64)
def _known_epsg(code: str) -> bool:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_epsg(int(code))
    except (CRSError, ValueError, OverflowError):
        return False
    return True


def check_epsg(value: str | None) -> None:
    """A coverage's ``bbox-crs``: pygeoapi's raster provider takes an EPSG code (``4326``)."""
    if value is None:
        return
    code = value.strip()
    if not (code.isascii() and code.isdigit() and len(code) <= 6 and _known_epsg(code)):
        raise InvalidInput("bbox-crs: give an EPSG code such as 4326")


GEOGRAPHIC_EPSG = frozenset({"4326", "4490"})
MAX_PROJECTED = 1e8  # metres: far beyond any projected CRS's area, far below an overflow
MIN_SPAN = 0.0005  # degrees (about 50 m) of overlap each way: a few pixels of the demo DEM


@functools.lru_cache(maxsize=16)
def _to_crs84(code: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(int(code), 4326, always_xy=True)


def _overlaps(box: tuple[float, float, float, float], extent: list[float]) -> bool:
    """Whether a CRS84 box and the coverage's CRS84 extent overlap by MIN_SPAN."""
    x1, y1, x2, y2 = box
    e1, f1, e2, f2 = extent[:4]
    return min(x2, e2) - max(x1, e1) >= MIN_SPAN and min(y2, f2) - max(y1, f1) >= MIN_SPAN


def check_coverage_bbox(
    numbers: list[float], bbox_crs: str | None, extent: list[float] | None = None
) -> tuple[float, float, float, float]:
    """Four finite numbers inside the range of the bbox's CRS, overlapping the coverage;
    returns the bbox in CRS84."""
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput("bbox: give 4 finite numbers (the coverage is 2D)")
    if bbox_crs is None or bbox_crs.strip() in GEOGRAPHIC_EPSG:
        lon1, lat1, lon2, lat2 = numbers
        if not (-180 <= min(lon1, lon2) and max(lon1, lon2) <= 180):
            raise InvalidInput("bbox: longitudes must be in [-180, 180]")
        if not (-90 <= min(lat1, lat2) and max(lat1, lat2) <= 90):
            raise InvalidInput("bbox: latitudes must be in [-90, 90]")
    elif max(abs(n) for n in numbers) > MAX_PROJECTED:
        raise InvalidInput("bbox: coordinates out of range")
    # rasterio's mask refuses a box outside the raster, or of no area: pygeoapi made it a 500
    box = _in_crs84(numbers, bbox_crs)
    if extent is not None and not _overlaps(box, extent):
        raise InvalidInput(
            f"bbox: overlaps the coverage (extent {extent[:4]} in CRS84) by less than"
            f" {MIN_SPAN} degrees"
        )
    return box


@dataclass(frozen=True)
class RasterGrid:
    """A coverage's raster size and bounds (in its own CRS, degrees for the published DEM)."""

    width: int
    height: int
    bounds: tuple[float, float, float, float]

    def cells(self, box: tuple[float, float, float, float] | None) -> int:
        """How many cells of the raster fall in ``box`` (the whole raster for None)."""
        if box is None:
            return self.width * self.height
        west, south, east, north = self.bounds
        dx = max(0.0, min(box[2], east) - max(box[0], west))
        dy = max(0.0, min(box[3], north) - max(box[1], south))
        return math.ceil(dx / (east - west) * self.width) * math.ceil(
            dy / (north - south) * self.height
        )


@functools.lru_cache(maxsize=16)
def raster_grid(path: str) -> RasterGrid | None:
    """The grid of a coverage's raster file (None when it cannot be read: pygeoapi says why)."""
    import rasterio

    try:
        with rasterio.open(path) as raster:
            b = raster.bounds
            return RasterGrid(raster.width, raster.height, (b.left, b.bottom, b.right, b.top))
    except (OSError, rasterio.errors.RasterioError):
        return None


SUBSET = re.compile(r"^\s*(\w+)\(\s*([^:()]+?)\s*:\s*([^:()]+?)\s*\)\s*$")
X_AXES = frozenset({"x", "lon", "long", "longitude", "e", "easting"})
Y_AXES = frozenset({"y", "lat", "latitude", "n", "northing"})


def _subset_box(values: list[str]) -> tuple[float, float, float, float] | None:
    """The box of ``subset=Lat(a:b)&subset=Long(c:d)`` (both axes), else None (no narrowing)."""
    ranges: dict[str, tuple[float, float]] = {}
    for value in values:
        for part in value.split("),"):
            part = part if part.rstrip().endswith(")") else part + ")"
            found = SUBSET.match(part)
            if found is None:
                continue
            axis = found.group(1).lower()
            try:
                low, high = float(found.group(2)), float(found.group(3))
            except ValueError:
                continue
            if math.isfinite(low) and math.isfinite(high):
                ranges["x" if axis in X_AXES else "y" if axis in Y_AXES else axis] = (low, high)
    if "x" not in ranges or "y" not in ranges:
        return None
    (x1, x2), (y1, y2) = ranges["x"], ranges["y"]
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _in_crs84(numbers: list[float], bbox_crs: str | None) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = numbers
    if bbox_crs is not None and bbox_crs.strip() not in GEOGRAPHIC_EPSG:
        corners = [_to_crs84(bbox_crs.strip()).transform(x, y) for x in (x1, x2) for y in (y1, y2)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        return min(xs), min(ys), max(xs), max(ys)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


JSON_FORMATS = frozenset({"", "json", "covjson", "coveragejson", "html", "jsonld"})


def check_coverage_size(
    grid: RasterGrid | None, box: tuple[float, float, float, float] | None, fmt: str, limit: int
) -> None:
    """Refuse a CoverageJSON answer of more than ``limit`` cells (GeoTIFF is not limited)."""
    if grid is None or fmt.strip().lower() not in JSON_FORMATS:
        return
    cells = grid.cells(box)
    if cells > limit:
        raise InvalidInput(
            f"the coverage answer would hold {cells:,} cells, more than the {limit:,} a"
            " CoverageJSON answer may: ask for a smaller bbox (or subset), or for f=GTiff"
        )


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
        apireq = await api_request(request, self.api.locales)
        if not any_format and not apireq.is_valid():
            headers, status, content = self.api.get_format_exception(apireq)
        else:
            loop = asyncio.get_running_loop()

            def run() -> tuple[dict[str, Any], int, Any]:
                asyncio.set_event_loop(loop)  # some pygeoapi functions look for a loop
                return function(self.api, apireq, *args)

            # in the request's context: the job manager reads who is asking (CALLER)
            context = contextvars.copy_context()
            headers, status, content = await loop.run_in_executor(None, context.run, run)
            content = apply_gzip(headers, content)
        return _to_response(headers, status, content)


def routes(
    adapter: PygeoapiAdapter, static_dir: Path, max_coverage_cells: int = 1_000_000
) -> list[BaseRoute]:
    """The pygeoapi paths the service offers (ours, matched earlier, take precedence).

    ``max_coverage_cells`` bounds a CoverageJSON answer (``coverage_json_max_cells``).
    """
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
        # pygeoapi 0.21 answers a malformed bbox, a 6-number bbox (its raster provider unpacks
        # 4), a bbox of 1e308 (rasterio overflows) and a bbox-crs that is not an EPSG code
        # (pyproj's CRS.from_epsg) with a 500: check them first.
        bbox_crs = request.query_params.get("bbox-crs")
        check_epsg(bbox_crs)
        collection = request.path_params["collection_id"]
        resource = adapter.api.config["resources"].get(collection, {})
        bbox = request.query_params.get("bbox")
        box: tuple[float, float, float, float] | None
        if bbox is not None:
            try:
                numbers = validate_bbox(bbox)
            except ValueError as exc:
                raise InvalidInput(f"bbox: {exc}") from None
            extent = resource.get("extents", {}).get("spatial", {}).get("bbox")
            box = check_coverage_bbox(numbers, bbox_crs, extent)
        else:
            box = _subset_box(request.query_params.getlist("subset"))
        # the whole demo DEM as CoverageJSON is 73 MB and 4 s of a worker: bounded
        providers = [p for p in resource.get("providers", []) if p.get("type") == "coverage"]
        if providers and providers[0].get("data"):
            check_coverage_size(
                raster_grid(str(providers[0]["data"])),
                box,
                request.query_params.get("f", ""),
                max_coverage_cells,
            )
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
