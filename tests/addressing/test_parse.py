"""Table-driven cases for addressing.parse, and its accuracy on clerk-written addresses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from rapidfuzz.distance import Levenshtein

from addressing.divisions import PLACEHOLDERS, abbreviation, is_generic_zone, load
from addressing.normalize import normalize
from addressing.parse import parse
from spatialsvc.demo.clerk import write_many_like_clerks

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "parse.yml").read_text("utf-8"))
ROAD_STEMS = [
    "人民",
    "中山",
    "解放",
    "建设",
    "新华",
    "光明",
    "育才",
    "学府",
    "望岳",
    "菖蒲",
    "丽园",
]
ROAD_KINDS = ["路", "路", "北路", "南路", "中路", "街", "弄", "大道"]
COMPOUND_HEADS = ["广泽", "锦绣", "春晓", "翠澜", "香樟", "紫荆", "银杏", "怡和", "康兰", "梧桐"]
COMPOUND_TAILS = [
    "嘉园",
    "花园",
    "新村",
    "公寓",
    "家园",
    "名苑",
    "雅苑",
    "华庭",
    "小区",
    "苑",
    "府",
]


@pytest.mark.parametrize("case", CASES, ids=[c["in"] for c in CASES])
def test_parse_case(case: dict[str, Any]) -> None:
    got = parse(case["in"], context=case.get("context"))
    expected = case.get("expect", {})
    actual = {key: getattr(got, key) for key in expected}
    assert actual == expected, got
    if "conflicts" in case:
        assert sorted(c.part for c in got.conflicts) == sorted(case["conflicts"]), got.conflicts
    if "fuzzy" in case:
        assert got.fuzzy == case["fuzzy"]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60


def messy_frame(n: int, seed: int) -> pd.DataFrame:
    """Standard addresses of Haishu's real townships and communities with made-up places."""
    rng = np.random.default_rng(seed)
    index = load()
    townships = [d for d in index.by_code.values() if d.parent == "330203"]
    communities = {
        t.code: [d for d in index.by_code.values() if d.parent == t.code] for t in townships
    }
    rows = []
    for _ in range(n):
        t = townships[rng.integers(len(townships))]
        pool = communities[t.code]
        road = ROAD_STEMS[rng.integers(len(ROAD_STEMS))] + ROAD_KINDS[rng.integers(len(ROAD_KINDS))]
        row = {
            "province": "浙江省",
            "city": "宁波市",
            "county": "海曙区",
            "township": t.name,
            "community": pool[rng.integers(len(pool))].name if pool else "",
            "road": road,
            "door_number": str(rng.integers(1, 400)),
            "compound": "",
            "building": "",
            "unit": "",
            "room": "",
        }
        level = rng.random()
        if level > 0.15:
            row["compound"] = (
                COMPOUND_HEADS[rng.integers(len(COMPOUND_HEADS))]
                + COMPOUND_TAILS[rng.integers(len(COMPOUND_TAILS))]
            )
            row["building"] = str(rng.integers(1, 30))
        if level > 0.3:
            row["unit"] = str(rng.integers(1, 4)) if rng.random() < 0.8 else ""
            row["room"] = f"{rng.integers(1, 25)}{rng.integers(1, 5):02d}"
        rows.append(row)
    return pd.DataFrame(rows)


def _written(name: str, text: str) -> bool:
    """Whether a name is in the text, allowing one typo."""
    n = len(name)
    return any(Levenshtein.distance(name, text[i : i + n]) <= 1 for i in range(len(text) - n + 1))


def test_accuracy_on_clerk_addresses() -> None:
    frame = messy_frame(2000, seed=20261122)
    texts = write_many_like_clerks(frame, np.random.default_rng(7))
    parse("宁波市海署区望春路12号")  # build the automaton and the fuzzy tables first
    parsed = [parse(t, context="330203") for t in texts]
    township_ok = township_n = road_ok = road_n = 0
    for row, text, p in zip(frame.to_dict("records"), texts, parsed, strict=True):
        norm = normalize(text)
        if _written(row["township"], norm):
            township_n += 1
            township_ok += p.township == row["township"]
        if _written(row["road"], norm):
            road_n += 1
            road_ok += (p.road, p.door_number) == (row["road"], row["door_number"])
    township_acc, road_acc = township_ok / township_n, road_ok / road_n
    print(
        f"\nparse: township {township_acc:.1%} of {township_n}; "
        f"road+door {road_acc:.1%} of {road_n}"
    )
    assert township_acc >= 0.95
    assert road_acc >= 0.90


def test_ambiguous_township_without_context_is_reported_not_picked() -> None:
    frame = messy_frame(300, seed=5)
    texts = write_many_like_clerks(frame, np.random.default_rng(11))
    for row, text in zip(frame.to_dict("records"), texts, strict=True):
        got = parse(text)
        if got.township is not None:
            assert got.township == row["township"], text
        elif _written(row["township"], normalize(text)) and got.county is None:
            assert got.conflicts, text


def test_division_index() -> None:
    index = load()
    assert len([d for d in index.lookup("鼓楼区") if d.level == "county"]) == 4
    assert index.is_ambiguous("鼓楼区", "county")
    assert [d.code for d in index.lookup("集士港镇")] == ["330203102"]
    assert index.township_county["330203102"] == "330203"
    assert {d.code for d in index.lookup("海曙")} >= {"330203"}
    assert index.ancestor("330203102", "city").name == "宁波市"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("浙江省", "浙江"),
        ("宁波市", "宁波"),
        ("海曙区", "海曙"),
        ("望春街道", "望春"),
        ("集士港镇", "集士港"),
        ("广西壮族自治区", "广西"),
        ("延边朝鲜族自治州", "延边"),
        ("城区", None),
        ("东村", None),
    ],
)
def test_abbreviation(name: str, short: str | None) -> None:
    assert abbreviation(name) == short


def test_every_former_name_reads_as_its_current_division_within_its_parent() -> None:
    """Each row of division_aliases.csv, written after its parent's name (大同市 + 矿区)."""
    index = load()
    rows = [a for aliases in index.aliases.values() for a in aliases if a.parent]
    assert len(rows) >= 400
    misses = []
    for alias in rows:
        parent = index.by_code[alias.parent].name
        if parent in PLACEHOLDERS:  # a municipality's city: its province's name
            parent = index.by_code[alias.parent[:2]].name
        got = getattr(parse(parent + alias.name), f"{alias.level}_code")
        if got != alias.code:
            misses.append((parent + alias.name, alias.code, got))
    assert misses == []


def test_generic_former_names_need_their_parent() -> None:
    """城区, 郊区, 桥东区 … alone never become the former district of one city."""
    index = load()
    gated = [
        a for aliases in index.aliases.values() for a in aliases if a.gated and a.level == "county"
    ]
    assert {"城区", "郊区", "矿区", "市中区", "桥东区"} <= {a.name for a in gated}
    for alias in gated:
        got = getattr(parse(alias.name + "人民路1号"), f"{alias.level}_code")
        assert got != alias.code, alias


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("开发区", True),
        ("县开发区", True),
        ("市经济技术开发区", True),
        ("工业园区", True),
        ("高新区", True),
        ("昆山开发区", False),
        ("浦东新区", False),
        ("苏州工业园区", False),
    ],
)
def test_generic_zone(name: str, generic: bool) -> None:
    assert is_generic_zone(name) is generic
