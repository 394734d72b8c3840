"""Connections to the database in use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions

from spatialsvc.db.cluster import database_url
from spatialsvc.errors import DatabaseUnavailable, SpatialsvcError
from spatialsvc.settings import Settings


def connect(settings: Settings, application_name: str = "spatialsvc") -> Any:
    """Open a psycopg2 connection to the database in use, or raise DatabaseUnavailable."""
    url = database_url(settings)
    try:
        return psycopg2.connect(url, application_name=application_name, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL ({first}); run `spatialsvc db up` or set DATABASE_URL"
        ) from exc


@contextmanager
def transaction(settings: Settings, application_name: str = "spatialsvc") -> Iterator[Any]:
    """A connection whose work is committed on success and rolled back on any error."""
    conn = connect(settings, application_name)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def database_failure(exc: Exception, doing: str) -> SpatialsvcError:
    """A user-safe error for a failed database step: the SQLSTATE, never the server's text."""
    code = getattr(exc, "pgcode", None) or type(exc).__name__
    return SpatialsvcError(f"{doing} failed in the database ({code}); nothing changed")
