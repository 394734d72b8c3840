"""The generated matrix of issue 6: every kind of caller x every sharing level x every route of
a collection, with zero leaks.

The camera layer (owned by ga-hs; grants for it held by ``grantee``, ``fields`` (with the name in
clear) and ``expired``) is given each sharing level in turn, in the running application's
access table, and every route is asked by every caller. The expected answers are written here
from the rules in docs/access.md, not computed by the code under test. Whatever a caller may
not read never appears in the answer: not a camera id, not a name in clear.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import pytest
from starlette.testclient import TestClient

from spatialsvc.auth.mask import mask_name
from spatialsvc.auth.policy import resource_from_layer
from spatialsvc.layers import load_layers
from spatialsvc.settings import Settings
from spatialsvc.tiles.matrixsets import get_matrix_set

CALLERS = ["public", "stranger", "grantee", "fields", "expired", "owner", "admin"]
LEVELS = ["open", "unconditional", "conditional", "none"]
ROUTES = ["listed", "openapi", "collection", "queryables", "tileset", "items", "item", "tile"]
SIGNED_IN = set(CALLERS) - {"public"}
HOLDERS = {"grantee", "fields"}  # approved, current applications for the camera
INSIDERS = {"owner", "admin"}  # the owning department, the platform's administrators


def sees_metadata(level: str, caller: str) -> bool:
    return {
        "open": True,
        "unconditional": caller in SIGNED_IN,
        "conditional": caller in SIGNED_IN,
        "none": caller in INSIDERS,
    }[level]


def reads_data(level: str, caller: str) -> bool:
    return {
        "open": True,
        "unconditional": caller in SIGNED_IN,
        "conditional": caller in HOLDERS | INSIDERS,
        "none": caller in INSIDERS,
    }[level]


def refusal(level: str, caller: str) -> int:
    if level == "none":
        return 404  # an unshared resource does not exist for outsiders
    return 401 if caller == "public" else 403


def sees_names_masked(level: str, caller: str) -> bool:
    """Names are sensitive on conditional and unshared layers: masked for all but the owner
    and a grant that lists the field."""
    if level in ("open", "unconditional"):
        return False
    return caller not in {"owner", "fields"}


def expected_status(level: str, caller: str, route: str) -> int:
    if route in ("listed", "openapi"):
        return 200
    if route in ("collection", "queryables", "tileset"):
        return 200 if sees_metadata(level, caller) else refusal(level, caller)
    return 200 if reads_data(level, caller) else refusal(level, caller)


@pytest.fixture(scope="module")
def camera(db_url: str, demo: dict[str, int]) -> dict[str, Any]:
    """The cameras' ids and names, and the WebMercator z16 tile of the first one."""
    import psycopg2

    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT camera_id::text, name FROM registry.camera ORDER BY camera_id")
        names = dict(cur.fetchall())
        first = min(names)
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM registry.camera WHERE camera_id = %s", (first,)
        )
        x, y = cur.fetchone()
    tile = get_matrix_set("WebMercatorQuad").tms.tile(float(x), float(y), 16)
    return {
        "names": names,
        "first": first,
        "tile": f"/collections/camera/tiles/WebMercatorQuad/16/{tile.y}/{tile.x}",
    }


@pytest.fixture(params=LEVELS)
def level(request: Any, access_app: Any, access_settings: Settings) -> Iterator[str]:
    """The camera layer at one sharing level, in the running application's access table."""
    resources = access_app.state.spatialsvc.extras["access_resources"]
    layer = load_layers(access_settings.layers_dir)["camera"]
    saved = resources["camera"]
    resources["camera"] = resource_from_layer(layer.model_copy(update={"sharing": request.param}))
    try:
        yield request.param
    finally:
        resources["camera"] = saved


def path(route: str, camera: dict[str, Any]) -> str:
    return {
        "listed": "/collections?f=json",
        "openapi": "/openapi?f=json",
        "collection": "/collections/camera?f=json",
        "queryables": "/collections/camera/queryables?f=json",
        "tileset": "/collections/camera/tiles/WebMercatorQuad?f=json",
        "items": "/collections/camera/items?f=json&limit=100",
        "item": f"/collections/camera/items/{camera['first']}?f=json",
        "tile": camera["tile"],
    }[route]


def names_in(response: Any, route: str) -> dict[str, str]:
    """camera_id → name in a data answer."""
    if route == "tile":
        layer = mapbox_vector_tile.decode(response.content)["camera"]
        return {
            str(f["properties"]["camera_id"]): f["properties"]["name"] for f in layer["features"]
        }
    body = response.json()
    features = body["features"] if route == "items" else [body]
    return {str(f["id"]): f["properties"]["name"] for f in features}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("caller", CALLERS)
def test_matrix(
    access_client: TestClient,
    callers: dict[str, Any],
    camera: dict[str, Any],
    level: str,
    caller: str,
    route: str,
) -> None:
    r = access_client.get(path(route, camera), headers=callers[caller].headers)
    want = expected_status(level, caller, route)
    assert r.status_code == want, (level, caller, route, r.status_code, r.text[:200])
    text = r.content.decode("utf-8", "replace")
    clear = camera["names"]
    if r.status_code != 200:
        assert r.json()["description"] and r.json()["code"] in (
            "Unauthorized",
            "Forbidden",
            "NotFound",
        )
        assert camera["first"] not in text and clear[camera["first"]] not in text
        return
    if route == "listed":
        ids = {c["id"] for c in r.json()["collections"]}
        assert ("camera" in ids) == sees_metadata(level, caller)
    elif route == "openapi":
        listed = any(p.startswith("/collections/camera") for p in r.json()["paths"])
        assert listed == sees_metadata(level, caller)
    elif route in ("items", "item", "tile"):
        names = names_in(r, route)
        assert camera["first"] in names
        for camera_id, name in names.items():
            if sees_names_masked(level, caller):
                assert name == mask_name(clear[camera_id]) != clear[camera_id]
            else:
                assert name == clear[camera_id]
