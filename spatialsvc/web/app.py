"""The app factory: pygeoapi's Starlette application mounted at the root, our routes before it.

Nothing is read at import time. :func:`create_app` renders pygeoapi's configuration and OpenAPI
document from the settings and gives them to pygeoapi's API object directly (pygeoapi's own
Starlette module would read them from the environment at import), so several applications with
different settings can live in one process.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from spatialsvc import pygeoapi_config
from spatialsvc.layers import Layer, load_layers
from spatialsvc.openapi import add_filter_parameters, bundle
from spatialsvc.providers import context
from spatialsvc.settings import Settings, get_settings
from spatialsvc.web.errors import HANDLERS
from spatialsvc.web.pygeoapi_routes import PygeoapiAdapter
from spatialsvc.web.pygeoapi_routes import routes as pygeoapi_routes

LOG = logging.getLogger("spatialsvc.web")


@dataclass
class AppState:
    """What the routes share: the settings, the published layers, pygeoapi's configuration."""

    settings: Settings
    layers: dict[str, Layer]
    config: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)


def _openapi(config: dict[str, Any]) -> dict[str, Any]:
    from pygeoapi.openapi import get_oas

    return get_oas(config)


def _pygeoapi_app(state: AppState) -> Starlette:
    """pygeoapi's API for this configuration, with its OpenAPI document made self-contained.

    Both are also written to ``SPATIALSVC_HOME`` for people and tools to read.
    """
    home = state.settings.home
    home.mkdir(parents=True, exist_ok=True)
    pygeoapi_config.write(state.config, home / "pygeoapi-config.yml")
    document = bundle(_openapi(state.config), in_place=True)  # no outside $ref
    document = add_filter_parameters(document, state.layers)
    (home / "openapi.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    state.extras["openapi"] = document
    static_dir = Path(state.config["server"]["templates"]["static"])
    adapter = PygeoapiAdapter(state.config, document)
    state.extras["pygeoapi"] = adapter
    table = pygeoapi_routes(adapter, static_dir, state.settings.coverage_json_max_cells)
    return Starlette(routes=table, exception_handlers=HANDLERS)


def _our_routes(state: AppState) -> list[BaseRoute]:
    """Routes of our own, matched before pygeoapi's."""
    routes: list[BaseRoute] = []
    for module_name in ROUTE_MODULES:
        module = importlib.import_module(module_name)
        routes.extend(module.routes(state))
    return routes


# Each module exposes ``routes(state: AppState) -> list[BaseRoute]``.
ROUTE_MODULES: list[str] = [
    "spatialsvc.web.basemaps",
    "spatialsvc.web.tiles",
    "spatialsvc.web.features",
    "spatialsvc.web.vector_basemap",
    "spatialsvc.web.geocode",
    "spatialsvc.web.processes",
    "spatialsvc.web.legend",
    "spatialsvc.web.applications",
    "spatialsvc.web.portal",
]


def _ensure_terrain(settings: Settings) -> None:
    """The demo terrain (DEM + shaded relief) is built on first start if it is missing."""
    from spatialsvc.basemaps.terrain import build_terrain, terrain_files

    folder = settings.home / "basemaps"
    files = terrain_files(folder)
    if not (files.dem.exists() and files.hillshade.exists()):
        build_terrain(folder, settings.demo_seed, echo=LOG.info)


def _sync_catalogue(settings: Settings, layers: dict[str, Layer]) -> None:
    """Bring the resource catalogue in step with the published layers."""
    from spatialsvc.catalogue import sync_catalogue
    from spatialsvc.db.connect import connect
    from spatialsvc.errors import SpatialsvcError

    try:
        conn = connect(settings, "spatialsvc-web")
        try:
            sync_catalogue(conn, layers, settings)
        finally:
            conn.close()
    except SpatialsvcError as exc:
        exc.message = f"cannot start: syncing the resource catalogue failed: {exc.message}"
        raise


def _preload_geocoder(settings: Settings) -> None:
    """Build the geocoder's index now, so that the first /geocode does not wait for it."""
    from spatialsvc.geocoder_service import get_geocoder

    try:
        get_geocoder(settings)
    except Exception:  # the first request will try again and answer with a clean error
        LOG.exception("building the geocoder's index at start-up failed")


def _lifespan(
    state: AppState,
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    settings = state.settings

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if settings.geocoder_preload:
            threading.Thread(
                target=_preload_geocoder, args=(settings,), name="geocoder-preload", daemon=True
            ).start()
        yield
        for shutdown in state.extras.get("on_shutdown", []):
            shutdown()

    return lifespan


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI application from the settings."""
    settings = settings or get_settings()
    layers = load_layers(settings.layers_dir)
    _sync_catalogue(settings, layers)
    _ensure_terrain(settings)
    config = pygeoapi_config.render(settings, layers)
    context.bind(settings, layers)  # before pygeoapi builds providers for its OpenAPI document
    state = AppState(settings=settings, layers=layers, config=config)
    inner = _pygeoapi_app(state)
    routes = [*_our_routes(state), Mount("/", app=inner)]
    middleware = []
    if settings.access_control:
        from spatialsvc.web.access import middleware as access_middleware

        middleware = access_middleware(state)
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=HANDLERS,
        lifespan=_lifespan(state),
    )
    app.state.spatialsvc = state
    return app
