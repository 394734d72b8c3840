"""The batch geocoder's executor on a Dask distributed cluster (``--scheduler``).

It stands in for :class:`~spatialsvc.geocoding.pool.GeocodePool`: same context manager, same
``map`` answering in submission order with a few chunks in flight, same task functions.  The
batch's reading, writing and resume bookkeeping (:mod:`spatialsvc.geocoding.batch`) do not
change, so the output is byte for byte the one a local run writes.

Each Dask worker builds its own :class:`addressing.geocode.Geocoder` from the database in the
settings (the workers must reach that database) once, when the pool starts, and keeps it for
the worker's life.  ``local`` starts a :class:`distributed.LocalCluster` of ``workers``
single-threaded processes on this machine; ``tcp://HOST:PORT`` uses a running scheduler.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from spatialsvc.errors import InvalidInput, SpatialsvcError
from spatialsvc.geocoding import pool as local
from spatialsvc.settings import Settings

T = TypeVar("T")
R = TypeVar("R")
LOCAL = "local"
CONNECT_TIMEOUT = "20s"


def prepare_worker(settings: Settings) -> float:
    """On a Dask worker: build and warm this worker's geocoder unless it has one (seconds)."""
    if local._geocoder is not None:
        return 0.0
    t0 = time.perf_counter()
    geocoder = local.load_geocoder(settings)
    geocoder.geocode(local.WARM_UP)
    local.use_geocoder(geocoder)
    return time.perf_counter() - t0


def _run_task(func: Callable[[T], R], job: T, settings: Settings) -> R:
    prepare_worker(settings)  # a worker that joined after the start builds its geocoder here
    return func(job)


def check_scheduler(address: str) -> str:
    """``local`` or a ``tcp://HOST:PORT`` (or ``tls://``) address, else InvalidInput."""
    if address == LOCAL or address.startswith(("tcp://", "tls://")):
        return address
    raise InvalidInput(f"--scheduler takes 'local' or tcp://HOST:PORT, not {address!r}")


def _probe(address: str, timeout: float = 5.0) -> None:
    """Open (and close) a TCP connection to the scheduler; OSError if nothing answers."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.hostname is None or parts.port is None:
        raise InvalidInput(f"--scheduler {address!r} needs a host and a port")
    socket.create_connection((parts.hostname, parts.port), timeout=timeout).close()


class DaskPool:
    """Chunks geocoded on a Dask cluster; use as a context manager (see the module)."""

    def __init__(
        self, settings: Settings, scheduler: str, workers: int, in_flight: int | None = None
    ) -> None:
        self.settings = settings
        self.scheduler = check_scheduler(scheduler)
        self.workers = workers
        self.in_flight = in_flight
        self.ready_seconds = 0.0
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskPool:
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        try:
            if self.scheduler == LOCAL:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.CRITICAL,
                )
                self._client = Client(self._cluster)
            else:
                _probe(self.scheduler)  # fail in seconds, not after the client's retries
                self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            self.__exit__(None, None, None)
            raise SpatialsvcError(
                f"cannot reach the Dask scheduler at {self.scheduler} ({exc})"
            ) from exc
        n = len(self._client.scheduler_info().get("workers", {}))
        if n == 0:
            self.__exit__(None, None, None)
            raise SpatialsvcError(f"the Dask scheduler at {self.scheduler} has no workers")
        self.in_flight = self.in_flight or 2 * n + 1
        try:
            self._client.run(prepare_worker, self.settings)  # every worker builds its index
        except SpatialsvcError:
            self.__exit__(None, None, None)
            raise
        self.ready_seconds = time.perf_counter() - t0
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def map(self, func: Callable[[T], R], jobs: Iterable[T]) -> Iterator[R]:
        """``func`` over ``jobs`` on the cluster, answered in order, a few jobs in flight."""
        assert self._client is not None and self.in_flight is not None
        pending: deque[Any] = deque()
        for job in jobs:
            pending.append(self._client.submit(_run_task, func, job, self.settings, pure=False))
            if len(pending) >= self.in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
