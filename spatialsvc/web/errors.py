"""The one place where errors become HTTP responses, as OGC API exception bodies.

A client sees the status, an OGC exception code and our own message: never a stack trace and
never a database error's text.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from spatialsvc.errors import DatabaseUnavailable, InvalidInput, NotFound, SpatialsvcError

LOG = logging.getLogger("spatialsvc.web")
RETRY_AFTER_SECONDS = 5

_OGC_CODES = {
    400: "InvalidParameterValue",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "InvalidRequest",
    409: "Conflict",
}


def exception_body(status: int, description: str, code: str | None = None) -> dict[str, Any]:
    """An OGC API exception document."""
    return {"code": code or _OGC_CODES.get(status, "ServerError"), "description": description}


def _response(status: int, description: str, code: str | None = None) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse(exception_body(status, description, code), status, headers=headers)


async def spatialsvc_error(_request: Request, exc: Exception) -> JSONResponse:
    """Our own errors carry their status and a message safe to show."""
    assert isinstance(exc, SpatialsvcError)
    if isinstance(exc, DatabaseUnavailable):
        return _response(503, "the service is temporarily unavailable", "ServiceUnavailable")
    code = "NotFound" if isinstance(exc, NotFound) else None
    if isinstance(exc, InvalidInput):
        code = "InvalidParameterValue"
    if exc.status_code >= 500:
        LOG.error("internal error: %s", exc.message)
        return _response(exc.status_code, "internal error")
    return _response(exc.status_code, exc.message, code)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTP errors (unknown path, wrong method) as OGC exceptions."""
    assert isinstance(exc, HTTPException)
    return _response(exc.status_code, str(exc.detail))


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    """Anything else: logged with its traceback, answered without it."""
    LOG.exception("unexpected error", exc_info=exc)
    return _response(500, "internal error")


HANDLERS: dict[Any, Any] = {
    SpatialsvcError: spatialsvc_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
