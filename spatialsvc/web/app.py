"""The app factory: pygeoapi's Starlette application mounted at the root, our routes before it.

Nothing is read at import time. :func:`create_app` renders pygeoapi's configuration and OpenAPI
document from the settings into ``SPATIALSVC_HOME``, then imports pygeoapi's application (which
reads both at import), so several apps with different settings can be made in one process.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from spatialsvc import pygeoapi_config
from spatialsvc.layers import Layer, load_layers
from spatialsvc.settings import Settings, get_settings
from spatialsvc.web.errors import HANDLERS


@dataclass
class AppState:
    """What the routes share: the settings, the published layers, pygeoapi's configuration."""

    settings: Settings
    layers: dict[str, Layer]
    config: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)


def _openapi(config: dict[str, Any]) -> dict[str, Any]:
    from pygeoapi.openapi import get_oas

    return get_oas(config)  # type: ignore[no-any-return]


def _pygeoapi_app(state: AppState) -> Starlette:
    """Write pygeoapi's config and OpenAPI document, then (re)import its application."""
    home = state.settings.home
    home.mkdir(parents=True, exist_ok=True)
    config_path = home / "pygeoapi-config.yml"
    openapi_path = home / "pygeoapi-openapi.yml"
    pygeoapi_config.write(state.config, config_path)
    os.environ["PYGEOAPI_CONFIG"] = str(config_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path)
    document = _openapi(state.config)
    openapi_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    state.extras["openapi"] = document
    name = "pygeoapi.starlette_app"
    module = (
        importlib.reload(sys.modules[name])
        if name in sys.modules
        else importlib.import_module(name)
    )
    inner: Starlette = module.APP
    inner.debug = False  # pygeoapi builds it with debug=True: tracebacks to clients
    return inner


def _our_routes(state: AppState) -> list[BaseRoute]:
    """Routes of our own, matched before pygeoapi's."""
    routes: list[BaseRoute] = []
    for module_name in ROUTE_MODULES:
        module = importlib.import_module(module_name)
        routes.extend(module.routes(state))
    return routes


# Each module exposes ``routes(state: AppState) -> list[BaseRoute]``.
ROUTE_MODULES: list[str] = []


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI application from the settings."""
    settings = settings or get_settings()
    layers = load_layers(settings.layers_dir)
    config = pygeoapi_config.render(settings, layers)
    state = AppState(settings=settings, layers=layers, config=config)
    inner = _pygeoapi_app(state)
    routes = [*_our_routes(state), Mount("/", app=inner)]
    app = Starlette(routes=routes, exception_handlers=HANDLERS)
    app.state.spatialsvc = state
    return app
