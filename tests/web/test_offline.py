"""Every HTML page and the OpenAPI document work on a network without internet.

Pages load scripts, styles and images only from the service itself (vendored from the npm
registry by `make vendor`); the OpenAPI document refers to no schema on another host and is
valid OpenAPI.
"""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from openapi_spec_validator import validate

from spatialsvc.openapi import bundle, external_refs, library, parse_external

# Attributes that make a browser fetch something by itself (not navigation).
LOADING = {
    ("script", "src"),
    ("link", "href"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
    ("input", "src"),
}

CONTENT_TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".png": "image/png",
}


class Refs(HTMLParser):
    """Collects every URL an HTML page refers to, split into loads and navigation."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[tuple[str, str, str]] = []
        self.navigation: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if (tag, name) in LOADING:
                self.loads.append((tag, name, value))
            elif name in ("src", "srcset", "data", "poster"):
                self.loads.append((tag, name, value))
            elif name == "href":
                self.navigation.append(value)


def refs_of(html: str) -> Refs:
    parser = Refs()
    parser.feed(html)
    return parser


def same_host(url: str, base: str) -> bool:
    """A relative URL or one on the page's own host."""
    target = urlsplit(urljoin(base, url))
    if target.scheme in ("", "http", "https"):
        return target.netloc == urlsplit(base).netloc
    return target.scheme in ("data", "mailto", "tel", "javascript")


@pytest.fixture(scope="module")
def server_url(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.state.spatialsvc.config["server"]["url"]).rstrip("/")


@pytest.fixture(scope="module")
def poi_id(client) -> str:  # type: ignore[no-untyped-def]
    r = client.get("/collections/poi/items", params={"f": "json", "limit": 1})
    assert r.status_code == 200, r.text[:300]
    return str(r.json()["features"][0]["id"])


def html_pages(poi_id: str) -> list[str]:
    return [
        "/",
        "/conformance",
        "/collections",
        "/collections/poi",
        "/collections/poi/items?limit=20",
        f"/collections/poi/items/{poi_id}",
        "/collections/poi/queryables",
        "/collections/poi/tiles",
        "/openapi",
        "/openapi?ui=redoc",
        "/collections/catalogue",
        "/collections/catalogue/items",
    ]


# Pages the service may serve as JSON only (our own tile routes): when they do offer HTML, it
# must be offline too.
OPTIONAL_HTML = ["/collections/poi/tiles/WebMercatorQuad/metadata", "/TileMatrixSets"]


def with_f_html(path: str) -> str:
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}f=html"


def get_html(client, path: str):  # type: ignore[no-untyped-def]
    r = client.get(with_f_html(path))
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith("text/html"), path
    return r


@pytest.fixture(scope="module")
def pages(client, poi_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = {path: get_html(client, path).text for path in html_pages(poi_id)}
    for path in OPTIONAL_HTML:
        r = client.get(with_f_html(path))
        if r.headers.get("content-type", "").startswith("text/html"):
            found[path] = r.text
    return found


PAGE_NAMES = [
    "landing",
    "conformance",
    "collections",
    "collection",
    "items",
    "item",
    "queryables",
    "tiles",
    "swagger",
    "redoc",
    "catalogue",
    "catalogue-items",
]


def assert_offline(html: str, base: str, path: str) -> None:
    refs = refs_of(html)
    outside = [(t, a, v) for t, a, v in refs.loads if not same_host(v, base)]
    assert not outside, f"{path} loads from another host: {outside}"
    # navigation links to outside pages are allowed, but not protocol-relative ones
    for href in refs.navigation:
        assert not href.startswith("//"), f"{path}: protocol-relative link {href}"
    for cdn in ("unpkg.com", "cdnjs", "jsdelivr", "googleapis.com"):
        assert cdn not in html, f"{path} mentions {cdn}"


@pytest.mark.parametrize("index", range(len(PAGE_NAMES)), ids=PAGE_NAMES)
def test_page_loads_nothing_from_outside(client, poi_id, server_url, index):  # type: ignore[no-untyped-def]
    path = html_pages(poi_id)[index]
    assert_offline(get_html(client, path).text, server_url + path, path)


@pytest.mark.parametrize("path", OPTIONAL_HTML)
def test_json_only_pages_are_offline_too(client, server_url, path):  # type: ignore[no-untyped-def]
    r = client.get(with_f_html(path))
    if r.headers.get("content-type", "").startswith("text/html"):
        assert r.status_code == 200
        assert_offline(r.text, server_url + path, path)
    else:  # no HTML offered: a clean OGC answer, never a server error
        assert r.status_code < 500, r.text[:300]


def test_pages_use_vendored_assets(pages: dict[str, str]) -> None:
    joined = "\n".join(pages.values())
    for asset in (
        "/static/vendor/bootstrap/css/bootstrap.min.css",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/vendor/maplibre-gl/maplibre-gl.js",
    ):
        assert asset in joined, asset


def test_pages_are_in_chinese(pages: dict[str, str]) -> None:
    landing = pages["/"]
    assert "首页" in landing and "数据集" in landing and "接口文档" in landing
    items = [text for path, text in pages.items() if path.startswith("/collections/poi/items")]
    assert all("要素" in text for text in items)


def test_item_pages_draw_features(pages: dict[str, str], poi_id: str) -> None:
    items = pages["/collections/poi/items?limit=20"]
    assert 'id="items-map"' in items and "L.geoJSON" in items and '"coordinates"' in items
    item = pages[f"/collections/poi/items/{poi_id}"]
    assert "L.geoJSON" in item and '"coordinates"' in item
    # paging stays in HTML
    refs = refs_of(items)
    nexts = [h for h in refs.navigation if "offset=" in h]
    assert nexts and all("f=html" in h for h in nexts), nexts
    # the basemap comes from the service's own raster tiles
    assert "/basemaps/raster/tiles/{z}/{x}/{y}.png" in items


def test_swagger_page_has_no_outside_validator(pages: dict[str, str]) -> None:
    swagger = pages["/openapi"]
    assert "SwaggerUIBundle" in swagger and "validatorUrl: null" in swagger


def test_vendored_files_are_served(client, pages, server_url) -> None:  # type: ignore[no-untyped-def]
    seen: set[str] = set()
    for path, html in pages.items():
        for _tag, _attr, value in refs_of(html).loads:
            url = urljoin(server_url + path, value)
            if "/static/" in url:
                seen.add(urlsplit(url).path)
    assert any("/vendor/" in p for p in seen)
    for path in sorted(seen):
        r = client.get(path)
        assert r.status_code == 200, path
        suffix = path[path.rfind(".") :]
        expected = CONTENT_TYPES.get(suffix)
        if expected:
            assert expected in r.headers["content-type"], (path, r.headers["content-type"])
    # what Leaflet itself fetches: marker and layer images
    for image in ("marker-icon.png", "marker-shadow.png", "layers.png"):
        r = client.get(f"/static/vendor/leaflet/images/{image}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"


# The OpenAPI document


@pytest.fixture(scope="module")
def openapi_document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get("/openapi", params={"f": "json"})
    assert r.status_code == 200, r.text[:300]
    document: dict[str, Any] = r.json()
    return document


def test_openapi_has_no_outside_refs(openapi_document) -> None:  # type: ignore[no-untyped-def]
    assert external_refs(openapi_document) == []


def test_openapi_is_valid(openapi_document) -> None:  # type: ignore[no-untyped-def]
    validate(openapi_document)


def test_openapi_file_written_is_bundled(app) -> None:  # type: ignore[no-untyped-def]
    state = app.state.spatialsvc
    on_disk = json.loads((state.settings.home / "openapi.json").read_text(encoding="utf-8"))
    assert external_refs(on_disk) == []
    assert external_refs(state.extras["openapi"]) == []


# bundle() on its own


OGC = "https://schemas.opengis.net/ogcapi"


def minimal(paths: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.0.2",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "components": {"parameters": {}, "responses": {}, "schemas": {}},
    }


def test_parse_external_forms() -> None:
    assert parse_external(
        f"{OGC}/features/part1/1.0/openapi/ogcapi-features-1.yaml#/components/responses/NotFound"
    ) == ("responses", "NotFound")
    assert parse_external(
        "https://raw.example/ogcapi-records/core/openapi/parameters/sortby.yaml"
    ) == ("parameters", "sortby")
    assert parse_external(f"{OGC}/processes/part1/1.0/openapi/schemas/exception.yaml") == (
        "schemas",
        "exception",
    )


def test_bundle_replaces_refs_and_adds_dependencies() -> None:
    f1 = f"{OGC}/features/part1/1.0/openapi/ogcapi-features-1.yaml"
    doc = minimal(
        {
            "/collections/x/items/{featureId}": {
                "get": {
                    "parameters": [{"$ref": f"{f1}#/components/parameters/featureId"}],
                    "responses": {
                        "200": {"$ref": f"{f1}#/components/responses/Feature"},
                        "404": {"$ref": f"{f1}#/components/responses/NotFound"},
                    },
                }
            }
        }
    )
    original = copy.deepcopy(doc)
    out = bundle(doc)
    assert doc == original, "bundle must not change its input"
    assert external_refs(out) == []
    assert {"featureGeoJSON", "geometryGeoJSON", "links", "link", "exception"} <= set(
        out["components"]["schemas"]
    )
    validate(out)


def test_bundle_keeps_the_documents_own_components() -> None:
    own = {"name": "bbox", "in": "query", "schema": {"type": "string"}, "description": "own"}
    doc = minimal(
        {
            "/items": {
                "get": {
                    "parameters": [{"$ref": "https://h.example/openapi/parameters/bbox.yaml"}],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        }
    )
    doc["components"]["parameters"]["bbox"] = own
    out = bundle(doc)
    assert out["components"]["parameters"]["bbox"] == own
    validate(out)


def test_bundle_stands_in_for_unknown_refs() -> None:
    doc = minimal(
        {
            "/p": {
                "get": {
                    "parameters": [{"$ref": "https://h.example/x/parameters/mystery.yaml"}],
                    "responses": {
                        "200": {"$ref": "https://h.example/x/responses/Odd.yaml"},
                        "201": {
                            "description": "made",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "https://h.example/x/schemas/odd.json"}
                                }
                            },
                        },
                    },
                }
            }
        }
    )
    out = bundle(doc)
    assert external_refs(out) == []
    assert out["components"]["parameters"]["mystery"]["name"] == "mystery"
    validate(out)


def test_every_library_component_is_valid_openapi() -> None:
    """All of our written definitions, referenced at once, make a valid document."""
    ours = library()
    doc = minimal({})
    for kind in ("schemas", "responses", "parameters"):
        doc["components"][kind] = copy.deepcopy(ours[kind])
    doc["paths"] = {
        "/collections/{cid}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": {
            "get": {
                "parameters": [
                    {"name": "cid", "in": "path", "required": True, "schema": {"type": "string"}},
                    *[
                        {"$ref": f"#/components/parameters/{p}"}
                        for p in ("tileMatrixSetId", "tileMatrix", "tileRow", "tileCol")
                    ],
                ],
                "responses": {"200": {"description": "a tile"}},
            }
        }
    }
    validate(doc)
    assert external_refs(doc) == []
