"""Writing: many flushes give one intact chain, odd values survive the round trip, the table
refuses changes, and two processes writing at once still give one chain."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg2
import pytest

from spatialsvc.audit import append, flush, record, verify
from spatialsvc.audit.query import query
from spatialsvc.errors import SpatialsvcError
from tests.audit.conftest import make_event

ROOT = Path(__file__).resolve().parents[2]


def test_many_flushes_one_intact_chain(aconn) -> None:  # type: ignore[no-untyped-def]
    n = 0
    for batch in range(30):
        events = [make_event(n + i) for i in range(batch % 7 + 1)]
        head = flush(aconn, events)
        n += len(events)
        assert head is not None and head[0] == n
    record(aconn, make_event(999))
    report = verify(aconn, batch=16)
    assert report.intact, report.problems
    assert report.events == n + 1 == report.last_seq == report.anchor_seq
    assert report.summary().startswith(f"{n + 1} events, chain intact")


def test_flush_leaves_the_connection_as_found(aconn) -> None:  # type: ignore[no-untyped-def]
    aconn.autocommit = True
    assert flush(aconn, []) is None
    flush(aconn, [make_event(1)])
    assert aconn.autocommit is True
    aconn.autocommit = False
    with aconn.cursor() as cur:
        cur.execute("SELECT 1")
    with pytest.raises(SpatialsvcError):
        flush(aconn, [make_event(2)])  # inside a transaction: use append()
    aconn.rollback()


def test_odd_values_round_trip(aconn) -> None:  # type: ignore[no-untyped-def]
    odd = {
        "floats": [0.1, 0.30000000000000004, 1e-7, 1e20, 1.5e-300, -0.0, 2.5, 1e300],
        "ints": [0, -1, 2**63, 10**30],
        "text": "海曙区\x00'\";--\\ \u2028 😀",
        "nested": {"z": {"y": [None, True, False]}, "": "empty key"},
        "nan": float("nan"),
    }
    flush(
        aconn,
        [
            make_event(1, params=odd, duration_ms=123456.789),
            make_event(2, duration_ms=None, returned=None, client=None, department=None),
            make_event(3, duration_ms=1e-9, endpoint="/\udcff", status=-5),
            make_event(4, endpoint="/a\tb\nc\rd\\N\\", client="\\.", method="\\N"),
            make_event(5, duration_ms=3.0e38, returned=-(2**40), resource="", department="\t"),
        ],
    )
    report = verify(aconn)
    assert report.intact, report.problems
    first, *_, fourth, fifth = query(aconn)
    assert first.event.params["text"] == "海曙区\ufffd'\";--\\ \u2028 😀"
    assert fourth.event.endpoint == "/a\tb\nc\rd\\N\\" and fourth.event.method == "\\N"
    assert fifth.event.resource == "" and fifth.event.department == "\t"


def test_append_rolls_back_with_the_callers_transaction(aconn) -> None:  # type: ignore[no-untyped-def]
    flush(aconn, [make_event(1)])
    append(aconn, [make_event(2), make_event(3)])
    aconn.rollback()  # the administrative act failed: its audit rows go with it
    flush(aconn, [make_event(4)])
    with aconn:
        append(aconn, [make_event(5)])
    report = verify(aconn)
    assert report.intact and report.events == 3 and report.last_seq == 3


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit.event SET status = 200 WHERE seq = 1",
        "DELETE FROM audit.event WHERE seq = 1",
        "TRUNCATE audit.event",
        "UPDATE audit.anchor SET seq = 0",
        "DELETE FROM audit.anchor",
        "TRUNCATE audit.anchor",
    ],
)
def test_the_tables_refuse_changes(aconn, statement: str) -> None:  # type: ignore[no-untyped-def]
    flush(aconn, [make_event(1), make_event(2)])
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only|forward"):
        with aconn, aconn.cursor() as cur:
            cur.execute(statement)
    assert verify(aconn).intact


WRITER = textwrap.dedent(
    """
    import sys, time, psycopg2
    sys.path.insert(0, {root!r})
    from spatialsvc.audit import Event, flush
    url, tag, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    conn = psycopg2.connect(url)
    while time.time() < start:
        time.sleep(0.001)
    for b in range(40):
        flush(conn, [
            Event(action="data.read", endpoint="/collections/x/items", method="GET",
                  status=200, params={{"b": b, "i": i}}, returned=i, duration_ms=0.1 * i,
                  client=tag)
            for i in range(25)
        ])
    conn.close()
    """
)


def test_two_processes_writing_at_once_give_one_chain(audit_db: str, aconn) -> None:  # type: ignore[no-untyped-def]
    code = WRITER.format(root=str(ROOT))
    start = time.time() + 1.5
    procs = [
        subprocess.Popen([sys.executable, "-c", code, audit_db, tag, str(start)], cwd=ROOT)
        for tag in ("writer-a", "writer-b")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    report = verify(aconn)
    assert report.intact, report.problems
    assert report.events == 2 * 40 * 25 == report.last_seq
    clients = [e.event.client for e in query(aconn)]
    # interleaved, not one writer after the other
    switches = sum(1 for a, b in zip(clients, clients[1:], strict=False) if a != b)
    assert clients.count("writer-a") == clients.count("writer-b") == 1000
    assert switches > 2


def test_a_writer_holding_the_lock_too_long_makes_flush_fail_not_hang(  # type: ignore[no-untyped-def]
    audit_db: str, aconn, monkeypatch
) -> None:
    import spatialsvc.audit.log as log

    monkeypatch.setattr(log, "_HEAD", log._HEAD.replace(log.LOCK_TIMEOUT, "200ms"))
    holder = psycopg2.connect(audit_db)
    try:
        append(holder, [make_event(1)])  # an administrative transaction left open
        started = time.perf_counter()
        with pytest.raises(SpatialsvcError, match="55P03"):
            flush(aconn, [make_event(2)])
        assert time.perf_counter() - started < 5
        holder.commit()
    finally:
        holder.close()
    flush(aconn, [make_event(2)])  # the caller retried its batch
    report = verify(aconn)
    assert report.intact and report.events == 2
