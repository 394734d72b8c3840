"""Checking the audit chain: every row's hash, every link, no gap, and the anchor.

The walk reads ``audit.event`` in seq order through a server-side cursor, in batches, inside
one REPEATABLE READ READ ONLY transaction, so the rows and the anchor are one snapshot even
while the service keeps writing.  After a broken row the walk re-synchronises on that row's
stored hash, so one tampered row gives one problem rather than a cascade.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions

from spatialsvc.audit.event import GENESIS_HASH, Entry, Event, chain_hash
from spatialsvc.db.connect import database_failure
from spatialsvc.errors import SpatialsvcError

BATCH = 5000
MAX_PROBLEMS = 100

SELECT_ROWS = (
    "SELECT seq, at, actor_key_id, department, role, action, resource, endpoint, method, "
    "params, returned, status, duration_ms, client, prev_hash, hash FROM audit.event"
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One break in the chain: the seq where it shows and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}"


@dataclass(slots=True)
class VerifyReport:
    """What :func:`verify` found."""

    events: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    anchor_seq: int = 0
    anchor_hash: str = GENESIS_HASH
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def intact(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def first_broken(self) -> Problem | None:
        """The first problem in seq order, if any."""
        return min(self.problems, key=lambda p: p.seq) if self.problems else None

    def summary(self) -> str:
        """One line: 'N events, chain intact' or the first broken seq and why."""
        if self.intact:
            return f"{self.events} events, chain intact (head seq {self.last_seq})"
        first = self.first_broken
        more = f" ({len(self.problems)} problems in all)" if len(self.problems) > 1 else ""
        return f"{self.events} events, chain broken at {first}{more}"


def entry_from_row(row: tuple[Any, ...]) -> Entry:
    """An :class:`Entry` from a row of :data:`SELECT_ROWS`."""
    event = Event(
        at=row[1],
        actor_key_id=row[2],
        department=row[3],
        role=row[4],
        action=row[5],
        resource=row[6],
        endpoint=row[7],
        method=row[8],
        params=row[9],
        returned=row[10],
        status=row[11],
        duration_ms=row[12],
        client=row[13],
    )
    return Entry(seq=int(row[0]), event=event, prev_hash=row[14], hash=row[15])


def _span(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seq {first}..{last}"


def _check_row(entry: Entry, expected_seq: int, prev_hash: str) -> str | None:
    """Why this row breaks the chain, or None."""
    if entry.seq != expected_seq:
        return (
            f"{_span(expected_seq, entry.seq - 1)} missing (deleted)"
            if entry.seq > expected_seq
            else f"seq {entry.seq} out of order (expected {expected_seq})"
        )
    if entry.prev_hash != prev_hash:
        return "prev_hash does not match the previous row's hash (row deleted, inserted or moved)"
    if chain_hash(entry.seq, entry.event, entry.prev_hash) != entry.hash:
        return "hash does not match the row's contents (row edited or moved)"
    return None


def _check_anchor(report: VerifyReport) -> Problem | None:
    if report.last_seq < report.anchor_seq:
        return Problem(
            report.last_seq + 1,
            f"{_span(report.last_seq + 1, report.anchor_seq)} missing: the anchor says the log "
            f"reached seq {report.anchor_seq} (newest rows deleted)",
        )
    if report.last_seq > report.anchor_seq:
        return Problem(
            report.anchor_seq + 1,
            f"rows after the anchor (seq {report.anchor_seq}) were not written by the audit "
            "writer (forged rows appended)",
        )
    if report.last_hash != report.anchor_hash:
        return Problem(report.last_seq, "the last row's hash differs from the anchor's")
    return None


def _rows(conn: Any, batch: int) -> Iterator[tuple[Any, ...]]:
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = batch
        cur.execute(SELECT_ROWS + " ORDER BY seq")
        yield from cur


def _walk(conn: Any, report: VerifyReport, batch: int) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
            "SET LOCAL extra_float_digits = 3; SELECT seq, hash FROM audit.anchor WHERE id"
        )
        anchor = cur.fetchone()
    if anchor is None:
        report.problems.append(Problem(1, "the anchor row is missing"))
    else:
        report.anchor_seq, report.anchor_hash = int(anchor[0]), str(anchor[1])
    expected, prev = 1, GENESIS_HASH
    for row in _rows(conn, batch):
        entry = entry_from_row(row)
        report.events += 1
        reason = _check_row(entry, expected, prev)
        if reason and len(report.problems) < MAX_PROBLEMS:
            report.problems.append(Problem(min(entry.seq, expected), reason))
        expected, prev = entry.seq + 1, entry.hash
        report.last_seq, report.last_hash = entry.seq, entry.hash
    if anchor is not None:
        problem = _check_anchor(report)
        if problem:
            report.problems.append(problem)


def verify(conn: Any, batch: int = BATCH) -> VerifyReport:
    """Walk the whole chain and report every break found (up to MAX_PROBLEMS).

    The connection must be idle; it is left as it was found.  The walk is read-only.
    """
    if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        raise SpatialsvcError("audit verify() needs an idle connection")
    report = VerifyReport()
    started = time.perf_counter()
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        with conn:
            _walk(conn, report, batch)
    except psycopg2.Error as exc:
        raise database_failure(exc, "reading the audit log") from exc
    finally:
        if not conn.closed:
            conn.autocommit = autocommit
    report.seconds = time.perf_counter() - started
    return report


def contains(conn: Any, seq: int, hash_: str) -> bool:
    """True when the log holds row ``seq`` with exactly this hash (an external anchor check)."""
    with conn.cursor() as cur:
        cur.execute("SELECT hash FROM audit.event WHERE seq = %s", (seq,))
        found = cur.fetchone()
    if not conn.autocommit:
        conn.rollback()
    return found is not None and found[0] == hash_
