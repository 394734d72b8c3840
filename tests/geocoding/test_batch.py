"""`spatialsvc geocode batch`: columns kept, answers right, bad inputs refused, resumable."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from spatialsvc.geocoding.batch import OUTPUT_COLUMNS
from spatialsvc.settings import Settings
from tests.geocoding.helpers import read_csv, run_cli, wait_for_progress

SPATIALSVC = Path(sys.executable).parent / "spatialsvc"
Canonical = list[tuple[str, str, float, float]]


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _input(tmp_path: Path, canonical: Canonical, n: int = 300) -> tuple[Path, list[list[str]]]:
    """id, a note with a comma, quotes and a line break, the address, a trailing column."""
    rows = [["id", "note", "地址", "extra"]]
    for i, (_aid, full, _lon, _lat) in enumerate(canonical[:n]):
        rows.append([str(i), f'户 {i}, "甲"\n第二行', full, "x" * (i % 3)])
    rows.append([str(n), "empty address", "", ""])
    return _write(tmp_path / "in.csv", rows), rows


def test_batch_keeps_columns_and_finds_canonical_addresses(
    settings: Settings, canonical: Canonical, tmp_path: Path
) -> None:
    src, rows = _input(tmp_path, canonical)
    out = tmp_path / "out.csv"
    result = run_cli(
        settings, "batch", "--input", str(src), "--column", "地址", "--output", str(out),
        "--workers", "2", "--chunk-size", "64",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    got = read_csv(out)
    assert got[0] == rows[0] + list(OUTPUT_COLUMNS)
    assert len(got) == len(rows)
    col = {name: i for i, name in enumerate(got[0])}
    for i, (row, (aid, full, lon, lat)) in enumerate(zip(got[1:-1], canonical, strict=False)):
        assert row[:4] == rows[i + 1]  # input columns kept as they were, in input order
        assert row[col["address_id"]] == aid, (full, row)
        assert row[col["full_address"]] == full
        assert row[col["match_level"]] == "room"
        assert float(row[col["score"]]) >= 0.9
        assert abs(float(row[col["lon"]]) - lon) < 1e-6
        assert abs(float(row[col["lat"]]) - lat) < 1e-6
        assert row[col["county_code"]] == "330203"
        assert row[col["township_code"]].startswith("330203")
    last = got[-1]
    assert last[:4] == rows[-1] and last[col["address_id"]] == "" and last[col["lon"]] == ""
    assert not (tmp_path / "out.csv.partial").exists()
    assert not (tmp_path / "out.csv.progress.json").exists()
    assert "geocoded 301 rows" in result.output


def test_gbk_input_is_detected(settings: Settings, canonical: Canonical, tmp_path: Path) -> None:
    rows = [["编号", "地址"]] + [[str(i), c[1]] for i, c in enumerate(canonical[:20])]
    src = _write(tmp_path / "gbk.csv", rows, encoding="gbk")
    out = tmp_path / "gbk-out.csv"
    result = run_cli(
        settings, "batch", "--input", str(src), "--column", "地址", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    got = read_csv(out)
    assert got[0][:2] == ["编号", "地址"]
    assert [r[2] for r in got[1:]] == [c[0] for c in canonical[:20]]
    assert "gb18030" in result.output


def _fails(settings: Settings, tmp_path: Path, *args: str) -> str:
    out = tmp_path / "never.csv"
    result = run_cli(settings, "batch", *args, "--output", str(out))
    assert result.exit_code == 1, result.output
    assert list(tmp_path.glob("never.csv*")) == []
    message = result.output.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    return message


def test_bad_inputs_exit_1_with_a_clear_message_and_no_output(
    settings: Settings, demo: dict[str, int], tmp_path: Path
) -> None:
    missing = _fails(settings, tmp_path, "--input", str(tmp_path / "nope.csv"), "--column", "a")
    assert "nope.csv does not exist" in missing

    src = _write(tmp_path / "cols.csv", [["id", "addr", "note"], ["1", "海曙区", ""]])
    column = _fails(settings, tmp_path, "--input", str(src), "--column", "address")
    assert "no column 'address'" in column and "id, addr, note" in column

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,address\n1,\xff\xfe\xff\xfe\n")
    encoding = _fails(settings, tmp_path, "--input", str(bad), "--column", "address")
    assert "--encoding" in encoding

    late = tmp_path / "late.csv"  # valid UTF-8 at the start, broken far beyond the sniffed part
    late.write_bytes(b"id,address\n" + b"1,a\n" * 300_000 + b"2,\xff\xfe\n")
    broken = _fails(settings, tmp_path, "--input", str(late), "--column", "address")
    assert "not valid utf-8" in broken and "line 300002" in broken

    unknown = _fails(
        settings, tmp_path, "--input", str(src), "--column", "addr", "--encoding", "klingon"
    )
    assert "unknown encoding 'klingon'" in unknown

    clash = _write(tmp_path / "clash.csv", [["address", "score"], ["海曙区", "1"]])
    taken = _fails(settings, tmp_path, "--input", str(clash), "--column", "address")
    assert "already has column(s) score" in taken


def _big_input(tmp_path: Path, canonical: Canonical, rows: int) -> Path:
    """Distinct texts (so the per-worker cache does not shortcut them), some noisy."""
    out = [["n", "address"]]
    for i in range(rows):
        _aid, full, _lon, _lat = canonical[i % len(canonical)]
        text = full if i < len(canonical) else f"{full.replace('浙江省宁波市', '')} {i}"
        out.append([str(i), text])
    return _write(tmp_path / "big.csv", out)


def _command(src: Path, out: Path) -> list[str]:
    return [
        str(SPATIALSVC), "geocode", "batch", "--input", str(src), "--column", "address",
        "--output", str(out), "--workers", "1", "--chunk-size", "100",
    ]  # fmt: skip


def _survivors(marker: str, wait: float = 5.0) -> list[int]:
    """Processes whose command line holds ``marker``, after up to ``wait`` s for them to end."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "cmdline").read_text():
                    found.append(int(proc.name))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_kill_9_half_way_then_resume_gives_the_same_file(
    settings: Settings, canonical: Canonical, tmp_path: Path
) -> None:
    total = 30_000
    src = _big_input(tmp_path, canonical, total)
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "SPATIALSVC_HOME": str(settings.home),
    }
    reference = tmp_path / "reference.csv"
    done = subprocess.run(_command(src, reference), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    out = tmp_path / "resumed.csv"
    sidecar = tmp_path / "resumed.csv.progress.json"
    proc = subprocess.Popen(
        _command(src, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    rows = wait_for_progress(proc, sidecar, 3_000)
    assert proc.poll() is None, "the batch ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 3_000 <= rows < total
    assert _survivors(str(out)) == [], "workers outlived their killed parent"
    assert not out.exists()
    partial = tmp_path / "resumed.csv.partial"
    assert partial.exists()
    # a chunk written after the last progress record (killed between the two) is dropped
    with partial.open("ab") as fh:
        fh.write("999999,半行\n".encode())

    again = subprocess.run(_command(src, out), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "resuming resumed.csv" in again.stderr
    assert out.read_bytes() == reference.read_bytes()
    assert len(read_csv(out)) == total + 1
    assert not partial.exists() and not sidecar.exists()


def test_changed_input_starts_over(
    settings: Settings, canonical: Canonical, tmp_path: Path
) -> None:
    src, _rows = _input(tmp_path, canonical, n=30)
    out = tmp_path / "out.csv"
    # an interrupted run of another input left its partial file and record behind
    (tmp_path / "out.csv.partial").write_bytes(b"stale,rows\n1,2\n")
    (tmp_path / "out.csv.progress.json").write_text(
        json.dumps({"job": {"input": "elsewhere"}, "rows": 1, "bytes": 15}), encoding="utf-8"
    )
    result = run_cli(
        settings, "batch", "--input", str(src), "--column", "地址", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "resuming" not in result.output
    got = read_csv(out)
    assert got[0][0] == "id" and len(got) == 32
