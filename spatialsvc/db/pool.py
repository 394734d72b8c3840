"""A connection pool per database URL, shared by the web routes and the pygeoapi providers.

pygeoapi builds a provider object for every request; the pool outlives them. Pools are made
lazily, on first use, never at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.pool

from spatialsvc.db.cluster import database_url
from spatialsvc.errors import DatabaseUnavailable
from spatialsvc.settings import Settings

_POOLS: dict[str, psycopg2.pool.ThreadedConnectionPool] = {}
_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_LOCK = threading.Lock()
MAX_CONNECTIONS = 20
WAIT_SECONDS = 10.0
"""How long a request waits for a free connection before it is answered 503 (a burst of tile
requests, some cancelled by the browser but still running, can hold all of them briefly)."""


def _slots(url: str) -> threading.BoundedSemaphore:
    with _LOCK:
        slots = _SLOTS.get(url)
        if slots is None:
            slots = _SLOTS[url] = threading.BoundedSemaphore(MAX_CONNECTIONS)
        return slots


def _pool(url: str) -> psycopg2.pool.ThreadedConnectionPool:
    with _LOCK:
        pool = _POOLS.get(url)
        if pool is None:
            try:
                pool = psycopg2.pool.ThreadedConnectionPool(
                    1, MAX_CONNECTIONS, url, application_name="spatialsvc-web", connect_timeout=5
                )
            except psycopg2.OperationalError as exc:
                raise DatabaseUnavailable("the database is not reachable") from exc
            _POOLS[url] = pool
        return pool


@contextmanager
def connection(settings: Settings) -> Iterator[Any]:
    """A pooled connection in autocommit mode (read-only work); broken ones are discarded."""
    url = database_url(settings)
    pool = _pool(url)
    slots = _slots(url)
    # wait for a free connection (bounded) rather than fail at once when all are in use
    if not slots.acquire(timeout=WAIT_SECONDS):
        raise DatabaseUnavailable("every database connection is busy")
    try:
        try:
            conn = pool.getconn()
        except (psycopg2.OperationalError, psycopg2.pool.PoolError) as exc:
            raise DatabaseUnavailable("the database is not reachable") from exc
        broken = False
        try:
            if conn.closed:
                raise DatabaseUnavailable("the database connection was closed")
            conn.autocommit = True
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            broken = True
            raise DatabaseUnavailable("the database is not reachable") from exc
        finally:
            pool.putconn(conn, close=broken or bool(conn.closed))
            if broken:
                _discard_idle(pool)
    finally:
        slots.release()


def _discard_idle(pool: psycopg2.pool.ThreadedConnectionPool) -> None:
    """Close the pool's idle connections: when one was found broken (PostgreSQL restarted),
    the others opened before it are dead too, and each would fail one more request."""
    with pool._lock:  # type: ignore[attr-defined]
        idle = list(pool._pool)  # type: ignore[attr-defined]
        pool._pool.clear()  # type: ignore[attr-defined]
    for conn in idle:
        try:
            conn.close()
        except psycopg2.Error:
            pass


def close_all() -> None:
    """Close every pool (at shutdown and between tests)."""
    with _LOCK:
        for pool in _POOLS.values():
            pool.closeall()
        _POOLS.clear()
