"""The web layer's audit buffer: events kept in memory, written by one background thread.

:meth:`AuditBuffer.put` is cheap (a lock and a deque append); a thread calls
:func:`spatialsvc.audit.flush` every ``interval`` seconds or as soon as ``batch`` events are
waiting, and once more at :meth:`AuditBuffer.stop`. A failed flush keeps its batch and retries
(reconnecting if needed). Nothing is dropped silently: when ``capacity`` events are waiting,
:meth:`AuditBuffer.put_blocking` logs a warning and waits for room; if there is still none after
``block_seconds``, the event is appended to ``spill_file`` (JSON lines) with an error logged,
as are the events still waiting when the buffer stops and the database cannot take them. Once
a write goes through again, the spilled events are put back into the log
(:func:`spatialsvc.audit.spill.replay`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spatialsvc.audit import Event, flush, spill
from spatialsvc.errors import InvalidInput

LOG = logging.getLogger("spatialsvc.audit")


class AuditBuffer:
    """Events waiting to be written, and the thread that writes them."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        interval: float = 0.5,
        batch: int = 500,
        capacity: int = 100_000,
        block_seconds: float = 2.0,
        spill_file: Path | None = None,
    ) -> None:
        self._connect = connect
        self.interval = interval
        self.batch = batch
        self.capacity = capacity
        self.block_seconds = block_seconds
        self.spill_file = spill_file
        self._events: deque[Event] = deque()
        self._cond = threading.Condition()
        self._inflight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self.written = 0
        self.spilled = 0
        self.replayed = 0
        self._replay = True

    # -- producers -----------------------------------------------------------------------

    def put(self, event: Event) -> bool:
        """Queue an event; False (nothing queued) when the buffer is full."""
        with self._cond:
            if len(self._events) >= self.capacity:
                return False
            self._events.append(event)
            if len(self._events) >= self.batch:
                self._cond.notify_all()
        self._ensure_thread()
        return True

    def put_blocking(self, event: Event) -> None:
        """Queue an event, waiting for room (call it off the event loop); spill if none."""
        if self.put(event):
            return
        LOG.warning("audit buffer full (%d events): waiting for the writer", self.capacity)
        deadline = time.monotonic() + self.block_seconds
        with self._cond:
            self._cond.notify_all()
            while len(self._events) >= self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            else:
                self._events.append(event)
                return
        self._spill(event)

    def _spill(self, event: Event) -> None:
        if self.spill_file is None:
            LOG.error("audit buffer full, event not stored: %s", spill.spill_line(event))
            return
        spill.append(self.spill_file, event)
        self.spilled += 1
        LOG.error("audit buffer full: event spilled to %s", self.spill_file)

    def _replay_spilled(self) -> None:
        """After a write went through: put events spilled earlier back into the log."""
        if self.spill_file is None or not self._replay or not spill.pending(self.spill_file):
            return
        try:
            self.replayed += spill.replay(self._conn, self.spill_file)
        except InvalidInput as exc:  # a damaged file: leave it to `spatialsvc audit replay`
            LOG.error("cannot replay %s: %s", self.spill_file, exc.message)
            self._replay = False
        except Exception:
            LOG.warning("replaying %s failed; will retry", self.spill_file, exc_info=True)

    # -- the writer ----------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None or self._stopping:
            return
        with self._cond:
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def _take(self) -> list[Event]:
        n = min(len(self._events), self.batch)
        taken = [self._events.popleft() for _ in range(n)]
        self._inflight = n
        return taken

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                if not self._events and not self._stopping:
                    self._cond.wait(self.interval)
                if not self._events:
                    if self._stopping:
                        return
                    continue
                batch = self._take()
            if self._write(batch):
                failures = 0
                self._replay_spilled()
                with self._cond:
                    self._inflight = 0
                    self._cond.notify_all()
                continue
            failures += 1
            with self._cond:  # keep the batch, in order, for the next try
                self._events.extendleft(reversed(batch))
                self._inflight = 0
                if self._stopping and failures >= 3:
                    LOG.error("audit writer stopping with %d events unwritten", len(self._events))
                    for event in self._events:
                        self._spill(event)
                    self._events.clear()
                    return
            time.sleep(min(5.0, 0.2 * 2**failures))

    def _write(self, batch: list[Event]) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            flush(self._conn, batch)
        except Exception:
            LOG.exception("writing %d audit events failed; will retry", len(batch))
            if self._conn is not None and not self._conn.closed:
                try:
                    self._conn.close()
                except Exception:  # pragma: no cover - closing a broken connection
                    pass
            self._conn = None
            return False
        self.written += len(batch)
        return True

    # -- control -------------------------------------------------------------------------

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is written; True if it happened within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._events or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
                self._cond.notify_all()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is left and end the thread (at shutdown)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None and self._events:
            self._thread = thread = threading.Thread(target=self._run, name="audit-writer")
            thread.start()
        if thread is not None:
            thread.join(timeout)
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
