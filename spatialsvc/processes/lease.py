"""The worker lease: how other service processes tell that the process running a job is alive.

Each service process that starts a job holds a *lease* on the database: a connection of its own
(``application_name`` ``spatialsvc-jobs-lease``) holding the session advisory lock
``pg_advisory_lock(NAMESPACE, worker)``, where ``worker`` is a random positive int4 drawn when
the lease is taken (another is drawn if that lock is taken). The job manager writes the worker
into every job it starts (``meta.process_job.worker``). PostgreSQL releases a session's locks
when the session ends, so when the process dies (kill -9, out of memory, the machine rebooted)
its lock disappears from ``pg_locks`` and any other process can see that the jobs it was
running will never finish (:func:`spatialsvc.processes.manager.reap_orphaned_jobs`).

- The lease is taken lazily, before the first job of the process is inserted, and is per
  process (``os.getpid()``) and per database: a forked child takes its own; the connection it
  inherited from its parent is detached from the socket first (closing it would end the
  parent's session and so free the parent's lock). A fork waits until no thread is using a
  lease's connection (its lock), so the child never inherits it mid-query (its mutex held by a
  thread the child does not have: closing it would hang).
- A daemon thread checks the lease's connection every :data:`CHECK_SECONDS`. When it is broken
  (PostgreSQL restarted, the session terminated) it reconnects and takes the *same* lock again,
  so the jobs already recorded keep pointing at a live lease; it logs one warning per outage and
  never raises. Jobs are not reaped in the first seconds after PostgreSQL starts
  (``manager.REAP_GRACE_SECONDS``), which leaves the live processes time to take their lease
  again.
- The lease needs a real PostgreSQL session: behind PgBouncer in transaction mode, point it at
  PostgreSQL itself (or a session-mode pool), as the migrations are.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from typing import Any

import psycopg2

from spatialsvc.db.cluster import database_url
from spatialsvc.errors import DatabaseUnavailable
from spatialsvc.settings import Settings

LOG = logging.getLogger(__name__)

NAMESPACE = 7_202_612
"""First key of every job lease's advisory lock (``pg_locks.classid``): spatialsvc job leases.
The second key (``objid``) is the worker id. The migrations' lock (7_202_611) is a one-key lock
(``objsubid`` 1), so the two never meet."""

APPLICATION_NAME = "spatialsvc-jobs-lease"
CHECK_SECONDS = 1.0
"""How often the lease's connection is checked (and re-established when broken)."""
TRIES = 16
"""Worker ids drawn before giving up (one is taken by another process once in 2**31 / N)."""

_KEEPALIVE: dict[str, Any] = {
    # the client notices a dead server or network within ~10 s instead of hanging the check
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
    # and the server frees the lock of a machine that vanished (power cut) within ~30 s
    # instead of the system's default two hours (both are ignored on a Unix socket); this
    # replaces any ``options`` of DATABASE_URL, which the lease's one query does not need
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=4",
}


def _new_worker() -> int:
    return 1 + secrets.randbelow(2**31 - 1)


def _lock_connection(url: str, preferred: int | None) -> tuple[Any, int]:
    """A new connection holding a job lease's lock: ``preferred`` if free, else a random id."""
    try:
        conn = psycopg2.connect(
            url, application_name=APPLICATION_NAME, connect_timeout=5, **_KEEPALIVE
        )
    except psycopg2.OperationalError as exc:
        raise DatabaseUnavailable("the database is not reachable") from exc
    try:
        conn.autocommit = True  # never idle in a transaction: the lock is a session lock
        with conn.cursor() as cur:
            for attempt in range(TRIES):
                worker = preferred if attempt == 0 and preferred is not None else _new_worker()
                cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (NAMESPACE, worker))
                row = cur.fetchone()
                if row is not None and row[0]:
                    return conn, worker
    except psycopg2.Error as exc:
        conn.close()
        raise DatabaseUnavailable("the database is not reachable") from exc
    conn.close()
    raise DatabaseUnavailable("no free worker id for the job lease")


class WorkerLease:
    """One process's lease on one database: a connection holding the worker's advisory lock."""

    def __init__(self, url: str, conn: Any, worker: int) -> None:
        self.url = url
        self.pid = os.getpid()
        self.worker = worker
        self._conn: Any | None = conn
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage = False

    @classmethod
    def take(cls, url: str) -> WorkerLease:
        """Connect and lock a free worker id (DatabaseUnavailable when PostgreSQL is down)."""
        conn, worker = _lock_connection(url, None)
        return cls(url, conn, worker)

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend holding the lock now (None while it is being re-taken)."""
        conn = self._conn
        if conn is None or conn.closed:
            return None
        return int(conn.info.backend_pid)

    def watch(self) -> None:
        """Start the daemon thread that keeps the lease (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._watch, name=f"spatialsvc-job-lease-{self.worker}", daemon=True
            )
            self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            try:
                self.check()
            except Exception:  # never let the thread die: the next round tries again
                LOG.exception("the job lease check failed")

    def check(self) -> bool:
        """Make sure the lock is held, reconnecting when the connection broke; True if held."""
        with self._lock:
            if self._stop.is_set():
                return False
            conn = self._conn
            if conn is not None and not conn.closed:
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                    return True
                except psycopg2.Error:
                    pass
            self._discard()
            try:
                self._conn, worker = _lock_connection(self.url, self.worker)
            except DatabaseUnavailable as exc:
                if not self._outage:
                    self._outage = True
                    LOG.warning(
                        "job lease of worker %s lost (%s); retrying every %.0f s",
                        self.worker,
                        exc.message,
                        CHECK_SECONDS,
                    )
                return False
            if worker != self.worker:  # another process drew our id while we were away
                LOG.warning(
                    "job lease: worker id %s was taken by another process; this process is "
                    "now worker %s, and its jobs started before will be marked interrupted",
                    self.worker,
                    worker,
                )
                self.worker = worker
            if self._outage:
                LOG.warning("job lease of worker %s taken again", self.worker)
            self._outage = False
            return True

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg2.Error:
                pass

    def close(self) -> None:
        """Release the lease: stop the thread and end the session (the lock goes with it)."""
        self._stop.set()
        with self._lock:
            self._discard()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=CHECK_SECONDS * 5)

    def detach(self) -> None:
        """In a forked child: drop the inherited connection without touching the parent's
        session (its socket is replaced by /dev/null first, so closing it sends nothing)."""
        conn, self._conn = self._conn, None
        self._stop = threading.Event()  # the parent's may be in use by its thread
        self._stop.set()
        self._thread = None
        if conn is None or conn.closed:
            return
        try:
            null = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(null, conn.fileno())
            finally:
                os.close(null)
            conn.close()
        except (OSError, psycopg2.Error):
            pass


_LEASES: dict[str, WorkerLease] = {}
_REGISTRY = threading.Lock()


def worker_id(settings: Settings) -> int:
    """This process's worker id on the settings' database, with its lock held now: the lease
    is taken on first use, and checked (re-taken if its session ended) on every later one."""
    url = database_url(settings)
    pid = os.getpid()
    with _REGISTRY:
        lease = _LEASES.get(url)
        if lease is not None and lease.pid != pid:  # inherited through fork
            lease.detach()
            lease = None
        if lease is None:
            lease = WorkerLease.take(url)
            lease.watch()
            _LEASES[url] = lease
        elif not lease.check():
            raise DatabaseUnavailable("the database is not reachable")
        return lease.worker


def current(settings: Settings) -> WorkerLease | None:
    """This process's lease on the settings' database, if it took one."""
    lease = _LEASES.get(database_url(settings))
    return lease if lease is not None and lease.pid == os.getpid() else None


# Forking while the lease's thread is inside a query would leave the child a connection whose
# libpq/psycopg2 mutex is held by a thread that does not exist there: closing it would hang
# the child for ever. So a fork waits until no lease is in use (each lease's lock, which every
# use of its connection holds), and the child, holding the connection idle, detaches it.
_HELD: list[WorkerLease] = []


def _before_fork() -> None:
    _REGISTRY.acquire()
    _HELD[:] = list(_LEASES.values())
    for lease in _HELD:
        lease._lock.acquire()


def _after_fork_in_parent() -> None:
    for lease in reversed(_HELD):
        lease._lock.release()
    _HELD.clear()
    _REGISTRY.release()


def _after_fork_in_child() -> None:
    global _REGISTRY
    _REGISTRY = threading.Lock()  # the parent's is held across the fork
    for lease in _HELD:
        lease._lock = threading.Lock()
        lease.detach()
    _HELD.clear()
    _LEASES.clear()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
