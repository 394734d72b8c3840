"""Audit log throughput: flush (events/s in batches of 100, and one at a time), several writers
at once, and verify (events/s), in a scratch database made and dropped by the run.

Anchors measured in the same run: the same rows written by the same multi-row INSERT into a
plain copy of the table (same indexes, no chain, no lock, no trigger), and the same rows read
through the same server-side cursor without hashing.  The ratios are what the chain costs.

    python bench/audit.py [--events 20000] [--writers 4]
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
from psycopg2 import sql

from spatialsvc.audit import Event, flush, verify
from spatialsvc.audit.log import _COPY, prepare
from spatialsvc.audit.verify import SELECT_ROWS, entry_from_row
from spatialsvc.db.cluster import database_url
from spatialsvc.db.migrate import migrate
from spatialsvc.settings import get_settings

T0 = datetime(2026, 11, 22, 8, tzinfo=UTC)


def events(n: int, offset: int = 0) -> list[Event]:
    return [
        Event(
            action="data.read",
            endpoint="/collections/buildings/items",
            method="GET",
            status=200,
            role="consumer",
            at=T0 + timedelta(milliseconds=offset + i),
            actor_key_id="AbCd1234",
            department="gaj",
            resource="buildings",
            params={"limit": 100, "bbox": [121.5, 29.8, 121.55, 29.85], "f": "json"},
            returned=100,
            duration_ms=12.5 + i % 7,
            client="10.0.0.7",
        )
        for i in range(n)
    ]


def _admin(url: str, statement: sql.Composable) -> None:
    conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(statement)
    conn.close()


_PLAIN_SEQ = [0]


def plain_insert(conn: Any, batch: list[Event]) -> None:
    """The anchor: the same rows, cleaned and spelled the same way, by the same COPY, with no
    lock, no chain and no anchor update."""
    lines = []
    for e in batch:
        _PLAIN_SEQ[0] += 1
        _ser, columns = prepare(e)
        lines.append(f"{_PLAIN_SEQ[0]}\t{columns}\t{'0' * 64}\t{'0' * 64}\n")
    with conn, conn.cursor() as cur:
        cur.copy_expert(_COPY.replace("audit.event", "bench_plain"), io.StringIO("".join(lines)))


def timed_batches(conn: Any, n: int, size: int, write: Any) -> tuple[float, list[float]]:
    lat = []
    started = time.perf_counter()
    for b in range(n // size):
        batch = events(size, b * size)
        t = time.perf_counter()
        write(conn, batch)
        lat.append((time.perf_counter() - t) * 1000)
    return n / (time.perf_counter() - started), lat


def writers(url: str, k: int, per_writer: int) -> float:
    def work() -> None:
        conn = psycopg2.connect(url)
        for b in range(per_writer // 100):
            flush(conn, events(100, b * 100))
        conn.close()

    threads = [threading.Thread(target=work) for _ in range(k)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return k * per_writer / (time.perf_counter() - started)


def plain_read(conn: Any) -> float:
    started = time.perf_counter()
    n = 0
    with conn, conn.cursor(name="plain") as cur:
        cur.itersize = 5000
        cur.execute(SELECT_ROWS + " ORDER BY seq")
        for row in cur:
            entry_from_row(row)
            n += 1
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    base = database_url(get_settings())
    name = f"spatialsvc_bench_audit_{uuid.uuid4().hex[:8]}"
    _admin(base, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        conn = psycopg2.connect(url)
        migrate(conn, echo=lambda _m: None)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE bench_plain (LIKE audit.event INCLUDING ALL)")
        n = args.events
        plain, _ = timed_batches(conn, n, 100, plain_insert)
        rate, lat = timed_batches(conn, n, 100, flush)
        one, _ = timed_batches(conn, 2000, 1, flush)
        many = writers(url, args.writers, n // args.writers)
        total = n + 2000 + (n // args.writers // 100) * 100 * args.writers
        read = plain_read(conn)
        report = verify(conn)
        assert report.intact and report.events == total, report.summary()
        vrate = report.events / report.seconds
        p50, p99 = statistics.median(lat), statistics.quantiles(lat, n=100)[98]
        print(
            f"flush, batches of 100:   {rate:9,.0f} events/s  "
            f"(p50 {p50:.2f} ms, p99 {p99:.2f} ms per flush)"
        )
        print(f"  anchor, plain INSERT:  {plain:9,.0f} events/s  ratio {rate / plain:.2f}")
        print(f"flush, one at a time:    {one:9,.0f} events/s")
        print(f"{args.writers} writers at once, 100s: {many:9,.0f} events/s in all (one chain)")
        print(f"verify ({report.events:,} events):  {vrate:9,.0f} events/s")
        print(f"  anchor, read only:     {read:9,.0f} events/s  ratio {vrate / read:.2f}")
        conn.close()
    finally:
        _admin(
            base, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


if __name__ == "__main__":
    main()
