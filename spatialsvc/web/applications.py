"""``/applications``: applications for conditional resources over HTTP (issue 6, item 3).

- ``GET /applications[?status=pending|approved|rejected|revoked]``: the applications the caller
  may see (its department's, those for resources its department owns; all for an admin);
- ``POST /applications`` ``{"resource", "purpose", "fields"?, "valid_from"?, "valid_until"}``:
  201, the application and ``Location``;
- ``GET /applications/{id}``: 404 when the caller may not see it;
- ``POST /applications/{id}/approve`` ``{"reason"?}``, ``/reject`` ``{"reason"}``,
  ``/revoke`` ``{"reason"}``: 200 and the application.

The access middleware lets only signed-in callers through and puts the caller in the request's
state (:func:`spatialsvc.web.access.principal_of`); without access control there is no caller
and every route answers 403.  The acts go through :mod:`spatialsvc.auth.acts` (the change and
its audit row in one transaction, refusals recorded); reads use the shared pool.  Errors are
raised from the one error tree and answered by :mod:`spatialsvc.web.errors`.

Times are ISO 8601 dates or date-times; without a zone they are in the service's time zone,
as on the command line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from spatialsvc.auth import acts, applications
from spatialsvc.auth.applications import Application
from spatialsvc.auth.policy import Resource, resources_from_layers
from spatialsvc.auth.principal import Principal
from spatialsvc.errors import Forbidden, InvalidInput, NotFound
from spatialsvc.web.access import principal_of
from spatialsvc.web.app import AppState

STATUSES = ("pending", "approved", "rejected", "revoked")
MAX_BODY = 64 * 1024
APPLY_FIELDS = frozenset({"resource", "purpose", "fields", "valid_from", "valid_until"})
DECIDE_FIELDS = frozenset({"reason"})
_MAX_ID = 2**63 - 1


def as_json(a: Application, base_url: str) -> dict[str, Any]:
    """An application as the API answers it."""
    return {
        "id": a.id,
        "department": a.department,
        "resource": a.resource,
        "purpose": a.purpose,
        "fields": list(a.fields) if a.fields is not None else None,
        "valid_from": a.valid_from.isoformat(),
        "valid_until": a.valid_until.isoformat(),
        "status": a.status,
        "applied_at": a.applied_at.isoformat(),
        "decided_by": a.decided_by,
        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
        "reason": a.reason,
        "links": [{"rel": "self", "href": f"{base_url}/applications/{a.id}"}],
    }


def _caller(request: Request) -> Principal:
    principal = principal_of(request.scope)
    if principal is None:
        raise Forbidden("applications need access control (SPATIALSVC_ACCESS_CONTROL)")
    if principal.is_public:  # the middleware answers 401 first; never act for the public
        raise Forbidden("the public cannot use applications: use a department's key")
    return principal


def _application_id(request: Request) -> int:
    text = request.path_params["application_id"]
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_ID:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise NotFound(f"no application {shown!r}")
    return int(text)


async def _body(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``); unknown members are refused."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise InvalidInput(f"the body is larger than {MAX_BODY // 1024} KB")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise InvalidInput(f"unknown member {shown}; use {', '.join(sorted(allowed))}")
    return body


def _text(body: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value


def _time(body: Mapping[str, Any], name: str, required: bool) -> datetime | None:
    """An ISO 8601 date or date-time; without a zone, in the service's time zone."""
    text = _text(body, name, required)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidInput(
            f"{name}: {shown!r} is not an ISO 8601 date or date-time "
            "(e.g. 2027-01-01 or 2027-01-01T08:00:00+08:00)"
        ) from None
    return moment.astimezone()  # a naive time is taken as local, an aware one kept


def _fields(body: Mapping[str, Any]) -> list[str] | None:
    value = body.get("fields")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise InvalidInput('fields must be a list of field names, e.g. ["name"]')
    return value


def _actor(request: Request, principal: Principal) -> acts.Actor:
    client = request.client.host if request.client else None
    return acts.Actor.http(principal, request.url.path, request.method, client)


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "bad input (a JSON exception with a message)",
        401: "sign in with a department's API key or token",
        403: "not allowed (the reason is in the message)",
        404: "no such application for this caller",
        409: "already decided",
    }
    return {str(s): {"description": text[s]} for s in statuses}


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI path items of ``/applications`` (bodies as in docs/access.md)."""
    json_body = {"application/json": {"schema": {"type": "object"}}}
    one = {"description": "the application", "content": json_body}
    app_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    status = {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(STATUSES)},
    }

    def decide(verb: str, summary: str) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "operationId": f"{verb}Application",
                "tags": ["applications"],
                "parameters": [app_id],
                "requestBody": {"required": False, "content": json_body},
                "responses": {"200": one, **_errors(400, 401, 403, 404, 409)},
            }
        }

    return {
        "/applications": {
            "get": {
                "summary": "Applications the caller may see (共享申请)",
                "operationId": "listApplications",
                "tags": ["applications"],
                "parameters": [status],
                "responses": {
                    "200": {"description": "a list of applications", "content": json_body},
                    **_errors(400, 401),
                },
            },
            "post": {
                "summary": "Apply for a conditional resource",
                "operationId": "applyForResource",
                "tags": ["applications"],
                "requestBody": {"required": True, "content": json_body},
                "responses": {
                    "201": {"description": "the new application", "content": json_body},
                    **_errors(400, 401, 403, 404, 409),
                },
            },
        },
        "/applications/{id}": {
            "get": {
                "summary": "One application",
                "operationId": "getApplication",
                "tags": ["applications"],
                "parameters": [app_id],
                "responses": {"200": one, **_errors(401, 404)},
            }
        },
        "/applications/{id}/approve": decide("approve", "Approve (the owner or an admin)"),
        "/applications/{id}/reject": decide("reject", "Reject, with a reason"),
        "/applications/{id}/revoke": decide("revoke", "Revoke a grant, with a reason"),
    }


def routes(state: AppState) -> list[BaseRoute]:
    """The routes of ``/applications`` (also declared in the served OpenAPI document)."""
    from spatialsvc.db.connect import connect
    from spatialsvc.db.pool import connection

    document = state.extras.get("openapi")
    if isinstance(document, dict):
        document.setdefault("paths", {}).update(openapi_paths())

    settings = state.settings
    base_url = settings.url
    resources: dict[str, Resource] = resources_from_layers(state.layers)

    def opener() -> Any:
        return connect(settings, "spatialsvc-applications")

    def answer(a: Application, status: int = 200) -> JSONResponse:
        headers = {"Location": f"{base_url}/applications/{a.id}"} if status == 201 else None
        return JSONResponse(as_json(a, base_url), status, headers=headers)

    async def list_or_apply(request: Request) -> Response:
        principal = _caller(request)
        if request.method == "POST":
            body = await _body(request, APPLY_FIELDS)
            resource = _text(body, "resource", True)
            purpose = _text(body, "purpose", True)
            until = _time(body, "valid_until", True)
            valid_from = _time(body, "valid_from", False)
            fields = _fields(body)
            assert resource is not None and purpose is not None and until is not None
            a = await run_in_threadpool(
                acts.apply, opener, _actor(request, principal), resources, resource, purpose,
                until, fields, valid_from,
            )  # fmt: skip
            return answer(a, 201)
        for name in request.query_params:
            if name not in ("status", "f"):
                shown = name if len(name) <= 40 else name[:37] + "..."
                raise InvalidInput(f"unknown parameter {shown!r}; use status")
        status = request.query_params.get("status")
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status: one of {', '.join(STATUSES)}")

        def read() -> list[Application]:
            with connection(settings) as conn:
                return applications.list_applications(conn, principal, resources, status)

        rows = await run_in_threadpool(read)
        return JSONResponse([as_json(a, base_url) for a in rows])

    async def one(request: Request) -> Response:
        principal = _caller(request)
        application_id = _application_id(request)

        def read() -> Application:
            with connection(settings) as conn:
                return applications.get_visible(conn, principal, resources, application_id)

        return answer(await run_in_threadpool(read))

    def decision(verb: str) -> Any:
        async def endpoint(request: Request) -> Response:
            principal = _caller(request)
            application_id = _application_id(request)
            body = await _body(request, DECIDE_FIELDS)
            reason = _text(body, "reason", False)

            def visible() -> Application:  # another's application does not exist: 404, not 403
                with connection(settings) as conn:
                    return applications.get_visible(conn, principal, resources, application_id)

            await run_in_threadpool(visible)
            a = await run_in_threadpool(
                acts.decide, opener, _actor(request, principal), resources, verb,
                application_id, reason,
            )  # fmt: skip
            return answer(a)

        return endpoint

    return [
        Route("/applications", list_or_apply, methods=["GET", "POST"]),
        Route("/applications/{application_id}", one, methods=["GET"]),
        *(
            Route(f"/applications/{{application_id}}/{verb}", decision(verb), methods=["POST"])
            for verb in acts.DECISIONS
        ),
    ]
