"""``GET /geocode`` and ``GET /reverse``: the geocoder over HTTP.

``/geocode?q=…&crs=…&limit=…`` answers the best match as JSON (``f=json``, the default) or as a
GeoJSON Feature (``f=geojson`` or ``Accept: application/geo+json``). ``/reverse?lon=…&lat=…
&crs=…&radius=…`` answers the nearest standard address within ``radius`` metres (default 50,
at most 1000), with its county, township, community and grid; when nothing is that close it
answers **404** with an OGC exception body (code ``NotFound``), so that a client can tell "no
address here" from an answer.

``crs`` takes the published EPSG CRSs (URI, ``EPSG:n`` or CRS84) and ``gcj02`` / ``bd09``;
the default is EPSG:4490. Geographic answers carry ``lon``/``lat``, projected ones ``x``
(easting) / ``y`` (northing). GeoJSON follows the CRS's EPSG axis order, like the features
routes, and says so in ``Content-Crs``.

Handlers are sync (Starlette runs them in its thread pool): the geocoder is CPU work over an
index shared by every thread (:mod:`spatialsvc.geocoder_service`).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from spatialsvc import geocoder_service as service
from spatialsvc.db.cluster import database_url
from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.geo.crs import PUBLISHED_CRS
from spatialsvc.web.app import AppState

GEOJSON = "application/geo+json"
JSON = "application/json"
GEOCODE_PARAMS = frozenset({"q", "crs", "limit", "f"})
REVERSE_PARAMS = frozenset({"lon", "lat", "x", "y", "crs", "radius", "f"})


def wants_geojson(request: Request) -> bool:
    """``f=geojson`` / ``f=json`` decide; else an Accept header asking for GeoJSON first."""
    f = request.query_params.get("f")
    if f is not None:
        low = f.strip().lower()
        if low in ("geojson", GEOJSON):
            return True
        if low in ("json", JSON, ""):
            return False
        raise InvalidInput("f: use json or geojson")
    for part in request.headers.get("accept", "").split(","):
        media = part.split(";")[0].strip().lower()
        if media == GEOJSON:
            return True
        if media in (JSON, "application/*", "*/*"):
            return False
    return False


def _check_params(request: Request, allowed: frozenset[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            shown = name if len(name) <= 40 else name[:37] + "..."
            raise InvalidInput(f"unknown parameter {shown!r}; use {', '.join(sorted(allowed))}")
    for name in allowed:
        if len(request.query_params.getlist(name)) > 1:
            raise InvalidInput(f"{name}: give it once")


def _crs_header(crs: service.PointCRS) -> dict[str, str]:
    return {"Content-Crs": f"<{crs.label}>"} if crs.srid is not None else {}


def _feature(answer: dict[str, Any], crs: service.PointCRS) -> dict[str, Any]:
    """A GeoJSON Feature of an answer, in the CRS's EPSG axis order."""
    keys = ("lon", "lat") if crs.geographic else ("x", "y")
    x, y = answer.get(keys[0]), answer.get(keys[1])
    geometry = None
    if x is not None and y is not None:
        lat_first = crs.srid is not None and PUBLISHED_CRS[crs.label][1]
        geometry = {"type": "Point", "coordinates": [y, x] if lat_first else [x, y]}
    properties = {k: v for k, v in answer.items() if k not in keys}
    return {
        "type": "Feature",
        "id": answer.get("address_id"),
        "geometry": geometry,
        "properties": properties,
    }


def _answer(answer: dict[str, Any], crs: service.PointCRS, geojson: bool) -> Response:
    headers = _crs_header(crs)
    if geojson:
        return JSONResponse(_feature(answer, crs), media_type=GEOJSON, headers=headers)
    return JSONResponse(answer, headers=headers)


def geocode_endpoint(state: AppState) -> Any:
    """The handler of ``/geocode``.

    Async: once the index is built, a geocode is ~0.1 ms of CPU, less than a hop to the thread
    pool, so it runs on the event loop. The index build (seconds, on the first request) and
    the data version check (at most once a second) go to the thread pool. The grid code comes
    from the index, as in the command line's answers.
    """
    settings = state.settings
    key = database_url(settings)  # computed once: it builds paths when no URL is set

    async def geocode(request: Request) -> Response:
        _check_params(request, GEOCODE_PARAMS)
        params = request.query_params
        text = service.check_query(params.get("q"))
        crs = service.parse_point_crs(params.get("crs"))
        limit = service.check_limit(params.get("limit"))
        geojson = wants_geojson(request)
        geocoder = service.ready_geocoder(key)
        if geocoder is None:
            geocoder = await run_in_threadpool(service.get_geocoder, settings)
        answer = geocoder.geocode(text).to_dict(alternatives=limit)
        return _answer(service.finish(answer, crs), crs, geojson)

    return geocode


def reverse_endpoint(state: AppState) -> Any:
    """The handler of ``/reverse``."""
    settings = state.settings

    def reverse(request: Request) -> Response:
        _check_params(request, REVERSE_PARAMS)
        params = request.query_params
        crs = service.parse_point_crs(params.get("crs"))
        x = params.get("lon", params.get("x"))
        y = params.get("lat", params.get("y"))
        lon, lat = service.check_point(x, y, crs)
        radius = service.check_radius(params.get("radius"))
        geojson = wants_geojson(request)
        answer = service.reverse(settings, lon, lat, radius, crs)
        if answer is None:
            raise NotFound(f"no standard address within {radius:g} m of the point")
        return _answer(answer, crs, geojson)

    return reverse


def _param(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _responses(found: str) -> dict[str, Any]:
    body = {"schema": {"type": "object"}}
    return {
        "200": {"description": found, "content": {JSON: body, GEOJSON: body}},
        "400": {"description": "bad input (a JSON exception with a message)"},
        "404": {"description": "nothing found"},
    }


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI path items of ``/geocode`` and ``/reverse``."""
    crs = _param(
        "crs",
        "CRS of the coordinates: " + ", ".join(service.accepted_crs()) + " (default EPSG:4490)",
        {"type": "string"},
    )
    f = _param("f", "json (default) or geojson", {"type": "string", "enum": ["json", "geojson"]})
    number = {"type": "number"}
    return {
        "/geocode": {
            "get": {
                "summary": "Geocode an address text (地址匹配)",
                "operationId": "geocode",
                "tags": ["geocoding"],
                "parameters": [
                    _param(
                        "q",
                        "the address text",
                        {"type": "string", "maxLength": service.MAX_QUERY_CHARS},
                        True,
                    ),
                    crs,
                    _param(
                        "limit",
                        "how many alternatives (0-10, default 5)",
                        {"type": "integer", "minimum": 0, "maximum": 10},
                    ),
                    f,
                ],
                "responses": _responses("the best match"),
            }
        },
        "/reverse": {
            "get": {
                "summary": "The nearest standard address to a point (逆地址匹配)",
                "operationId": "reverseGeocode",
                "tags": ["geocoding"],
                "parameters": [
                    _param("lon", "longitude (or x=easting for projected CRSs)", number),
                    _param("lat", "latitude (or y=northing for projected CRSs)", number),
                    _param("x", "easting, for projected CRSs", number),
                    _param("y", "northing, for projected CRSs", number),
                    crs,
                    _param(
                        "radius",
                        "search radius in metres (default 50, at most 1000)",
                        {"type": "number", "maximum": service.MAX_RADIUS_M},
                    ),
                    f,
                ],
                "responses": _responses("the nearest standard address"),
            }
        },
    }


def routes(state: AppState) -> list[BaseRoute]:
    """``/geocode`` and ``/reverse`` (also declared in the served OpenAPI document)."""
    document = state.extras.get("openapi")
    if isinstance(document, dict):
        document.setdefault("paths", {}).update(openapi_paths())
    return [
        Route("/geocode", geocode_endpoint(state), methods=["GET"]),
        Route("/reverse", reverse_endpoint(state), methods=["GET"]),
    ]
