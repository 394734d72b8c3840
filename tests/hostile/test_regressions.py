"""Regression tests for the 5xx that schemathesis found (each was a 500 before its fix)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Caller
from tests.hostile.leaks import leaked


def _clean_4xx(r: httpx.Response) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] and body["description"]
    assert leaked(r.text) is None, r.text[:300]


# pygeoapi 0.21 falls back to Locale("zh", territory="CN") when no language fits, which Babel
# does not know: every pygeoapi path answered lang=fr, Accept-Language: zh or a garbage lang
# with a 500 (spatialsvc/web/pygeoapi_routes.py: asked again without them).
LANGS = ["fr", "zh", "de-DE", "\U000db406$k«", "!!", ""]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "path", ["/", "/collections", "/openapi", "/collections/catalogue/items", "/processes"]
)
def test_unknown_language_falls_back_to_the_default(hostile_url: str, path: str, lang: str) -> None:
    r = httpx.get(hostile_url + path, params={"lang": lang, "f": "json"}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    header = lang.encode("utf-8") or b"zz"
    r = httpx.get(
        hostile_url + path, params={"f": "json"}, headers=[(b"Accept-Language", header)], timeout=60
    )
    assert r.status_code == 200, (r.status_code, r.text[:200])


def test_a_supported_language_is_still_honoured(hostile_url: str) -> None:
    r = httpx.get(hostile_url + "/", params={"lang": "en-US", "f": "json"}, timeout=60)
    assert r.status_code == 200
    assert r.headers.get("Content-Language", "en-US").startswith("en")


# POST /processes/{id}/execution: pygeoapi 0.21 calls .get on the parsed body and on its
# subscriber, and lets a body that is not UTF-8 through json.loads: 500s
# (spatialsvc/web/processes.py: check_execute_body).
BODIES = [
    b"null",
    b'"text"',
    b"[1, 2]",
    b"42",
    b'{"inputs": [1]}',
    b'{"inputs": "x"}',
    b'{"inputs": {}, "subscriber": "x"}',
    b'{"inputs": {}, "subscriber": [1]}',
    b"q(\xe9\x07\xff\xfe-\x951\xb0",
    b"\xff\xfe",
    b"",
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("process", ["geocode", "zonal-stats"])
def test_execute_body_that_is_not_an_object_is_a_400(
    hostile_url: str, callers: dict[str, Caller], process: str, body: bytes
) -> None:
    r = httpx.post(
        f"{hostile_url}/processes/{process}/execution",
        content=body,
        headers={**callers["admin"].headers, "Content-Type": "application/json"},
        timeout=60,
    )
    _clean_4xx(r)


# /collections/terrain_dem/coverage: pygeoapi's raster provider unpacks 4 numbers from a
# 6-number bbox and passes bbox-crs to pyproj's CRS.from_epsg: 500s
# (spatialsvc/web/pygeoapi_routes.py: the coverage route checks both first).
COVERAGE = [
    "bbox=1,2,3,4,5,6",
    "bbox=-1.7976931348623157e%2B308,2.7e%2B16,-2.1e%2B255,-4.2e%2B16,2.1e%2B210,5.1e-186",
    "bbox=121.5,29.8,121.6,29.9&bbox-crs=https%3A%2F%2F8.l.info",
    "bbox=121.5,29.8,121.6,29.9&bbox-crs=http%3A%2F%2Fwww.opengis.net%2Fdef%2Fcrs%2FEPSG%2F0%2F4326",
    "bbox=121.5,29.8,121.6,29.9&bbox-crs=999999",
    "bbox=121.5,29.8,121.6,29.9&bbox-crs=",
    "bbox=-1e308,-1e308,1e308,1e308",
    "bbox=nan,nan,nan,nan",
    "bbox=-inf,-90,inf,90",
    # outside the raster, or of no area: rasterio's mask refuses, pygeoapi made it a 500
    "bbox=0.0,0.0,0.0,0.0",
    "bbox=1,1,2,2",
    "bbox=121.5,29.87,121.5,29.87",
    "bbox=121.5,29.87,121.50001,29.87001",
    "bbox=121.59999,29.96999,121.7,29.99",
    "bbox=0,0,1000,1000&bbox-crs=3857",
]


@pytest.mark.parametrize("query", COVERAGE)
def test_bad_coverage_bbox_is_a_400(hostile_url: str, query: str) -> None:
    r = httpx.get(f"{hostile_url}/collections/terrain_dem/coverage?{query}", timeout=120)
    _clean_4xx(r)


def test_small_coverage_bbox_still_works(hostile_url: str) -> None:
    r = httpx.get(
        f"{hostile_url}/collections/terrain_dem/coverage",
        params={"bbox": "121.50,29.86,121.51,29.87", "bbox-crs": "4326"},
        timeout=120,
    )
    assert r.status_code == 200, r.text[:300]


# addressing.normalize: a lone surrogate (JSON "\ud800" in an execute request) next to a
# traditional character crashed OpenCC (UnicodeEncodeError), and so the geocode process
# (addressing/normalize.py: to_simplified replaces it first).
def test_lone_surrogate_in_an_address_is_geocoded(
    hostile_url: str, callers: dict[str, Caller]
) -> None:
    r = httpx.post(
        f"{hostile_url}/processes/geocode/execution",
        content=b'{"inputs": {"address": "\\u6d77\\u66d9\\u533a\\u81fa\\ud800\\u6a13"}}',
        headers={**callers["admin"].headers, "Content-Type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 200, r.text[:300]


# NUL in an id: psycopg2 refuses to send a string holding NUL (ValueError): items, catalogue
# records and jobs answered 500 (spatialsvc/web/features.py, spatialsvc/providers/records.py,
# spatialsvc/processes/manager.py: not found).
@pytest.mark.parametrize(
    "path",
    [
        "/collections/poi/items/%00",
        "/collections/camera/items/1%00.json",
        "/collections/catalogue/items/%00",
        "/jobs/%00",
        "/jobs/%00/results",
    ],
)
@pytest.mark.parametrize("who", ["admin", "public"])
def test_nul_in_an_id_is_not_found(
    hostile_url: str, callers: dict[str, Caller], path: str, who: str
) -> None:
    r = httpx.get(hostile_url + path, headers=callers[who].headers, timeout=60)
    _clean_4xx(r)


def test_nul_in_a_job_id_cannot_be_deleted(hostile_url: str, callers: dict[str, Caller]) -> None:
    r = httpx.delete(hostile_url + "/jobs/%00", headers=callers["admin"].headers, timeout=60)
    _clean_4xx(r)


# the catalogue's records provider sent a bbox of 1e308 to PostGIS (200 with every record):
# now refused like the items' bbox (spatialsvc/providers/records.py).
@pytest.mark.parametrize("bbox", ["-1e308,-1e308,1e308,1e308", "nan,nan,nan,nan", "0,0,200,1"])
def test_catalogue_bbox_out_of_range_is_a_400(hostile_url: str, bbox: str) -> None:
    r = httpx.get(
        hostile_url + "/collections/catalogue/items", params={"bbox": bbox, "f": "json"}, timeout=60
    )
    _clean_4xx(r)
