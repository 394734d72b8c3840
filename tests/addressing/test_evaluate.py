"""The evaluation, the development set's noise records and the score calibration, on
hand-made (truth, answer) pairs; no database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from addressing import calibration
from addressing.evaluate import Answer, format_report, judge, percentiles, run, summarize
from spatialsvc.demo import clerk
from spatialsvc.demo.devset import (
    Truth,
    make_devset,
    read_devset,
    truths_from_frame,
    write_devset,
    write_with_noise,
)

ROOM = Truth("晓翠湾2幢2单元901室", "R1", "room", 121.5, 29.9, "B1", ("place=compound", "plain"))
DOOR = Truth("湾双路44号", "D1", "door", 121.5, 29.9, None, ("place=road", "typo"))
BUILDING = Truth("晓翠湾2幢", "B1", "building", 121.5, 29.9, "B1", ("place=compound", "plain"))


def test_judge_strict_and_level_aware() -> None:
    """A room answered by its building is right only level-aware; a wrong id is wrong."""
    exact = judge(ROOM, Answer("R1", "room", 1.0, 121.5, 29.9))
    assert (exact.matched, exact.right, exact.right_level_aware) == (True, True, True)
    assert exact.error_m == pytest.approx(0.0, abs=1e-6)
    building = judge(ROOM, Answer("B1", "building", 0.9, 121.5, 29.9))
    assert (building.right, building.right_level_aware) == (False, True)
    other_building = judge(ROOM, Answer("B2", "building", 0.9))
    assert (other_building.right, other_building.right_level_aware) == (False, False)
    assert other_building.error_m is None
    wrong_level = judge(DOOR, Answer("B1", "building", 0.9))
    assert not wrong_level.right_level_aware
    nothing = judge(DOOR, Answer(None, "township", 0.2, 121.5, 29.91))
    assert not nothing.matched
    assert nothing.error_m == pytest.approx(1109, abs=2)  # 0.01° of latitude at 30° N


def test_summarize_hand_made_pairs() -> None:
    """Every figure of the report on five pairs worked out by hand."""
    pairs = [
        (ROOM, Answer("R1", "room", 0.95, 121.5, 29.9)),  # right
        (ROOM, Answer("B1", "building", 0.85, 121.5, 29.9001)),  # level-aware only, 11 m
        (DOOR, Answer("D2", "door", 0.9, 121.5, 29.901)),  # wrong, scored high, 111 m
        (DOOR, Answer(None, None, 0.0)),  # unmatched
        (BUILDING, Answer("B1", "building", 0.5, 121.5, 29.9)),  # right, scored low
    ]
    report = summarize(pairs, seconds=0.5)
    assert (report.right["room"].n, report.right["room"].total) == (1, 2)
    assert report.right["all"].share == pytest.approx(2 / 5)
    assert report.right_level_aware["room"].share == 1.0
    assert report.right_level_aware["all"].share == pytest.approx(3 / 5)
    assert report.right["door"].share == 0.0
    assert (report.unmatched.n, report.unmatched.total) == (1, 5)
    assert (report.wrong_high.n, report.wrong_high.total) == (2, 3)
    assert (report.wrong_high_level_aware.n, report.wrong_high_level_aware.total) == (1, 3)
    assert report.answered_with_point == 4
    assert report.error_m["p50"] == pytest.approx(5.5, abs=0.1)
    assert report.by_noise["plain"].share == pytest.approx(2 / 3)
    assert report.by_noise["typo"].share == 0.0
    assert report.rate == 10.0
    assert report.answer_levels == {"building": 2, "room": 1, "door": 1, "none": 1}
    text = format_report(report)
    assert "40.00%" in text and "10 addresses/s" in text
    json.dumps(report.to_dict())  # JSON-ready


def test_percentiles_empty_and_values() -> None:
    """Percentiles of nothing are None; of 1..100 the usual ones."""
    assert percentiles([]) == {"p50": None, "p90": None, "p95": None, "p99": None}
    got = percentiles([float(v) for v in range(1, 101)])
    assert got["p50"] == pytest.approx(50.5)
    assert got["p99"] == pytest.approx(99.01)


def test_run_counts_a_crash_as_unmatched() -> None:
    """A geocoder that raises on one text does not end the evaluation."""

    def geocode(text: str) -> Answer:
        if text == DOOR.text:
            raise RuntimeError("boom")
        return Answer("R1", "room", 1.0, 121.5, 29.9)

    pairs, seconds = run(geocode, [ROOM, DOOR])
    assert seconds >= 0
    assert [a.match_level for _t, a in pairs] == ["room", "error"]
    report = summarize(pairs)
    assert report.unmatched.n == 1
    assert "raised on 1 texts" in format_report(report)


def _addresses() -> pd.DataFrame:
    from shapely.geometry import Point

    rows = []
    for i in range(40):
        rows.append(
            {
                "address_id": f"A{i}",
                "province": "浙江省",
                "city": "宁波市",
                "county": "海曙区",
                "township": "望春街道",
                "community": "丽雅社区",
                "road": "湾双路",
                "door_number": str(i + 1),
                "compound": "晓翠湾" if i % 2 else None,
                "building": "2" if i % 2 else None,
                "unit": "1" if i % 4 == 1 else None,
                "room": "901" if i % 4 == 1 else None,
                "level": "room" if i % 4 == 1 else ("building" if i % 2 else "door"),
                "building_id": "B2" if i % 2 else None,
                "full_address": f"address {i}",
                "geom": Point(121.5 + i / 1000, 29.9),
            }
        )
    return pd.DataFrame(rows)


def test_devset_texts_are_the_clerks_and_record_noise(tmp_path: Path) -> None:
    """The texts equal what clerk.py writes for the same choices, with noise recorded."""
    frame = make_devset(_addresses(), seed=7, n=30)
    assert len(frame) == 30 and frame["address_id"].is_unique
    assert all("prefix=" in n and "place=" in n for n in frame["noise"])
    path = tmp_path / "set.csv"
    write_devset(frame, path)
    truths = read_devset(path)
    assert truths == truths_from_frame(frame)
    assert all(t.building_address_id is None for t in truths if t.level == "door")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((0, 0, 0, -1), "plain"),
        ((1, 0, 0, -1), "fullwidth"),
        ((0, 1, 0, -1), "traditional"),
        ((0, 0, 1, -1), "typo"),
        ((0, 0, 0, 5), "space"),
    ],
)
def test_noise_tags(flags: tuple[int, int, int, int], expected: str) -> None:
    """Each character-level habit is tagged when it changes the text, and the text is clerk's."""
    fields = [
        "浙江省",
        "宁波市",
        "海曙区",
        "望春街道",
        "",
        "湾双路",
        "44",
        "晓翠湾",
        "2",
        "2",
        "901",
    ]
    choice = [0, 1, 0, 0, 0, 0, 0, *flags]
    text, tags = write_with_noise(fields, choice)
    assert text == clerk._finish(clerk._compose(fields, choice[:7]), choice)
    assert expected in tags
    assert "room={b}幢{u}单元{r}室" in tags and "prefix=province+city+county" in tags


def test_read_devset_errors(tmp_path: Path) -> None:
    """A missing file, a file in GBK and a file without the columns all fail clearly."""
    from spatialsvc.errors import EncodingError, InvalidInput

    with pytest.raises(InvalidInput, match="no such file"):
        read_devset(tmp_path / "none.csv")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("text,address_id\n海曙区,A1\n".encode("gbk"))
    with pytest.raises(EncodingError, match="not UTF-8"):
        read_devset(gbk)
    bad = tmp_path / "bad.csv"
    bad.write_text("text\n海曙区\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="missing columns"):
        read_devset(bad)


def test_pool_adjacent_violators() -> None:
    """Violations are pooled with their weights; a monotone input is unchanged."""
    assert calibration.pool_adjacent_violators([0.1, 0.5, 0.9], [1, 1, 1]) == [0.1, 0.5, 0.9]
    got = calibration.pool_adjacent_violators([0.2, 0.6, 0.4, 0.9], [1, 1, 3, 1])
    assert got == pytest.approx([0.2, 0.45, 0.45, 0.9])
    got = calibration.pool_adjacent_violators([0.9, 0.1, 0.2], [1, 1, 1])
    assert got == pytest.approx([0.4, 0.4, 0.4])


def test_fit_is_monotone_and_calibrated_interpolates(tmp_path: Path) -> None:
    """A fit on noisy pairs is non-decreasing; calibrated() follows its knots."""
    rng = np.random.default_rng(1)
    raw = rng.random(4000)
    right = rng.random(4000) < raw**2  # a raw score that is overconfident
    bins = calibration.fit(raw.tolist(), right.tolist())
    fitted = [b.fitted for b in bins]
    assert fitted == sorted(fitted)
    assert sum(b.n for b in bins) == 4000
    path = tmp_path / "calibration.json"
    calibration.save(bins, {"seed": 1}, path)
    assert calibration.calibrated(0.5, path) == pytest.approx(0.25, abs=0.05)
    assert calibration.calibrated(1.0, path) <= 1.0
    assert calibration.calibrated(0.0, path) >= 0.0
    assert calibration.calibrated(0.7, tmp_path / "missing.json") == 0.7
    assert "observed" in calibration.format_table(bins)


def test_thin_bins_are_merged() -> None:
    """A bin with fewer pairs than the minimum is merged with the next one."""
    raw = [0.01] * 30 + [0.33] * 3 + [0.97] * 30
    bins = calibration.bins_of(raw, [False] * 30 + [True] * 3 + [True] * 30, min_n=20)
    assert [b.n for b in bins] == [30, 33]  # the thin 0.33 bin joins the next one
