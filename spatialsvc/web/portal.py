"""The map portal (数据服务门户): ``/map/``, its files, and the caller's session.

- ``GET /map`` → ``/map/`` (redirect); ``GET /map/`` the page (plain JavaScript over the vendored
  MapLibre GL JS: no build step, no CDN);
- its script, style and the GCJ-02 port are static files under ``/static/portal/``
  (``spatialsvc/web/static/portal/``), the page a template (``templates/portal/index.html``);
- ``GET /map/api/session``: who the presented credentials are and, for every layer the caller
  may see listed, whether it may read its data (``spatialsvc.auth.policy.decide``) and how to
  draw it (the layer file's ``style``, zooms, geometry type, thematic styles).

The page reads everything else through the API with the caller's key (``Authorization:
Bearer``), like any other app: the access middleware decides there. The session route exists
because ``/collections`` lists what a caller may *see* (a conditional layer is listed to every
department, so that it can apply), while the layer switcher must offer only what it may
*read*; asking a refused tile or item to find out would show errors. The page and its files
are free paths; the session is not: the access middleware signs its caller in (the public
included), limits and audits it like any API request, and a credential that fails is its 401.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from spatialsvc.auth.grants import Grant
from spatialsvc.auth.policy import Resource, decide, metadata_visible, resources_from_layers
from spatialsvc.auth.principal import PUBLIC, Principal
from spatialsvc.layers import Layer
from spatialsvc.web.access import principal_of
from spatialsvc.web.app import AppState

PAGE = Path(__file__).resolve().parent / "templates" / "portal" / "index.html"
NO_STORE = {"Cache-Control": "no-store", "Vary": "Authorization, X-API-Key"}


def _department_name(state: AppState, code: str | None) -> str:
    """The department's name ("" for the public or a department not found)."""
    from spatialsvc.db.pool import connection

    if code is None:
        return ""
    with connection(state.settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM auth.department WHERE code = %s", (code,))
        row = cur.fetchone()
    return str(row[0]) if row else ""


def legend_path(state: AppState, layer: Layer) -> str | None:
    """``/collections/{id}/legend`` for a layer with a thematic style, when the service lets
    callers reach it (with access control on, only a path the middleware classifies does)."""
    if not layer.thematic:
        return None
    path = f"/collections/{layer.id}/legend"
    if state.settings.access_control:
        from spatialsvc.web.access import classify

        if classify(path) is None:
            return None
    return path


def _layer_entry(
    state: AppState, layer: Layer, readable: bool, masked: list[str]
) -> dict[str, Any]:
    return {
        "id": layer.id,
        "title": layer.title,
        "category": layer.category,
        "department": layer.department.name,
        "sharing": layer.sharing,
        "readable": readable,
        "masked_fields": masked,
        "geometry_type": layer.geometry_type,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "style": layer.style.model_dump(),
        "thematic": [
            {"id": t.id, "title": t.title, "field": t.field, "unit": t.unit} for t in layer.thematic
        ],
        "legend": legend_path(state, layer) if readable else None,
    }


def session_document(
    state: AppState,
    resources: dict[str, Resource],
    principal: Principal,
    grants: tuple[Grant, ...],
) -> dict[str, Any]:
    """The caller and the layers it may see listed, each with ``readable``."""
    now = datetime.now(UTC)
    control = state.settings.access_control
    layers = []
    for layer_id, layer in state.layers.items():
        resource = resources[layer_id]
        if control and not metadata_visible(principal, resource):
            continue
        if not control:
            layers.append(_layer_entry(state, layer, True, []))
            continue
        d = decide(principal, resource, grants, now)
        masked = sorted(d.masked_fields) if d.allowed else []
        layers.append(_layer_entry(state, layer, d.allowed, masked))
    return {
        "access_control": control,
        "active": True,
        "signed_in": not principal.is_public,
        "department": principal.department,
        "role": principal.role,
        "key_id": principal.key_id,
        "layers": layers,
    }


def _page(base: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text.replace("{{base}}", html.escape(base, quote=True))


def routes(state: AppState) -> list[BaseRoute]:
    """The portal's routes."""
    base = state.settings.url
    page = _page(base)
    resources = resources_from_layers(state.layers)

    def index(_request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    def to_index(_request: Request) -> Response:
        return RedirectResponse(base + "/map/", status_code=308)

    async def session(request: Request) -> Response:
        principal = principal_of(request.scope)
        if principal is None:  # access control off: everyone reads everything
            doc = session_document(state, resources, PUBLIC, ())
            return JSONResponse(doc, headers=NO_STORE)
        grants = tuple(request.scope.get("state", {}).get("grants", ()))
        doc = session_document(state, resources, principal, grants)
        doc["department_name"] = await run_in_threadpool(
            _department_name, state, principal.department
        )
        return JSONResponse(doc, headers=NO_STORE)

    return [
        Route("/map", to_index, methods=["GET"]),
        Route("/map/", index, methods=["GET"]),
        Route("/map/api/session", session, methods=["GET"]),
    ]
