"""Writing the audit log: events appended to ``audit.event`` with their hash chain.

Every append locks the single row of ``audit.anchor`` (``SELECT ... FOR UPDATE``), chains the
new rows from the anchor's (seq, hash), inserts them in one statement and advances the anchor,
all in one transaction.  Writers in any number of processes therefore queue on that row lock
and produce one gapless chain.  (The row lock does what a transaction-level advisory lock
would, and in READ COMMITTED it also re-reads the anchor after waiting, so the head a writer
chains from is always the committed one.)

Per flush, whatever the batch size: the lock, one COPY, the anchor's update and the commit.
Each event is cleaned and serialised before the lock; under it only its SHA-256 is computed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import psycopg2
import psycopg2.extensions

from spatialsvc.audit.event import Event, Serialised, hash_serialised, serialise, storable
from spatialsvc.db.connect import database_failure
from spatialsvc.errors import SpatialsvcError

LOCK_TIMEOUT = "5s"
"""How long flush() waits for the anchor's lock before failing (the caller keeps the batch);
spelled out in _HEAD."""

_HEAD = (
    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; "
    "SET LOCAL lock_timeout = '5s'; "
    "SELECT seq, hash FROM audit.anchor WHERE id FOR UPDATE"
)
_HEAD_IN_TRANSACTION = "SELECT seq, hash FROM audit.anchor WHERE id FOR UPDATE"
_COPY = (
    "COPY audit.event (seq, at, actor_key_id, department, role, action, resource, endpoint, "
    "method, params, returned, status, duration_ms, client, prev_hash, hash) FROM STDIN"
)
_ADVANCE = "UPDATE audit.anchor SET seq = %s, hash = %s, updated = now() WHERE id"
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str | int | None) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, int):
        return str(value)
    if "\\" in value or not value.isprintable():  # tabs, newlines, backslashes to escape
        return value.translate(_ESCAPE)
    return value


def prepare(event: Event) -> tuple[Serialised, str]:
    """What can be done for one event before the lock: clean it, serialise it for the hash,
    and spell the columns from ``at`` to ``client`` as a COPY line's middle."""
    e = storable(event)
    ser = serialise(e)
    columns = (
        ser.at,
        e.actor_key_id,
        e.department,
        e.role,
        e.action,
        e.resource,
        e.endpoint,
        e.method,
        ser.params,
        e.returned,
        e.status,
        ser.duration,
        e.client,
    )
    return ser, "\t".join(map(_text, columns))


def _append(conn: Any, events: Sequence[Event], head_sql: str) -> tuple[int, str]:
    prepared = [prepare(e) for e in events]
    with conn.cursor() as cur:
        cur.execute(head_sql)  # waits for the anchor's row lock
        found = cur.fetchone()
        if found is None:
            raise SpatialsvcError("the audit anchor row is missing: the audit log is damaged")
        seq, prev = int(found[0]), str(found[1])
        lines = []
        for ser, columns in prepared:
            seq += 1
            hash_ = hash_serialised(ser, seq, prev)
            lines.append(f"{seq}\t{columns}\t{prev}\t{hash_}\n")
            prev = hash_
        cur.copy_expert(_COPY, io.StringIO("".join(lines)))
        cur.execute(_ADVANCE, (seq, prev))
    return seq, prev


def append(conn: Any, events: Sequence[Event]) -> tuple[int, str] | None:
    """Append events inside the caller's open transaction; it commits or rolls back.

    For an administrative act whose audit row must commit with the act itself.  The anchor row
    stays locked until the caller's transaction ends, so keep that transaction short; the
    connection must be in READ COMMITTED (the default).  Returns the new head (seq, hash),
    or None when there was nothing to write.
    """
    if not events:
        return None
    if conn.autocommit:
        raise SpatialsvcError("audit append() needs a transaction; use flush() in autocommit")
    try:
        return _append(conn, events, _HEAD_IN_TRANSACTION)
    except psycopg2.Error as exc:
        raise database_failure(exc, "writing the audit log") from exc


def flush(conn: Any, events: Sequence[Event]) -> tuple[int, str] | None:
    """Write a batch of events in one transaction of their own and commit it.

    The connection must be idle (outside any transaction); it is left as it was found
    (autocommit or not).  On any failure nothing is written, the error is a SpatialsvcError
    (the database error is its ``__cause__``) and the caller still holds the events to retry.
    Returns the new head (seq, hash), or None for an empty batch.
    """
    if not events:
        return None
    if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        raise SpatialsvcError("audit flush() needs an idle connection; use append() inside one")
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        with conn:
            return _append(conn, events, _HEAD)
    except psycopg2.Error as exc:
        raise database_failure(exc, "writing the audit log") from exc
    finally:
        if not conn.closed:
            conn.autocommit = autocommit


def record(conn: Any, event: Event) -> tuple[int, str]:
    """Write one event now, in a transaction of its own (see :func:`flush`)."""
    head = flush(conn, [event])
    assert head is not None
    return head
