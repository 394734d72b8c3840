"""The client's own error tree: every failure of a call to the service is a :class:`ClientError`.

An HTTP error answer becomes the subclass for its status (401 :class:`Unauthorized`, 403
:class:`Forbidden`, 404 :class:`NotFound`, 429 :class:`RateLimited`, other 4xx
:class:`BadRequest`, 5xx :class:`ServerError`) carrying the status, the service's OGC exception
document (``{"code": ..., "description": ...}``) and the URL asked. A service that cannot be
reached at all is a :class:`ConnectionFailed` (status ``None``) with a message saying so.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """A call to the service failed; ``status`` is the HTTP status (None: no answer at all)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        code: str | None = None,
        description: str | None = None,
        document: dict[str, Any] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.description = description
        self.document = document or {}
        self.url = url

    def __str__(self) -> str:
        return self.message


class ConnectionFailed(ClientError):
    """The service did not answer: refused, unreachable, timed out."""


class BadRequest(ClientError):
    """4xx other than 401/403/404/429: a bad parameter, filter, CRS or process input."""


class Unauthorized(BadRequest):
    """401: the resource needs a key (or the key is wrong, revoked or expired)."""


class Forbidden(BadRequest):
    """403: signed in, but this department may not read it (no or expired application)."""


class NotFound(BadRequest):
    """404: no such collection, feature, process or job (or not visible to this caller)."""


class RateLimited(BadRequest):
    """429: too many requests; ``retry_after`` is the service's advice in seconds."""

    def __init__(self, message: str, status: int | None = 429, **kwargs: Any) -> None:
        self.retry_after: float | None = kwargs.pop("retry_after", None)
        super().__init__(message, status, **kwargs)


class ServerError(ClientError):
    """5xx: the service failed or is unavailable (503 carries ``retry_after`` when given)."""

    def __init__(self, message: str, status: int | None = 500, **kwargs: Any) -> None:
        self.retry_after: float | None = kwargs.pop("retry_after", None)
        super().__init__(message, status, **kwargs)


def error_class(status: int) -> type[ClientError]:
    """The exception class for an HTTP error status."""
    if status == 401:
        return Unauthorized
    if status == 403:
        return Forbidden
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return BadRequest
