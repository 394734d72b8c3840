"""The HTTP client: :func:`connect` and :class:`Client` over the service's OGC API.

Talks to the service over HTTP only (httpx); imports nothing of the server. Collections and
the resource catalogue come back as DataFrames, layers and GeoJSON process results as
GeoDataFrames with their CRS set from the ``Content-Crs`` header, every failure as a
:class:`~spatialsvc.client.errors.ClientError`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import httpx
import pandas as pd
from shapely.geometry import shape

from spatialsvc.client import errors
from spatialsvc.client.frames import (
    CRS84_URI,
    crs_from_header,
    crs_uri,
    features_frame,
    geojson_frame,
    is_geojson,
    lat_first,
    parse_crs,
    points_frame,
)

DEFAULT_URL = "http://127.0.0.1:5000"
PAGE_SIZE = 1000  # features a page; the service allows 1-10,000 (100 by default)
CATALOGUE_PAGE = 100
ACCEPT = "application/geo+json, application/json;q=0.9"
MAX_RETRY_WAIT = 30.0  # seconds: a longer Retry-After is reported, not slept through
USER_AGENT = "spatialsvc-client/0.1"

Progress = bool | Callable[[int, int], None]
BBox = Sequence[float]

# Catalogue record members that are structures for machines, not columns for people.
_RECORD_SKIP = frozenset({"themes", "contacts", "formats", "language", "conformsTo", "time"})


def connect(
    url: str | None = None,
    key: str | None = None,
    *,
    timeout: float = 60.0,
    retries: int = 2,
    check: bool = True,
) -> Client:
    """Connect to a spatialsvc service and check that it answers.

    ``url`` defaults to ``$SPATIALSVC_URL`` or http://127.0.0.1:5000, ``key`` to
    ``$SPATIALSVC_KEY`` (an API key or bearer token, sent as ``Authorization: Bearer``; without
    one only open resources can be read). ``retries``: how often a 429 or 503 carrying a
    ``Retry-After`` of at most 30 s is retried after waiting. ``check=False`` skips asking for
    the landing page.
    """
    url = url or os.environ.get("SPATIALSVC_URL") or DEFAULT_URL
    key = key if key is not None else os.environ.get("SPATIALSVC_KEY") or None
    client = Client(url, key, timeout=timeout, retries=retries)
    if check:
        try:
            client.landing()
        except errors.ClientError:
            client.close()
            raise
    return client


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _short(text: str, size: int = 200) -> str:
    one = " ".join(text.split())
    return one if len(one) <= size else one[: size - 3] + "..."


def _error(method: str, response: httpx.Response) -> errors.ClientError:
    """The ClientError for an HTTP error answer, with the service's exception document."""
    status = response.status_code
    document: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict):
            document = body
    except ValueError:
        pass
    code = document.get("code") if isinstance(document.get("code"), str) else None
    description = document.get("description")
    if not isinstance(description, str) or not description:
        description = None
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    detail = description or (
        _short(response.text) if "html" not in response.headers.get("content-type", "") else ""
    )
    path = response.request.url.copy_with(query=None)
    message = f"{status} {phrase}: {detail or 'no description'} ({method} {path})"
    cls = errors.error_class(status)
    extra: dict[str, Any] = {}
    if cls in (errors.RateLimited, errors.ServerError):
        extra["retry_after"] = _retry_after(response)
    return cls(
        message,
        status,
        code=code,
        description=description,
        document=document,
        url=str(response.request.url),
        **extra,
    )


def _next_link(document: Mapping[str, Any]) -> str | None:
    for link in document.get("links") or []:
        if link.get("rel") == "next" and link.get("href"):
            return str(link["href"])
    return None


def _report(progress: Progress, name: str) -> Callable[[int, int], None] | None:
    if callable(progress):
        return progress
    if not progress:
        return None

    def show(count: int, pages: int) -> None:
        print(f"\r{name}: {count:,} features, {pages} pages", end="", file=sys.stderr, flush=True)

    return show


class Client:
    """A connection to one spatialsvc service (see :func:`connect`)."""

    def __init__(
        self,
        url: str,
        key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {url[:40]!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.signed_in = bool(key)
        headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(
            headers=headers, timeout=timeout, transport=transport, follow_redirects=True
        )

    def __repr__(self) -> str:
        who = "with a key" if self.signed_in else "without a key"
        return f"<spatialsvc.client.Client {self.url} ({who})>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """One request (a path under the service or a full URL); errors as ClientError."""
        target = path if path.startswith(("http://", "https://")) else self.url + path
        attempt = 0
        while True:
            try:
                response = self._http.request(method, target, params=params, json=json_body)
            except httpx.ConnectError as exc:
                reason = "connection refused" if "refused" in str(exc).lower() else str(exc)
                raise errors.ConnectionFailed(
                    f"cannot reach the service at {self.url}: {reason} "
                    "(is it running, e.g. `spatialsvc serve`, and is the URL right?)",
                    url=target,
                ) from None
            except httpx.TimeoutException:
                raise errors.ConnectionFailed(
                    f"the service at {self.url} did not answer within {self.timeout:g} s "
                    f"({method} {target.split('?')[0]})",
                    url=target,
                ) from None
            except httpx.HTTPError as exc:
                raise errors.ConnectionFailed(
                    f"talking to {self.url} failed: {exc}", url=target
                ) from None
            if response.status_code < 400:
                return response
            wait = _retry_after(response)
            if (
                response.status_code in (429, 503)
                and wait is not None
                and wait <= MAX_RETRY_WAIT
                and attempt < self.retries
            ):
                attempt += 1
                time.sleep(wait)
                continue
            raise _error(method, response)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON document."""
        response = self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise errors.ClientError(
                f"{path} did not answer JSON ({response.headers.get('content-type', '?')})",
                response.status_code,
                url=str(response.request.url),
            ) from None

    # -- metadata -----------------------------------------------------------------------------

    def landing(self) -> dict[str, Any]:
        """The landing page (title, description, links)."""
        document = self.get_json("/", {"f": "json"})
        return dict(document)

    def _records(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url: str | None = "/collections/catalogue/items"
        query: dict[str, Any] | None = {"f": "json", "limit": CATALOGUE_PAGE, **params}
        while url:
            document = self.get_json(url, query)
            features = document.get("features") or []
            yield from features
            url = _next_link(document) if features else None
            query = None

    def catalogue(
        self,
        q: str | None = None,
        category: str | None = None,
        department: str | None = None,
        *,
        kind: str | None = None,
    ) -> pd.DataFrame:
        """The resource catalogue (OGC API - Records): one row per record, every page.

        ``q`` is free text (Chinese), ``category`` one of 人口 / 法人 / 空间地理 / 宏观经济 /
        其他, ``department`` a department code (``zfw-hs``) or its full name, ``kind``
        ``layer``, ``basemap`` or ``service``.
        """
        params: dict[str, Any] = {}
        if q:
            params["q"] = q
        if category:
            params["category"] = category
        if kind:
            params["kind"] = kind
        if department:
            is_code = department.isascii() and " " not in department
            params["department_code" if is_code else "department_name"] = department
        rows = [self._record_row(record) for record in self._records(params)]
        columns = [
            "id",
            "title",
            "kind",
            "category",
            "department_code",
            "department_name",
            "sharing",
            "sharing_attribute",
            "open_attribute",
            "update_cycle",
            "resource_code",
        ]
        frame = pd.DataFrame.from_records(rows)
        if frame.empty:
            return pd.DataFrame(columns=columns)
        first = [c for c in columns if c in frame.columns]
        return frame[first + [c for c in frame.columns if c not in first]]

    @staticmethod
    def _record_row(record: Mapping[str, Any]) -> dict[str, Any]:
        properties = record.get("properties") or {}
        row: dict[str, Any] = {"id": record.get("id")}
        for name, value in properties.items():
            if name in _RECORD_SKIP:
                continue
            if name == "fields" and isinstance(value, list):
                value = [f.get("name") for f in value if isinstance(f, Mapping)]
            row[name] = value
        for link in record.get("links") or []:
            if link.get("rel") == "items":
                row["items_url"] = link.get("href")
        geometry = record.get("geometry")
        row["bbox"] = tuple(round(v, 6) for v in shape(geometry).bounds) if geometry else None
        return row

    def collections(self) -> pd.DataFrame:
        """The collections with their sharing level, category and department (from the catalogue).

        The catalogue columns are empty for collections without a record, or when the caller
        may not read the catalogue.
        """
        document = self.get_json("/collections", {"f": "json"})
        try:
            records = {str(r.get("id")): r.get("properties") or {} for r in self._records({})}
        except (errors.Unauthorized, errors.Forbidden):
            records = {}
        rows = []
        for c in document.get("collections") or []:
            record = records.get(str(c.get("id")), {})
            rows.append(
                {
                    "id": c.get("id"),
                    "title": c.get("title"),
                    "item_type": c.get("itemType"),
                    "sharing": record.get("sharing"),
                    "category": record.get("category"),
                    "department": record.get("department_name"),
                    "department_code": record.get("department_code"),
                    "description": c.get("description"),
                }
            )
        return pd.DataFrame.from_records(
            rows,
            columns=[
                "id",
                "title",
                "item_type",
                "sharing",
                "category",
                "department",
                "department_code",
                "description",
            ],
        )

    def collection(self, layer: str) -> dict[str, Any]:
        """One collection's metadata document."""
        return dict(self.get_json(f"/collections/{quote(layer, safe='')}", {"f": "json"}))

    def queryables(self, layer: str) -> dict[str, Any]:
        """The layer's queryable fields and their types (JSON Schema)."""
        path = f"/collections/{quote(layer, safe='')}/queryables"
        return dict(self.get_json(path, {"f": "json"}))

    # -- features -----------------------------------------------------------------------------

    def read(
        self,
        layer: str,
        bbox: BBox | None = None,
        crs: Any = None,
        limit: int | None = None,
        filter: str | Mapping[str, Any] | None = None,
        properties: Sequence[str] | None = None,
        max_features: int | None = None,
        *,
        bbox_crs: Any = None,
        filter_crs: Any = None,
        sortby: str | Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        progress: Progress = False,
    ) -> gpd.GeoDataFrame:
        """A layer's features as a GeoDataFrame, following ``next`` links page by page.

        - ``bbox``: (minx, miny, maxx, maxy) in x/y order (longitude / easting first, like
          ``GeoDataFrame.total_bounds``) in ``bbox_crs`` (default CRS84); the client puts it
          in the CRS's own axis order for the service.
        - ``crs``: the output CRS (4549, ``"EPSG:4549"``, a URI, ``"CRS84"``, a pyproj CRS);
          default the service's, CRS84. The frame's CRS is the one the service names in its
          ``Content-Crs`` header, with coordinates x/y as GeoPandas expects.
        - ``limit``: features a page (default 1,000; the service allows 1-10,000).
        - ``filter``: CQL2 text, or CQL2 JSON as a dict; ``filter_crs`` its CRS.
        - ``properties``: the columns to fetch (the feature ids stay the index).
        - ``max_features``: stop after this many.
        - ``sortby``: field names, ``-`` first for descending; ``where``: property equality.
        - ``progress``: True prints a count on stderr; a callable gets (features, pages).
        """
        page = PAGE_SIZE if limit is None else int(limit)
        if page < 1:
            raise ValueError("limit must be at least 1")
        if max_features is not None and max_features < 1:
            raise ValueError("max_features must be at least 1")
        if max_features is not None:
            page = min(page, max_features)
        params = self._items_params(
            bbox, crs, page, filter, properties, bbox_crs, filter_crs, sortby, where
        )
        report = _report(progress, layer)
        url: str | None = f"/collections/{quote(layer, safe='')}/items"
        query: dict[str, Any] | None = params
        features: list[dict[str, Any]] = []
        header: str | None = None
        pages = 0
        while url:
            response = self.request("GET", url, params=query)
            document = response.json()
            header = header or response.headers.get("content-crs")
            batch = document.get("features") or []
            pages += 1
            if max_features is not None:
                batch = batch[: max_features - len(features)]
            features.extend(batch)
            if report:
                report(len(features), pages)
            if not batch or (max_features is not None and len(features) >= max_features):
                break
            url = _next_link(document)
            query = None
            if url and max_features is not None:
                remaining = max_features - len(features)
                url = str(httpx.URL(url).copy_set_param("limit", str(min(page, remaining))))
        if report and not callable(progress):
            print(file=sys.stderr)
        crs_obj = crs_from_header(header) if header else parse_crs(params.get("crs", CRS84_URI))
        return features_frame(features, crs_obj, columns=properties)

    def _items_params(
        self,
        bbox: BBox | None,
        crs: Any,
        limit: int,
        filter_: str | Mapping[str, Any] | None,
        properties: Sequence[str] | None,
        bbox_crs: Any,
        filter_crs: Any,
        sortby: str | Sequence[str] | None,
        where: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"f": "json", "limit": limit}
        if crs is not None:
            params["crs"] = crs_uri(crs)
        if bbox is not None:
            values = [float(v) for v in bbox]
            if len(values) != 4:
                raise ValueError("bbox: give (minx, miny, maxx, maxy)")
            uri = crs_uri(bbox_crs) if bbox_crs is not None else CRS84_URI
            if lat_first(parse_crs(uri)):
                values = [values[1], values[0], values[3], values[2]]
            params["bbox"] = ",".join(repr(v) for v in values)
            if bbox_crs is not None:
                params["bbox-crs"] = uri
        if filter_ is not None:
            if isinstance(filter_, Mapping):
                params["filter"] = json.dumps(filter_, ensure_ascii=False)
                params["filter-lang"] = "cql2-json"
            else:
                params["filter"] = str(filter_)
                params["filter-lang"] = "cql2-text"
            if filter_crs is not None:
                params["filter-crs"] = crs_uri(filter_crs)
        if properties is not None:
            params["properties"] = ",".join(properties)
        if sortby:
            params["sortby"] = sortby if isinstance(sortby, str) else ",".join(sortby)
        for name, value in (where or {}).items():
            if name in params or name in ("offset", "bbox-crs", "filter-lang", "filter-crs"):
                raise ValueError(f"where: {name!r} is a query parameter, not a property")
            params[name] = value
        return params

    # -- processes ----------------------------------------------------------------------------

    def processes(self) -> pd.DataFrame:
        """The processes the service offers (id, title, description)."""
        document = self.get_json("/processes", {"f": "json"})
        rows = [
            {"id": p.get("id"), "title": p.get("title"), "description": p.get("description")}
            for p in document.get("processes") or []
        ]
        return pd.DataFrame.from_records(rows, columns=["id", "title", "description"])

    def describe(self, process_id: str) -> dict[str, Any]:
        """A process's description: its inputs, outputs and an example."""
        return dict(self.get_json(f"/processes/{quote(process_id, safe='')}", {"f": "json"}))

    def process(self, process_id: str, inputs: Mapping[str, Any], as_frame: bool = True) -> Any:
        """Execute a process synchronously and return its result.

        With ``as_frame`` (the default) a GeoJSON result (FeatureCollection or Feature, at the
        top or as the one GeoJSON member of the result) becomes a GeoDataFrame, the other
        members of the result going to ``frame.attrs`` (``suppressed``, ``count`` ...), and a
        list of ``results`` rows with ``lon``/``lat`` or ``x``/``y`` (the geocoder's batch)
        becomes points in the result's ``crs``. Process coordinates are x/y (longitude /
        easting first) in every CRS, as the service's processes answer them.
        Anything else, and everything with ``as_frame=False``, is the decoded JSON.
        """
        path = f"/processes/{quote(process_id, safe='')}/execution"
        response = self.request("POST", path, json_body={"inputs": dict(inputs)})
        if "json" not in response.headers.get("content-type", "json"):
            return response.text
        result = response.json()
        if not as_frame:
            return result
        return _as_frame(result, response.headers.get("content-crs"))

    def geocode(self, text: str | Sequence[str], crs: Any = None) -> Any:
        """Geocode one address (a dict: address_id, full_address, match_level, score, lon/lat
        or x/y in a projected ``crs`` ...) or a list of them (a GeoDataFrame of points, one row
        per address in order, no point where nothing matched)."""
        inputs: dict[str, Any] = {}
        if crs is not None:
            inputs["crs"] = crs_uri(crs)
        if isinstance(text, str):
            return self.process("geocode", {"address": text, **inputs}, as_frame=False)
        return self.process("geocode-batch", {"addresses": list(text), **inputs})

    def reverse_geocode(
        self, x: float, y: float, radius: float | None = None, crs: Any = None
    ) -> dict[str, Any] | None:
        """The nearest standard address to a point (x/y order), or None when none is close."""
        inputs: dict[str, Any] = {"lon": x, "lat": y}
        if radius is not None:
            inputs["radius"] = radius
        if crs is not None:
            inputs["crs"] = crs_uri(crs)
        result = self.process("reverse-geocode", inputs, as_frame=False)
        if isinstance(result, Mapping) and "result" in result:
            found = result["result"]
            return dict(found) if isinstance(found, Mapping) else None
        return dict(result) if isinstance(result, Mapping) else None

    # -- maps ---------------------------------------------------------------------------------

    def legend(
        self,
        layer: str,
        field: str | None = None,
        scheme: str | None = None,
        k: int | None = None,
    ) -> dict[str, Any]:
        """The service's class breaks for a thematic layer's indicator (``/legend``)."""
        params: dict[str, Any] = {"f": "json"}
        for name, value in (("field", field), ("scheme", scheme), ("k", k)):
            if value is not None:
                params[name] = value
        return dict(self.get_json(f"/collections/{quote(layer, safe='')}/legend", params))

    def tilejson(self) -> dict[str, Any]:
        """The raster basemap's TileJSON (tile URL template, zoom range, bounds, attribution)."""
        return dict(self.get_json("/basemaps/raster/tilejson.json"))

    def asset_url(self, path: str) -> str:
        """The URL of a vendored script or style (``leaflet/leaflet.js``) on this service."""
        return f"{self.url}/static/vendor/{path.lstrip('/')}"


def _as_frame(result: Any, header: str | None) -> Any:
    """A process result as a (Geo)DataFrame where it is one; see :meth:`Client.process`.

    The service's processes answer x/y (longitude / easting first) in every CRS, so their
    GeoJSON is never turned round, unlike OGC API - Features items.
    """
    if is_geojson(result):
        return geojson_frame(result, header, axis_swap=False)
    if not isinstance(result, Mapping):
        return result
    nested = [name for name, value in result.items() if is_geojson(value)]
    if len(nested) == 1:
        frame = geojson_frame(result[nested[0]], header, axis_swap=False)
        frame.attrs.update({k: v for k, v in result.items() if k != nested[0]})
        return frame
    rows = result.get("results")
    if isinstance(rows, list) and rows and all(isinstance(r, Mapping) for r in rows):
        # the geocoder answers lon/lat in geographic CRSs and x/y in projected ones
        for x, y in (("lon", "lat"), ("x", "y")):
            if all(x in r and y in r for r in rows):
                crs = parse_crs(crs_uri(result.get("crs") or "EPSG:4490"))
                frame = points_frame([dict(r) for r in rows], crs, x, y)
                frame.attrs.update({k: v for k, v in result.items() if k != "results"})
                return frame
    return result
