"""Migrations against a real PostGIS: in order, once, and tracked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest

from spatialsvc.db.migrate import MIGRATIONS_DIR, discover, migrate, status
from spatialsvc.errors import MigrationError
from tests.conftest import ROOT, create_database, drop_database

SPATIALSVC = str(ROOT / ".venv" / "bin" / "spatialsvc")


@pytest.fixture()
def empty_db(base_url: str):
    url = create_database(base_url, "spatialsvc_mig")
    yield url
    drop_database(url)


def _schema_snapshot(url: str) -> list[tuple[str, str, str]]:
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_schema IN ('base', 'registry', 'data', 'meta') ORDER BY 1, 2, 3"
        )
        rows = cur.fetchall()
    conn.close()
    return rows


def test_migrate_twice_changes_nothing(empty_db: str) -> None:
    conn = psycopg2.connect(empty_db)
    first = migrate(conn, echo=lambda _m: None)
    assert [m.version for m in first] == [m.version for m in discover()]
    snapshot = _schema_snapshot(empty_db)
    assert ("base", "standard_address", "full_address") in snapshot
    second = migrate(conn, echo=lambda _m: None)
    assert second == []
    assert _schema_snapshot(empty_db) == snapshot
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM public.schema_migration")
        assert cur.fetchone()[0] == len(discover())
        cur.execute("SELECT postgis_version()")
        assert cur.fetchone()[0].startswith("3.")
    conn.close()


def test_every_geometry_is_cgcs2000_with_a_gist_index(db_url: str) -> None:
    conn = psycopg2.connect(db_url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT f_table_schema, f_table_name, f_geometry_column, srid FROM geometry_columns "
            "WHERE f_table_schema IN ('base', 'registry')"
        )
        cols = cur.fetchall()
        assert len(cols) >= 9
        for schema, table, column, srid in cols:
            assert srid == 4490, (schema, table, column)
            cur.execute(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND tablename = %s "
                "AND indexdef ILIKE %s",
                (schema, table, f"%USING gist ({column})%"),
            )
            assert cur.fetchone()[0] == 1, f"no GiST index on {schema}.{table}.{column}"
    conn.close()


def test_status_lists_pending_then_applied(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = psycopg2.connect(empty_db)
    assert all(not done for _m, done in status(conn, folder))
    migrate(conn, folder, echo=lambda _m: None)
    (folder / "9999_extra.sql").write_text("CREATE TABLE meta.extra (id int);")
    rows = status(conn, folder)
    assert [done for _m, done in rows] == [True] * (len(rows) - 1) + [False]
    migrate(conn, folder, echo=lambda _m: None)
    assert all(done for _m, done in status(conn, folder))
    conn.close()


def test_an_applied_migration_that_changed_is_refused(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = psycopg2.connect(empty_db)
    migrate(conn, folder, echo=lambda _m: None)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(conn, folder, echo=lambda _m: None)
    conn.close()


def test_a_failing_migration_is_rolled_back_and_named(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_ok.sql").write_text("CREATE TABLE public.ok (id int);")
    (folder / "0002_bad.sql").write_text("CREATE TABLE public.half (id int); SELECT nosuchcol;")
    conn = psycopg2.connect(empty_db)
    with pytest.raises(MigrationError, match="0002_bad.sql"):
        migrate(conn, folder, echo=lambda _m: None)
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.ok'), to_regclass('public.half')")
        assert cur.fetchone() == ("ok", None)
    assert [done for _m, done in status(conn, folder)] == [True, False]
    conn.close()


def test_badly_named_migration_file(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_name.sql"):
        discover(tmp_path)


def test_cli_migrate_and_status(empty_db: str) -> None:
    env = {"DATABASE_URL": empty_db, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([SPATIALSVC, "db", "status"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.count("pending") == len(discover())
    out = subprocess.run([SPATIALSVC, "db", "migrate"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "applying 0001_" in out.stdout
    out = subprocess.run([SPATIALSVC, "db", "migrate"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "up to date" in out.stdout
    out = subprocess.run([SPATIALSVC, "db", "url"], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == empty_db
