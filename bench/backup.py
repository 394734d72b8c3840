"""Backup and restore of the database in use: time, size, and a checked round trip.

``spatialsvc db backup`` (pg_dump, custom format) of the database in use into a temporary file,
then ``spatialsvc db restore`` of it into a scratch database (dropped at the end), then every
table of the base, registry, meta, auth, audit and thematic schemas compared on both sides:
row count and an order-independent checksum of its rows. The anchor measured in the same run
is the checksum pass itself (reading every row once, in SQL): restore / read-everything says
what a restore costs against merely reading the data.

    python bench/backup.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

from spatialsvc.db.backup import backup, restore, table_checksums, with_database
from spatialsvc.db.cluster import database_url
from spatialsvc.settings import get_settings

SCHEMAS = ("base", "registry", "meta", "auth", "audit", "thematic")
SCRATCH = "spatialsvc_bench_backup"


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every table of SCHEMAS."""
    return table_checksums(url, SCHEMAS)


def _drop(url: str) -> None:
    conn = psycopg2.connect(with_database(url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH))
            )
    finally:
        conn.close()


def main() -> None:
    settings = get_settings()
    url = database_url(settings)
    folder = Path(tempfile.mkdtemp(prefix="spatialsvc-bench-backup-"))
    scratch = with_database(url, SCRATCH)
    _drop(url)
    try:
        started = time.perf_counter()
        made = backup(settings, folder / "bench.dump", echo=lambda _m: None)
        backup_s = time.perf_counter() - started
        started = time.perf_counter()
        restore(settings, made.path, database=SCRATCH, echo=lambda _m: None)
        restore_s = time.perf_counter() - started
        started = time.perf_counter()
        before = fingerprint(url)
        read_s = time.perf_counter() - started
        after = fingerprint(scratch)
    finally:
        _drop(url)
        shutil.rmtree(folder, ignore_errors=True)
    rows = sum(n for n, _d in before.values())
    differ = sorted(t for t in before if before[t] != after.get(t))
    print(f"database {made.database}: {len(before)} tables, {rows:,} rows")
    print(f"backup:  {backup_s:6.1f} s, {made.bytes / 2**20:,.1f} MB ({made.tables} tables dumped)")
    print(f"restore: {restore_s:6.1f} s into a new database, then swapped in")
    print(f"anchor, reading and checksumming every row: {read_s:.1f} s")
    print(f"restore / read-everything: {restore_s / read_s:.1f}x")
    if differ:
        print(f"round trip: {len(differ)} table(s) DIFFER: {', '.join(differ[:10])}")
        raise SystemExit(1)
    print(f"round trip: all {len(before)} tables equal (row count and checksum)")


if __name__ == "__main__":
    main()
