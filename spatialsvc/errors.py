"""One error tree.  Every error the tool or the service raises on purpose is a
:class:`SpatialsvcError`; each carries the HTTP status a web layer should answer with and a
message that is safe to show to a user (never a database error's text)."""

from __future__ import annotations


class SpatialsvcError(Exception):
    """Base of every error spatialsvc raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(SpatialsvcError):
    """The settings or the environment are not usable."""

    status_code = 500


class DatabaseUnavailable(SpatialsvcError):
    """PostgreSQL cannot be reached or set up."""

    status_code = 503


class MigrationError(SpatialsvcError):
    """A schema migration is missing, altered or failed."""

    status_code = 500


class InvalidInput(SpatialsvcError):
    """The caller's input is wrong: a bad file, a bad name, a bad parameter."""

    status_code = 400


class NotFound(SpatialsvcError):
    """The thing asked for does not exist."""

    status_code = 404


class UnsupportedFormat(InvalidInput):
    """The file's format is not one we read."""


class EncodingError(InvalidInput):
    """Attribute text cannot be decoded with the encoding given or declared."""


class CRSError(InvalidInput):
    """The coordinate reference system is unknown or missing."""


class GeometryError(InvalidInput):
    """Geometries are invalid and the caller asked to reject them, or none are usable."""


class Unauthorized(SpatialsvcError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    status_code = 401


class Forbidden(SpatialsvcError):
    """The caller is known but may not do this."""

    status_code = 403


class Conflict(SpatialsvcError):
    """The thing is not in a state that allows this (already exists, already decided)."""

    status_code = 409
