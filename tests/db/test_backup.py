"""``spatialsvc db backup`` / ``db restore``: a round trip of the session's demo database."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from spatialsvc.db.backup import table_checksums
from spatialsvc.db.migrate import discover
from tests.conftest import ROOT, drop_database, with_database

SPATIALSVC = str(ROOT / ".venv" / "bin" / "spatialsvc")
SCHEMAS = ("base", "registry", "meta", "auth")


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "SPATIALSVC_DATABASE_URL": url}
    return subprocess.run([SPATIALSVC, *args], env=env, capture_output=True, text=True)


def _fingerprint(url: str) -> dict[str, tuple[int, str]]:
    return table_checksums(url, SCHEMAS)


def _migrations(url: str) -> list[tuple[str, str]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, checksum FROM public.schema_migration ORDER BY version")
        rows = [(str(v), str(c)) for v, c in cur.fetchall()]
    conn.close()
    return rows


def _databases(url: str, like: str) -> list[str]:
    with psycopg2.connect(with_database(url, "postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))
        names = [str(r[0]) for r in cur.fetchall()]
    conn.close()
    return names


@pytest.fixture(scope="module")
def dump(db_url: str, demo: dict[str, int], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backup") / "haishu.dump"
    done = _cli(db_url, "db", "backup", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert (
        "backed up" in done.stdout and "dumped base.standard_address" in done.stdout
    )  # progress shown
    assert not out.with_name(out.name + ".partial").exists()
    return out


@pytest.fixture(scope="module")
def restored(db_url: str, dump: Path) -> Iterator[str]:
    name = f"spatialsvc_restore_{uuid.uuid4().hex[:8]}"
    done = _cli(db_url, "db", "restore", str(dump), "--database", name)
    assert done.returncode == 0, done.stderr
    url = with_database(db_url, name)
    yield url
    drop_database(url)


def test_round_trip_keeps_every_row(db_url: str, restored: str) -> None:
    before, after = _fingerprint(db_url), _fingerprint(restored)
    assert before == after
    assert {k.split(".")[0] for k in before} == set(SCHEMAS)
    assert before["base.standard_address"][0] > 1000 and before["registry.person"][0] > 1000


def test_restored_database_has_every_migration_applied(db_url: str, restored: str) -> None:
    assert _migrations(restored) == _migrations(db_url)
    assert [v for v, _ in _migrations(restored)] == [m.version for m in discover()]
    status = _cli(restored, "db", "status")
    assert status.returncode == 0 and "pending" not in status.stdout


def test_restore_refuses_a_non_empty_database_without_yes(restored: str, dump: Path) -> None:
    name = restored.rsplit("/", 1)[1]
    done = _cli(restored, "db", "restore", str(dump), "--database", name)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: database {name} is not empty: pass --yes to replace it with the backup"
    ]


def test_a_failed_restore_leaves_the_target_as_it_was(
    db_url: str, restored: str, dump: Path, tmp_path: Path
) -> None:
    name = restored.rsplit("/", 1)[1]
    before = _fingerprint(restored)
    broken = tmp_path / "broken.dump"
    data = dump.read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # the table of contents, half the data
    done = _cli(restored, "db", "restore", str(broken), "--database", name, "--yes")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: pg_restore failed"), lines
    assert "Traceback" not in done.stderr
    assert _fingerprint(restored) == before
    assert _databases(db_url, f"{name}_restore_%") == []  # the scratch database is gone


def test_restore_with_yes_replaces_the_database(db_url: str, restored: str, dump: Path) -> None:
    name = restored.rsplit("/", 1)[1]
    with psycopg2.connect(restored) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM registry.camera")
    conn.close()
    idle = psycopg2.connect(restored)  # a session left open in the target does not block it
    try:
        done = _cli(restored, "db", "restore", str(dump), "--database", name, "--yes")
    finally:
        idle.close()
    assert done.returncode == 0, done.stderr
    assert _fingerprint(restored) == _fingerprint(db_url)
    assert _databases(db_url, f"{name}_old_%") == []


def test_backup_errors_are_one_line(db_url: str, tmp_path: Path) -> None:
    done = _cli(db_url, "db", "backup", "--output", str(tmp_path / "no" / "such" / "x.dump"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[0].startswith("error: folder")
    not_a_dump = tmp_path / "x.dump"
    not_a_dump.write_text("hello")
    done = _cli(db_url, "db", "restore", str(not_a_dump), "--database", "spatialsvc_nothing")
    assert done.returncode == 1 and "is not a backup" in done.stderr
    assert _databases(db_url, "spatialsvc_nothing%") == []
