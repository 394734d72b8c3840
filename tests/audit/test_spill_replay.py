"""The spill file: events the database could not take go back into the chain, none lost.

Against the audit tests' own database (emptied per test): the events written by a replay are
read back from ``audit.event`` and compared field by field with what was spilled, and the
chain verifies.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from click.testing import CliRunner

from spatialsvc.audit import spill
from spatialsvc.audit.event import Event
from spatialsvc.audit.verify import verify
from spatialsvc.cli import main
from spatialsvc.errors import InvalidInput
from spatialsvc.settings import Settings
from spatialsvc.web.audit_buffer import AuditBuffer
from tests.audit.conftest import make_event


def _stored(conn: Any) -> list[tuple[Any, ...]]:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT endpoint, status, at, params->>'q' FROM audit.event ORDER BY seq")
        return cur.fetchall()


def _spilled(path: Path, events: list[Event]) -> None:
    for event in events:
        spill.append(path, event)


def test_replay_writes_every_event_oldest_first_and_removes_the_file(aconn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "audit-spill.jsonl"
    events = [make_event(i) for i in range(6)]
    _spilled(path, list(reversed(events)))  # written out of order: replay sorts by time
    assert spill.pending(path)
    assert spill.replay(aconn, path) == 6
    assert not path.exists() and not spill.pending(path)
    stored = _stored(aconn)
    assert [(e.endpoint, e.status, e.at, e.params["q"]) for e in events] == stored
    report = verify(aconn)
    assert report.intact and report.events == 6
    assert spill.replay(aconn, path) == 0  # nothing left: nothing written twice
    assert len(_stored(aconn)) == 6


def test_a_line_cut_short_is_skipped_a_damaged_one_refused(aconn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "audit-spill.jsonl"
    _spilled(path, [make_event(i) for i in range(3)])
    whole = path.read_text(encoding="utf-8")
    path.write_text(whole + spill.spill_line(make_event(3))[:40], encoding="utf-8")  # killed
    assert spill.replay(aconn, path) == 3
    assert len(_stored(aconn)) == 3

    damaged = tmp_path / "damaged.jsonl"
    lines = whole.splitlines()
    damaged.write_text("\n".join([lines[0], '{"action": "x"', lines[1]]) + "\n", "utf-8")
    before = damaged.read_text(encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 2"):
        spill.replay(aconn, damaged)
    assert damaged.read_text(encoding="utf-8") == before  # given back as it was
    assert len(_stored(aconn)) == 3  # and nothing of it written


def test_a_failed_write_gives_the_events_back(audit_db: str, tmp_path: Path) -> None:
    path = tmp_path / "audit-spill.jsonl"
    _spilled(path, [make_event(i) for i in range(4)])
    conn = psycopg2.connect(audit_db)
    conn.close()  # the database "went away" between the claim and the write
    with pytest.raises(Exception):  # noqa: B017 - whatever psycopg2 raises for a closed conn
        spill.replay(conn, path)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 4
    assert not list(tmp_path.glob("*.replaying-*"))


def test_a_file_claimed_by_a_dead_process_is_adopted(aconn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    path = tmp_path / "audit-spill.jsonl"
    orphan = tmp_path / f"audit-spill.jsonl.replaying-{dead.stdout.strip()}"
    _spilled(orphan, [make_event(i) for i in range(2)])
    _spilled(path, [make_event(i) for i in range(2, 5)])
    assert spill.pending(path)
    assert spill.replay(aconn, path) == 5
    assert [r[2] for r in _stored(aconn)] == [make_event(i).at for i in range(5)]
    assert not orphan.exists() and not path.exists()


def test_the_buffer_spills_when_down_and_replays_when_back(audit_db: str, tmp_path: Path) -> None:
    path = tmp_path / "audit-spill.jsonl"

    def down() -> Any:
        raise OSError("the database is down")

    first = AuditBuffer(down, spill_file=path, interval=0.05)
    for i in range(5):
        assert first.put(make_event(i))
    first.stop(timeout=20)  # three failed tries, then every waiting event is spilled
    assert first.spilled == 5 and spill.pending(path)

    second = AuditBuffer(lambda: psycopg2.connect(audit_db), spill_file=path, interval=0.05)
    assert second.put(make_event(5))  # the first write that goes through brings them back
    assert second.drain(timeout=20)
    second.stop()
    assert second.replayed == 5 and not spill.pending(path)
    conn = psycopg2.connect(audit_db)
    try:
        assert sorted(r[2] for r in _stored(conn)) == [make_event(i).at for i in range(6)]
        assert verify(conn).intact
    finally:
        conn.close()


def test_cli_replay(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    path = audit_settings.home / "audit-spill.jsonl"
    _spilled(path, [make_event(i) for i in range(3)])
    result = CliRunner().invoke(main, ["audit", "replay"], obj={"settings": audit_settings})
    assert result.exit_code == 0, result.output
    assert "3 spilled event(s) written" in result.output
    assert len(_stored(aconn)) == 3 and not path.exists()
    again = CliRunner().invoke(main, ["audit", "replay"], obj={"settings": audit_settings})
    assert again.exit_code == 0 and "0 spilled event(s)" in again.output
