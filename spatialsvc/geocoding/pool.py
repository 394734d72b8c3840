"""A pool of worker processes, each holding one :class:`addressing.geocode.Geocoder`.

The index of standard addresses is built once, in the parent, and shared by the forked
workers (see :class:`GeocodePool`).  Work is sent in chunks and answered in submission order, with
only a few chunks in flight so that memory stays flat however large the input.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from spatialsvc.errors import SpatialsvcError
from spatialsvc.settings import Settings

APPLICATION_NAME = "spatialsvc-geocode"
CACHE_SIZE = 200_000  # answers kept per worker for repeated texts

T = TypeVar("T")
R = TypeVar("R")


class Answer(NamedTuple):
    """The part of a GeocodeResult that batch files and registers keep."""

    address_id: str | None
    full_address: str | None
    match_level: str | None
    score: float
    lon: float | None
    lat: float | None
    county_code: str | None
    township_code: str | None
    community_code: str | None
    grid_code: str | None
    reasons: str  # "; "-joined penalties, or why geocoding failed


NO_TEXT = Answer(None, None, None, 0.0, None, None, None, None, None, None, "empty address")

# State of one worker process.
_geocoder: Any = None
_cache: dict[str, Answer] = {}


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies (kill -9 leaves no orphans)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers end when their queue closes
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def load_geocoder(settings: Settings) -> Any:
    """Build a Geocoder over the database in ``settings`` (one connection, closed after)."""
    from addressing.geocode import Geocoder
    from spatialsvc.db.connect import connect

    conn = connect(settings, APPLICATION_NAME)
    try:
        return Geocoder(conn)
    finally:
        conn.close()


WARM_UP = "浙江省宁波市海曙区段塘街道北丰街1号"  # loads the pipeline's lazy dictionaries


def init_worker() -> None:
    """Pool initializer: the Geocoder came with the fork; tie the worker to its parent."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def use_geocoder(geocoder: Any) -> None:
    """Use ``geocoder`` in this process, and in the workers forked after this call."""
    global _geocoder
    _geocoder = geocoder
    _cache.clear()


def answer(text: str) -> Answer:
    """Geocode one text in this worker, from the cache when it was seen before."""
    key = " ".join(text.split())
    if not key:
        return NO_TEXT
    hit = _cache.get(key)
    if hit is not None:
        return hit
    if _geocoder is None:
        raise SpatialsvcError("no geocoder in this process: use GeocodePool or use_geocoder")
    try:
        r = _geocoder.geocode(key)
    except Exception as exc:  # one bad text must not stop a run of millions
        found = NO_TEXT._replace(reasons=f"geocoder failed ({type(exc).__name__})")
    else:
        found = Answer(
            r.address_id,
            r.full_address,
            r.match_level,
            float(r.score),
            None if r.lon is None else float(r.lon),
            None if r.lat is None else float(r.lat),
            r.county_code,
            r.township_code,
            r.community_code,
            r.grid_code,
            "; ".join(r.reasons),
        )
    if len(_cache) >= CACHE_SIZE:
        _cache.clear()
    _cache[key] = found
    return found


def answer_texts(texts: list[str]) -> list[Answer]:
    """Task: geocode a chunk of texts."""
    return [answer(t) for t in texts]


def _coord(v: float | None) -> str:
    return "" if v is None else f"{v:.7f}"


def csv_fields(a: Answer) -> list[str]:
    """The batch output columns of one answer, as text (see batch.OUTPUT_COLUMNS)."""
    return [
        a.address_id or "",
        a.full_address or "",
        a.match_level or "",
        f"{a.score:.4g}",
        _coord(a.lon),
        _coord(a.lat),
        a.county_code or "",
        a.township_code or "",
        a.community_code or "",
        a.grid_code or "",
    ]


def csv_chunk(job: tuple[list[list[str]], int]) -> tuple[str, dict[str, int]]:
    """Task: geocode the ``column`` of each CSV row.

    Returns the output rows as CSV text and the count of rows by match level ("" = none).
    """
    rows, column = job
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    levels: dict[str, int] = {}
    for row in rows:
        a = answer(row[column])
        level = a.match_level or ""
        levels[level] = levels.get(level, 0) + 1
        writer.writerow(row + csv_fields(a))
    return out.getvalue(), levels


class GeocodePool:
    """``workers`` processes geocoding chunks; use as a context manager.

    The parent builds the Geocoder and warms it up once, then forks the workers, which share
    its memory copy-on-write (``gc.freeze`` keeps the collector from touching, and so copying,
    those pages): N workers cost one index build, not N, and start at once.
    """

    def __init__(self, settings: Settings, workers: int, in_flight: int | None = None) -> None:
        self.settings = settings
        self.workers = workers
        self.in_flight = in_flight or 2 * workers + 1
        self.ready_seconds = 0.0  # time to build and warm the geocoder
        self._pool: Any = None

    def __enter__(self) -> GeocodePool:
        import gc
        import time

        t0 = time.perf_counter()
        geocoder = load_geocoder(self.settings)
        geocoder.geocode(WARM_UP)
        use_geocoder(geocoder)
        self.ready_seconds = time.perf_counter() - t0
        gc.collect()
        gc.freeze()
        ctx = multiprocessing.get_context("fork")
        self._pool = ctx.Pool(self.workers, initializer=init_worker)
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        if exc[0] is None:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()
        gc.unfreeze()

    def map(self, func: Callable[[T], R], jobs: Iterable[T]) -> Iterator[R]:
        """``func`` over ``jobs`` in the workers, answered in order, a few jobs in flight."""
        pending: deque[Any] = deque()
        for job in jobs:
            pending.append(self._pool.apply_async(func, (job,)))
            if len(pending) >= self.in_flight:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
