"""The ``spatialsvc address`` commands: parse (one text and files), eval and calibrate."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import psycopg2
from click.testing import CliRunner, Result

from spatialsvc.cli import main
from spatialsvc.settings import Settings


def _run(*args: str, settings: Settings | None = None) -> Result:
    obj: dict[str, Any] = {"settings": settings} if settings is not None else {}
    return CliRunner().invoke(main, ["address", *args], obj=obj)


def test_parse_one_text_table_and_json() -> None:
    """The table names the parts with their codes; --json has parts, codes, conflicts, rest."""
    text = "集士港镇万科金色城市8-10-1604"
    table = _run("parse", text)
    assert table.exit_code == 0, table.output
    assert "集士港镇" in table.output and "330203102" in table.output
    doc = json.loads(_run("parse", text, "--json").stdout)
    assert set(doc) >= {"parts", "codes", "conflicts", "fuzzy", "rest"}
    assert doc["parts"]["building"] == "8" and doc["parts"]["room"] == "1604"
    assert doc["codes"]["county"] == "330203"


def test_parse_needs_text_or_input() -> None:
    """Neither (or both) is a usage error."""
    assert _run("parse").exit_code == 2


def test_parse_file_to_json_lines(tmp_path: Path) -> None:
    """One object a line, in order; an empty line gives an error object, not a crash."""
    source = tmp_path / "in.txt"
    source.write_text("\ufeff海曙区望春街道\n\n宁波海曙8-2-301\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _run("parse", "--input", str(source), "--output", str(out))
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [d["line"] for d in docs] == [1, 2, 3]
    assert docs[0]["parts"]["township"] == "望春街道"
    assert docs[1]["error"] == "empty line"
    assert docs[2]["parts"]["room"] == "301"


def test_parse_file_errors(tmp_path: Path) -> None:
    """A missing file and a GBK file end in one clear line and exit 1."""
    missing = _run("parse", "--input", str(tmp_path / "none.txt"))
    assert missing.exit_code == 1 and "no such file" in missing.output
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("海曙区望春街道\n".encode("gbk"))
    bad = _run("parse", "--input", str(gbk), "--output", str(tmp_path / "o.jsonl"))
    assert bad.exit_code == 1 and "--encoding" in bad.output
    assert "Traceback" not in bad.output
    good = _run("parse", "--input", str(gbk), "--encoding", "gbk")
    assert good.exit_code == 0 and "望春街道" in good.output


def _small_set(db_url: str, path: Path) -> None:
    """A development set of 30 standard addresses of the test demo, written as they stand."""
    conn = psycopg2.connect(db_url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT full_address, address_id, level, ST_X(geom), ST_Y(geom)"
            " FROM base.standard_address ORDER BY address_id LIMIT 30"
        )
        rows = cur.fetchall()
    conn.close()
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "address_id", "level", "building_address_id", "lon", "lat", "noise"])
        for text, aid, level, lon, lat in rows:
            w.writerow([text, aid, level, "", lon, lat, "plain"])


def test_eval_and_calibrate_on_the_demo(
    settings: Settings, demo: dict[str, int], db_url: str, tmp_path: Path
) -> None:
    """Eval prints the figures (and JSON); calibrate writes knots and a reliability table."""
    devset = tmp_path / "set.csv"
    _small_set(db_url, devset)
    table = _run("eval", "--set", str(devset), settings=settings)
    assert table.exit_code == 0, table.output
    assert "right address_id" in table.output and "addresses/s" in table.output
    doc = json.loads(_run("eval", "--set", str(devset), "--json", settings=settings).stdout)
    assert doc["n"] == 30
    assert doc["right"]["all"]["share"] >= 0.9
    assert set(doc["error_m"]) == {"p50", "p90", "p95", "p99"}
    knots = tmp_path / "calibration.json"
    cal = _run("calibrate", "--set", str(devset), "--output", str(knots), settings=settings)
    assert cal.exit_code == 0, cal.output
    assert "observed" in cal.output
    assert json.loads(knots.read_text(encoding="utf-8"))["knots"]


def test_eval_missing_set(settings: Settings) -> None:
    """A missing development set is one clear line."""
    result = _run("eval", "--set", "/nonexistent/set.csv", settings=settings)
    assert result.exit_code == 1 and "no such file" in result.output
