"""``spatialsvc db backup`` and ``db restore``: pg_dump / pg_restore in PostgreSQL's custom format.

A backup is written to ``FILE.partial`` and renamed when pg_dump succeeded, so a failed or killed
backup never leaves a file that looks complete.  A restore never touches the target until the
dump has been restored in full: it goes into a new database, and only then is that database
renamed over the target (the old one is dropped after the swap).  A failed restore drops the new
database and leaves the target as it was.

The client programs come from the same PostgreSQL installation as the cluster
(:func:`spatialsvc.db.cluster.find_pg_bin`), so that pg_dump is never older than the server.
Unlike initdb and pg_ctl they do not refuse to run as root, and they reach the server over TCP
with the URL's role: they run as the calling user, who then owns the backup file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from spatialsvc.db.cluster import database_url, find_pg_bin
from spatialsvc.errors import Conflict, DatabaseUnavailable, InvalidInput, SpatialsvcError
from spatialsvc.settings import Settings

Echo = Callable[[str], None]
MAINTENANCE_DB = "postgres"
# What pg_dump/pg_restore --verbose print per table: shown as progress.
_PROGRESS_MARKS = ("dumping contents of table", "processing data for table")


@dataclass(frozen=True)
class BackupReport:
    """What a backup or a restore did."""

    path: Path
    database: str
    tables: int  # tables whose data was dumped or restored
    bytes: int
    seconds: float


def with_database(url: str, name: str) -> str:
    """The same server URL, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def database_of(url: str) -> str:
    """The database name in a URL."""
    return urlsplit(url).path.lstrip("/")


def _program(settings: Settings, name: str) -> str:
    bindir = find_pg_bin(settings)
    if bindir is not None and (bindir / name).exists():
        return str(bindir / name)
    found = shutil.which(name)
    if found is None:
        raise DatabaseUnavailable(f"{name} is not installed: run `spatialsvc db up` first")
    return found


def _run(cmd: list[str], echo: Echo, what: str) -> int:
    """Run a pg_dump/pg_restore ``--verbose`` command, echoing a line per table; a one-line
    error from its last message when it fails.  Returns the number of tables seen."""
    tables = 0
    tail: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        line = line.strip()
        if not line:
            continue
        tail = [*tail[-4:], line]
        for mark in _PROGRESS_MARKS:
            if mark in line:
                tables += 1
                name = line.split(mark, 1)[1].strip().replace('"', "")
                echo(f"  {what} {name}")
    if proc.wait() != 0:
        errors = [t for t in tail if "error" in t.lower()] or tail or ["no output"]
        message = errors[-1].split("error:", 1)[-1].strip()
        raise SpatialsvcError(f"{Path(cmd[0]).name} failed: {message}")
    return tables


def backup(settings: Settings, output: Path, echo: Echo = print) -> BackupReport:
    """Dump the database in use to ``output`` (pg_dump custom format, compressed)."""
    t0 = time.perf_counter()
    url = database_url(settings)
    if output.is_dir():
        raise InvalidInput(f"{output} is a folder: give a file name")
    if not output.parent.is_dir():
        raise InvalidInput(f"folder {output.parent} does not exist")
    _check_reachable(url)
    partial = output.with_name(output.name + ".partial")
    name = database_of(url)
    echo(f"backing up database {name} to {output} ...")
    cmd = [_program(settings, "pg_dump"), "--format=custom", "--verbose"]
    cmd += ["--file", str(partial), "--dbname", url]
    try:
        tables = _run(cmd, echo, "dumped")
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    size = output.stat().st_size
    took = time.perf_counter() - t0
    echo(f"backed up {tables} tables of {name}: {size / 1e6:.1f} MB in {took:.1f} s")
    return BackupReport(output, name, tables, size, took)


def _check_reachable(url: str) -> None:
    try:
        psycopg2.connect(url, connect_timeout=10).close()
    except psycopg2.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL ({first})") from exc


@contextmanager
def _admin(url: str) -> Iterator[Any]:
    try:
        conn = psycopg2.connect(with_database(url, MAINTENANCE_DB), connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise DatabaseUnavailable("cannot connect to PostgreSQL's maintenance database") from exc
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def _exists(admin: Any, name: str) -> bool:
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


_USER_RELATIONS = """
SELECT count(*) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%'
  AND NOT EXISTS (  -- spatial_ref_sys and the like belong to an extension, not to the user
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
"""


def relation_count(url: str) -> int:
    """Tables, views and sequences of a database that no extension owns."""
    with psycopg2.connect(url, connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute(_USER_RELATIONS)
        row = cur.fetchone()
    conn.close()
    return int(row[0]) if row else 0


def _check_dump(settings: Settings, path: Path) -> None:
    if not path.is_file():
        raise InvalidInput(f"backup file {path} does not exist")
    done = subprocess.run(
        [_program(settings, "pg_restore"), "--list", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise InvalidInput(f"{path.name} is not a backup made by `spatialsvc db backup`")


def _swap(admin: Any, new: str, target: str) -> None:
    """Rename ``new`` to ``target``; the old ``target`` is renamed aside, then dropped."""
    old = f"{target[:40]}_old_{uuid.uuid4().hex[:8]}"
    ident = sql.Identifier
    with admin.cursor() as cur:
        if _exists(admin, target):
            cur.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident(target))
            )
            for _ in range(50):  # sessions still open in it: end them, then rename it aside
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (target,),
                )
                try:
                    cur.execute(
                        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident(target), ident(old))
                    )
                    break
                except psycopg2.errors.ObjectInUse:
                    time.sleep(0.1)
            else:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident(target))
                )
                raise Conflict(f"database {target} is in use and could not be replaced")
        cur.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident(new), ident(target)))
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident(old)))


def restore(
    settings: Settings,
    path: Path,
    database: str | None = None,
    replace: bool = False,
    echo: Echo = print,
) -> BackupReport:
    """Restore a backup into ``database`` (default: the database in use).

    A target that holds tables is only replaced when ``replace`` is given.  The dump is
    restored into a new database first; the target changes only when that succeeded.
    """
    t0 = time.perf_counter()
    url = database_url(settings)
    target = database or database_of(url)
    target_url = with_database(url, target)
    _check_dump(settings, path)
    with _admin(url) as admin:
        if _exists(admin, target) and relation_count(target_url) > 0 and not replace:
            raise Conflict(
                f"database {target} is not empty: pass --yes to replace it with the backup"
            )
        scratch = f"{target[:40]}_restore_{uuid.uuid4().hex[:8]}"
        with admin.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(scratch)
                )
            )
    echo(f"restoring {path.name} into a new database {scratch} ...")
    cmd = [_program(settings, "pg_restore"), "--verbose", "--exit-on-error"]
    cmd += ["--dbname", with_database(url, scratch), str(path)]
    try:
        tables = _run(cmd, echo, "restored")
        with _admin(url) as admin:
            echo(f"putting it in place of {target}")
            _swap(admin, scratch, target)
    except BaseException:
        with _admin(url) as admin, admin.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
        raise
    took = time.perf_counter() - t0
    echo(f"restored {tables} tables into {target} in {took:.1f} s")
    return BackupReport(path, target, tables, path.stat().st_size, took)


def table_checksums(url: str, schemas: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """Every table of ``schemas`` (``schema.table``): its row count and an order-independent
    checksum of its rows (the md5 of the sorted md5s of their text). What a backup's round trip
    must keep: compare the database with its restored copy."""
    out: dict[str, tuple[int, str]] = {}
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
                (list(schemas),),
            )
            for schema, table in cur.fetchall():
                cur.execute(
                    sql.SQL(
                        "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '')"
                        " FROM (SELECT md5(t::text) AS h FROM {} t) s"
                    ).format(sql.Identifier(schema, table))
                )
                row = cur.fetchone()
                assert row is not None
                out[f"{schema}.{table}"] = (int(row[0]), str(row[1]))
    finally:
        conn.close()
    return out
