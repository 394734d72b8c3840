"""Query and export: each filter, both formats, through the API and the CLI."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from spatialsvc.audit import Filters, flush, query
from spatialsvc.audit.query import export
from spatialsvc.cli import main
from spatialsvc.errors import InvalidInput
from spatialsvc.settings import Settings
from tests.audit.conftest import T0, make_event

N = 40


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, ["audit", *args], obj={"settings": settings})


@pytest.fixture()
def filled(aconn):  # type: ignore[no-untyped-def]
    events = [make_event(i) for i in range(N)]
    flush(aconn, events[:25])
    flush(aconn, events[25:])
    return events


def seqs(conn, **filters: object) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.seq for e in query(conn, Filters(**filters))]  # type: ignore[arg-type]


def expected(events, pred) -> list[int]:  # type: ignore[no-untyped-def]
    return [i + 1 for i, e in enumerate(events) if pred(e)]


def test_each_filter(aconn, filled) -> None:  # type: ignore[no-untyped-def]
    assert seqs(aconn) == list(range(1, N + 1))
    assert seqs(aconn, department="gaj") == expected(filled, lambda e: e.department == "gaj")
    assert seqs(aconn, resource="roads") == expected(filled, lambda e: e.resource == "roads")
    assert seqs(aconn, action="tile.read") == expected(filled, lambda e: e.action == "tile.read")
    assert seqs(aconn, action="a*") == expected(filled, lambda e: e.action.startswith("a"))
    assert seqs(aconn, action="data.*") == expected(filled, lambda e: e.action == "data.read")
    assert seqs(aconn, action="%") == []
    assert seqs(aconn, status=403) == expected(filled, lambda e: e.status == 403)
    since, until = T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)
    assert seqs(aconn, since=since, until=until) == expected(
        filled, lambda e: since <= e.at < until
    )
    assert seqs(aconn, department="mzj", status=200, action="tile.read") == expected(
        filled, lambda e: (e.department, e.status, e.action) == ("mzj", 200, "tile.read")
    )
    newest = [e.seq for e in query(aconn, limit=3, newest_first=True)]
    assert newest == [N, N - 1, N - 2]


def test_injection_is_just_a_value(aconn, filled) -> None:  # type: ignore[no-untyped-def]
    assert seqs(aconn, department="gaj' OR '1'='1") == []


def test_naive_times_are_refused(aconn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        list(query(aconn, Filters(since=T0.replace(tzinfo=None))))


def test_export_csv_and_jsonl(aconn, filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    n = export(aconn, tmp_path / "a.csv", "csv", Filters(department="gaj"))
    with (tmp_path / "a.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) == len(expected(filled, lambda e: e.department == "gaj"))
    assert json.loads(rows[0]["params"])["q"].startswith("海曙")
    assert rows[0]["at"].endswith("Z") and len(rows[0]["hash"]) == 64
    n = export(aconn, tmp_path / "a.jsonl", "jsonl")
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text("utf-8").splitlines()]
    assert n == len(lines) == N
    assert [x["seq"] for x in lines] == list(range(1, N + 1))
    assert lines[1]["prev_hash"] == lines[0]["hash"]


def test_cli_query_and_export(audit_settings: Settings, filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(audit_settings, "query", "--department", "gaj", "--limit", "2", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 2 and all(x["department"] == "gaj" for x in lines)
    assert lines[0]["seq"] > lines[1]["seq"]
    result = run(
        audit_settings, "query", "--action", "tile.read", "--since", "2026-11-22T08:00:05Z"
    )
    assert result.exit_code == 0 and "tile.read" in result.stdout
    result = run(audit_settings, "query", "--since", "yesterday")
    assert result.exit_code == 1 and "ISO 8601" in result.output
    out = tmp_path / "e.jsonl"
    result = run(audit_settings, "export", "--output", str(out), "--resource", "buildings")
    assert result.exit_code == 0, result.output
    want = expected(filled, lambda e: e.resource == "buildings")
    assert [json.loads(x)["seq"] for x in out.read_text("utf-8").splitlines()] == want
    result = run(audit_settings, "export", "--output", str(tmp_path / "e.txt"), "--format", "csv")
    assert result.exit_code == 0 and f"wrote {N} event(s)" in result.output
