"""Schema migrations: ``sql/postgis/NNNN_name.sql``, applied in order, each once.

Applied migrations are recorded with a checksum in ``public.schema_migration``; a migration
whose file changed after it was applied is an error, not something to re-run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialsvc.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "sql" / "postgis"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_202_611  # advisory lock: one migrator at a time


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        """The file's SQL."""
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        """SHA-256 of the file."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in a folder, in order; a badly named .sql file is an error."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(m.group(1), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


_TRACKING = """
CREATE TABLE IF NOT EXISTS public.schema_migration (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def applied(conn: Any) -> dict[str, str]:
    """Applied versions and their checksums."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.schema_migration') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT version, checksum FROM public.schema_migration")
        return dict(cur.fetchall())


def status(conn: Any, directory: Path = MIGRATIONS_DIR) -> list[tuple[Migration, bool]]:
    """Every migration with whether it has been applied."""
    done = applied(conn)
    return [(m, m.version in done) for m in discover(directory)]


def migrate(
    conn: Any, directory: Path = MIGRATIONS_DIR, echo: Callable[[str], None] = print
) -> list[Migration]:
    """Apply the pending migrations in order, each in its own transaction."""
    ran = []
    with conn:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            cur.execute(_TRACKING)
    try:
        done = applied(conn)
        for mig in discover(directory):
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    raise MigrationError(
                        f"migration {mig.path.name} changed after it was applied; "
                        "add a new migration instead"
                    )
                continue
            echo(f"applying {mig.path.name}")
            try:
                with conn:
                    with conn.cursor() as cur:
                        cur.execute(mig.sql)
                        cur.execute(
                            "INSERT INTO public.schema_migration (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (mig.version, mig.name, mig.checksum),
                        )
            except Exception as exc:  # psycopg2 errors: report the file, not the server text
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise MigrationError(f"migration {mig.path.name} failed: {first}") from exc
            ran.append(mig)
    finally:
        with conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return ran
