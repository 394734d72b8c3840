"""Bad requests across every kind of route: a 4xx with an OGC exception body, never a 500."""

from __future__ import annotations

import pytest

BAD = [
    ("/collections/nope/items", 404),
    ("/collections/nope", 404),
    ("/collections/poi/items?limit=0", 400),
    ("/collections/poi/items?limit=10001", 400),
    ("/collections/poi/items?limit=abc", 400),
    ("/collections/poi/items?bbox=1,2,3", 400),
    ("/collections/poi/items?bbox=121.6,29.8,121.5,29.9", 400),
    ("/collections/poi/items?crs=EPSG:9999", 400),
    ("/collections/poi/items?filter=name%3D", 400),
    ("/collections/poi/items?sortby=nope", 400),
    ("/collections/poi/items/..%2F..%2Fetc%2Fpasswd", 404),
    ("/collections/terrain_dem/items", 400),
    ("/collections/terrain_dem/coverage?bbox=1,2", 400),
    ("/collections/catalogue/items?limit=abc", 400),
    ("/collections/poi/tiles/NopeQuad/1/1/1", 404),
    ("/collections/poi/tiles/WebMercatorQuad/99/1/1", 404),
    ("/TileMatrixSets/nope", 404),
    ("/basemaps/raster/tiles/a/1/1.png", 400),
    ("/basemaps/fonts/Nope/0-255.pbf", 404),
    ("/nope", 404),
]


@pytest.mark.parametrize(("path", "status"), BAD)
def test_bad_request_gets_a_clear_4xx(client, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path)
    assert r.status_code == status, (path, r.status_code, r.text[:200])
    body = r.json()
    assert body["code"] and body["description"]
    assert "Traceback" not in r.text and "psycopg2" not in r.text and "SELECT" not in r.text
