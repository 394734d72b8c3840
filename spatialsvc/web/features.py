"""OGC API - Features routes: ``/collections/{id}/items[/{featureId}]`` and ``/conformance``.

They answer before pygeoapi's mount for every published layer (other collections, such as the
catalogue, fall through to pygeoapi). GeoJSON by default, HTML with ``f=html`` or a browser's
Accept header. The work is done by :mod:`spatialsvc.features`; handlers are sync and run in
Starlette's thread pool.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from spatialsvc.db.cluster import database_url
from spatialsvc.db.pool import connection
from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.features import query
from spatialsvc.features.crs import resolve
from spatialsvc.layers import Layer
from spatialsvc.web.app import AppState

GEOJSON = "application/geo+json"
HTML = "text/html"
# Formats pygeoapi's collection pages link to that pygeoapi itself renders (through our provider).
PYGEOAPI_FORMATS = frozenset({"jsonld", "csv"})

FEATURES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]


class LayerRoute(Route):
    """A route that matches only when ``collection_id`` is one of our published layers."""

    def __init__(self, path: str, endpoint: Any, layers: dict[str, Layer]) -> None:
        super().__init__(path, endpoint, methods=["GET"])
        self.layers = layers

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match the path, then the collection id; leave JSON-LD and CSV to pygeoapi."""
        match, child = super().matches(scope)
        if match != Match.NONE:
            if child["path_params"].get("collection_id") not in self.layers:
                return Match.NONE, {}
            query_string = scope.get("query_string", b"").decode("latin-1")
            f = parse_qs(query_string).get("f", [""])[-1].strip().lower()
            if f in PYGEOAPI_FORMATS:
                return Match.NONE, {}
        return match, child


def wants_html(request: Request) -> bool:
    """``f=html``/``f=json`` decide; else a browser's Accept header asking for HTML first."""
    f = request.query_params.get("f")
    if f is not None:
        low = f.strip().lower()
        if low == "html":
            return True
        if low in ("json", "geojson", "application/geo+json", "application/json"):
            return False
        raise InvalidInput("f: use json or html")
    accept = request.headers.get("accept", "")
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/geo+json", "application/json", "application/*"):
            return False
        if media == HTML:
            return True
    return False


def _url(base: str, path: str, params: dict[str, str], **changes: str) -> str:
    merged = {**params, **changes}
    return f"{base}{path}?{urlencode(merged)}" if merged else f"{base}{path}"


def _items_links(
    base: str, layer: Layer, params: dict[str, str], q: query.ItemsQuery, returned: int
) -> list[dict[str, str]]:
    path = f"/collections/{layer.id}/items"
    plain = {k: v for k, v in params.items() if k != "f"}
    links = [
        {
            "rel": "self",
            "type": GEOJSON,
            "title": "this document",
            "href": _url(base, path, plain, f="json"),
        },
        {
            "rel": "alternate",
            "type": HTML,
            "title": "this document as HTML",
            "href": _url(base, path, plain, f="html"),
        },
        {
            "rel": "collection",
            "type": "application/json",
            "title": layer.title,
            "href": f"{base}/collections/{layer.id}?f=json",
        },
    ]
    if returned == q.limit:
        links.append(
            {
                "rel": "next",
                "type": GEOJSON,
                "title": "next page",
                "href": _url(
                    base, path, plain, f="json", offset=str(q.offset + q.limit), limit=str(q.limit)
                ),
            }
        )
    if q.offset > 0:
        links.append(
            {
                "rel": "prev",
                "type": GEOJSON,
                "title": "previous page",
                "href": _url(
                    base,
                    path,
                    plain,
                    f="json",
                    offset=str(max(0, q.offset - q.limit)),
                    limit=str(q.limit),
                ),
            }
        )
    return links


def _render(state: AppState, template: str, data: dict[str, Any], request: Request) -> HTMLResponse:
    from pygeoapi.util import render_j2_template

    config = state.config
    html = render_j2_template(config, config["server"]["templates"], template, data, "zh-CN")
    return HTMLResponse(html)


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def items_endpoint(state: AppState) -> Any:
    """The handler of ``/collections/{collection_id}/items``."""
    settings = state.settings
    cache_key = database_url(settings)

    def items(request: Request) -> Response:
        layer = state.layers[request.path_params["collection_id"]]
        params = dict(request.query_params)
        html = wants_html(request)
        with connection(settings) as conn:
            kinds = query.column_kinds(conn, layer, cache_key)
            q = query.parse_items_query(
                params, layer, settings.default_limit, settings.max_limit, kinds
            )
            page = query.fetch_items(conn, q, kinds)
        links = _items_links(settings.url, layer, params, q, page.number_returned)
        headers = {"Content-Crs": f"<{q.crs.uri}>"}
        if html:
            data = {
                "type": "FeatureCollection",
                "features": json.loads(page.features_json),
                "numberReturned": page.number_returned,
                "links": links,
                "title": layer.title,
                "id": layer.id,
                "items_path": f"{settings.url}/collections/{layer.id}/items",
                "dataset_path": f"{settings.url}/collections/{layer.id}",
                "collections_path": f"{settings.url}/collections",
                "offset": q.offset,
                "id_field": layer.id_column,
            }
            response = _render(state, "collections/items/index.html", data, request)
            response.headers.update(headers)
            return response
        body = (
            '{"type":"FeatureCollection","features":'
            + page.features_json
            + f',"numberReturned":{page.number_returned},"timeStamp":"{_timestamp()}","links":'
            + json.dumps(links, ensure_ascii=False)
            + "}"
        )
        return Response(body, media_type=GEOJSON, headers=headers)

    return items


def item_endpoint(state: AppState) -> Any:
    """The handler of ``/collections/{collection_id}/items/{item_id}``."""
    settings = state.settings
    cache_key = database_url(settings)

    def item(request: Request) -> Response:
        layer = state.layers[request.path_params["collection_id"]]
        identifier = request.path_params["item_id"]
        crs = resolve(request.query_params.get("crs"), "crs")
        html = wants_html(request)
        # no PostgreSQL text holds NUL (psycopg2 refuses to send it: a 500 before this check)
        if not identifier or "/" in identifier or "\x00" in identifier or len(identifier) > 256:
            raise NotFound(f"no such feature in {layer.id}")
        with connection(settings) as conn:
            kinds = query.column_kinds(conn, layer, cache_key)
            text = query.fetch_item(conn, layer, identifier, crs, kinds)
        base = f"{settings.url}/collections/{layer.id}"
        path = f"/collections/{layer.id}/items/{identifier}"
        extra = {"crs": crs.uri} if "crs" in request.query_params else {}
        links = [
            {"rel": "self", "type": GEOJSON, "href": _url(settings.url, path, extra, f="json")},
            {"rel": "alternate", "type": HTML, "href": _url(settings.url, path, extra, f="html")},
            {
                "rel": "collection",
                "type": "application/json",
                "title": layer.title,
                "href": f"{base}?f=json",
            },
        ]
        headers = {"Content-Crs": f"<{crs.uri}>"}
        if html:
            data = json.loads(text)
            data.update(
                links=links,
                title=layer.title,
                id_field=layer.id_column,
                collections_path=f"{settings.url}/collections",
            )
            response = _render(state, "collections/items/item.html", data, request)
            response.headers.update(headers)
            return response
        body = text[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
        return Response(body, media_type=GEOJSON, headers=headers)

    return item


def conformance_classes(config: dict[str, Any]) -> list[str]:
    """The conformance classes the service declares: pygeoapi's, with ours for features.

    pygeoapi lists Features Part 4 (create/replace/delete) and Part 5 (schemas) for every
    feature provider, which we do not implement, and not Part 3 filtering and CQL2, which we do.
    """
    from pygeoapi.api import CONFORMANCE_CLASSES, all_apis
    from pygeoapi.api.itemtypes import CONFORMANCE_CLASSES_RECORDS

    apis = all_apis()
    classes = set(CONFORMANCE_CLASSES)
    for resource in config["resources"].values():
        if resource["type"] == "process":
            classes.update(apis["process"].CONFORMANCE_CLASSES)
            continue
        for provider in resource.get("providers", []):
            kind = provider["type"]
            if kind in apis and kind != "feature":
                classes.update(apis[kind].CONFORMANCE_CLASSES)
            if kind == "feature":
                classes.update(FEATURES_CONFORMANCE)
            if kind == "record":
                classes.update(CONFORMANCE_CLASSES_RECORDS)
    return sorted(classes)


def conformance_endpoint(state: AppState) -> Any:
    """The handler of ``/conformance``."""
    classes = conformance_classes(state.config)

    def conformance(request: Request) -> Response:
        if wants_html(request):
            return _render(state, "conformance.html", {"conformsTo": classes}, request)
        return JSONResponse({"conformsTo": classes})

    return conformance


def routes(state: AppState) -> list[BaseRoute]:
    """Our feature routes, matched before pygeoapi's."""
    layers = state.layers

    def trailing(request: Request) -> Response:
        url = request.url
        return RedirectResponse(str(url.replace(path=url.path.rstrip("/"))), status_code=308)

    return [
        LayerRoute("/collections/{collection_id}/items", items_endpoint(state), layers),
        LayerRoute("/collections/{collection_id}/items/", trailing, layers),
        LayerRoute(
            "/collections/{collection_id}/items/{item_id:path}", item_endpoint(state), layers
        ),
        Route("/conformance", conformance_endpoint(state), methods=["GET"]),
    ]
