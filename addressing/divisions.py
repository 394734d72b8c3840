"""The national division dictionaries: names, abbreviations, codes and parents.

Loaded from the CSV files under ``addressing/data`` (provinces, cities, counties, national
townships, Zhejiang's communities, and the former and informal names of division_aliases.csv;
see data/SOURCES.md) once, lazily, by :func:`load`.
Division codes are hierarchical (2/4/6/9/12 digits), so an ancestor's code is a prefix of its
descendant's: a chain of divisions is consistent when each code starts with the one above.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from addressing.model import LEVELS

# level name → code length
CODE_LENGTH = {"province": 2, "city": 4, "county": 6, "township": 9, "community": 12}
# Names that are placeholders, not places (municipalities' "市辖区", "县" …): never indexed.
PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
# The office of a community is not part of its place's name.
COMMITTEES = ("村民委员会", "居民委员会", "村委会", "居委会")
# Suffixes stripped for a common abbreviation, longest first.
SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "街道",
    "社区",
    "地区",
    "省",
    "市",
    "区",
    "县",
    "镇",
    "乡",
    "村",
    "盟",
    "旗",
)
_AUTONOMOUS = re.compile(r"^(.{2,}?)(?:[\u4e00-\u9fff]{1,5}?族)+自治[州县旗]$")
# The municipalities: their one city is the placeholder "市辖区" with code province + "01".
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
# Development zones, parks and the like: names that carry no abbreviation (开发区 is not 开发).
ZONE_SUFFIXES = (
    "开发区",
    "园区",
    "高新区",
    "工业区",
    "工业园",
    "产业园",
    "试验区",
    "管理区",
    "管委会",
)
# ... nor do new districts (浦东新区 is not 浦东新)
_NO_SHORT = (*ZONE_SUFFIXES, "新区")
# A zone name made of generic words only (开发区, 县开发区, 市经济技术开发区, 工业园区,
# 高新区 …): it names no place, so it may only be read inside a division the text names.
_GENERIC_ZONE = re.compile(
    r"^[县市区]?(?:国家级)?"
    r"(?:经济技术|经济|高新技术产业|高新技术|高新|工业|科技|产业|化工|物流|城市|出口加工|保税"
    r"|综合|现代|农业|生态|旅游|东部|西部|南部|北部|城东|城西|城南|城北|[东西南北])*"
    r"(?:开发区|园区|工业园|工业区|产业园|新区|高新区|开发园区|管委会|试验区)(?:管委会)?$"
)


@dataclass(frozen=True)
class Division:
    """One division: its code, name, level and parent code."""

    code: str
    name: str
    level: str
    parent: str | None


@dataclass(frozen=True)
class Alias:
    """A former or informal name of a current division (a row of division_aliases.csv).

    ``gated`` aliases (generic names such as 城区 or 郊区, names that are current names
    elsewhere such as 桥东区, names listed under several parents) only count where the text
    also names ``parent``.
    """

    name: str
    code: str
    level: str
    kind: str
    parent: str
    gated: bool


@dataclass
class DivisionIndex:
    """All divisions by code, and every name and abbreviation by the divisions it may mean."""

    by_code: dict[str, Division] = field(default_factory=dict)
    # name → [(code, is_full_name)]
    names: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    # township code → county code
    township_county: dict[str, str] = field(default_factory=dict)
    # former or informal name → [Alias] (division_aliases.csv)
    aliases: dict[str, list[Alias]] = field(default_factory=dict)

    def lookup(self, name: str) -> list[Division]:
        """Every division that a name (full or abbreviated) may mean."""
        return [self.by_code[c] for c, _ in self.names.get(name, [])]

    def ancestor(self, code: str, level: str) -> Division | None:
        """The division at ``level`` above (or at) the division ``code``."""
        n = CODE_LENGTH[level]
        if len(code) < n:
            return None
        return self.by_code.get(code[:n])

    def is_ambiguous(self, name: str, level: str) -> bool:
        """Whether a name means more than one division of a level (four 鼓楼区 in China)."""
        return sum(1 for d in self.lookup(name) if d.level == level) > 1

    def add(self, division: Division) -> None:
        """Add a division with its name and abbreviations."""
        self.by_code[division.code] = division
        if division.name in PLACEHOLDERS:
            return
        for name, full in names_of(division.name, division.level):
            entries = self.names.setdefault(name, [])
            if all(c != division.code for c, _ in entries):
                entries.append((division.code, full))


def abbreviation(name: str) -> str | None:
    """The common short form of a division name, or None (浙江省 → 浙江; never one character)."""
    m = _AUTONOMOUS.match(name)
    if m:
        return m.group(1)
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            short = name[: -len(suffix)]
            return short if len(short) >= 2 else None
    return None


def is_generic_zone(name: str) -> bool:
    """Whether a division name is made of generic zone words only (县开发区, 工业园区)."""
    return _GENERIC_ZONE.match(name) is not None


def is_zone(name: str) -> bool:
    """Whether a division name is a development zone's or a park's (not a real division)."""
    return name.endswith(ZONE_SUFFIXES) or is_generic_zone(name)


def names_of(name: str, level: str) -> list[tuple[str, bool]]:
    """The names a division is written by: (name, is_full_name)."""
    out = [(name, True)]
    if level == "community":
        for committee in COMMITTEES:
            if name.endswith(committee) and len(name) > len(committee) + 1:
                name = name[: -len(committee)]
                if not name.endswith(("村", "社区", "居")):
                    name += "村" if committee.startswith("村") else "社区"
                out.append((name, True))
                break
    short = None if name.endswith(_NO_SHORT) else abbreviation(name)
    if short and short != name:
        out.append((short, False))
    return out


def _rows(filename: str) -> list[dict[str, str]]:
    path = resources.files("addressing") / "data" / filename
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


@lru_cache(maxsize=1)
def load() -> DivisionIndex:
    """The division index, built once from the CSV files (about a second)."""
    index = DivisionIndex()
    for row in _rows("provinces.csv"):
        index.add(Division(row["code"], row["name"], "province", None))
    for row in _rows("cities.csv"):
        index.add(Division(row["code"], row["name"], "city", row["provinceCode"]))
    for row in _rows("areas.csv"):
        index.add(Division(row["code"], row["name"], "county", row["cityCode"]))
    for row in _rows("streets.csv"):
        index.add(Division(row["code"], row["name"], "township", row["areaCode"]))
        index.township_county[row["code"]] = row["areaCode"]
    _add_zone_names(index)
    for row in _rows("villages_330000_zhejiang.csv"):
        index.add(Division(row["code"], row["name"], "community", row["streetCode"]))
    _add_aliases(index, _rows("division_aliases.csv"))
    return index


def _add_zone_names(index: DivisionIndex) -> None:
    """A county's zone named after it (昆山开发区) is also written with the county's full
    name (昆山市开发区)."""
    for code, county in index.township_county.items():
        name = index.by_code[code].name
        head = index.by_code.get(county)
        short = abbreviation(head.name) if head else None
        if head is None or not short or not name.startswith(short):
            continue
        zone = name[len(short) :]
        if is_generic_zone(zone) and not zone.startswith(head.name[len(short) :]):
            entries = index.names.setdefault(head.name + zone, [])
            if all(c != code for c, _ in entries):
                entries.append((code, True))


def _add_aliases(index: DivisionIndex, rows: list[dict[str, str]]) -> None:
    """Index the former and informal names of current divisions (see data/SOURCES.md)."""
    parents: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        parents[row["alias"]].add(row["parent_code"])
    for row in rows:
        name, code = row["alias"], row["code"]
        if code not in index.by_code or name == index.by_code[code].name:
            continue
        elsewhere = any(
            c != code and index.by_code[c].level != "community"
            for c, _ in index.names.get(name, ())
        )
        gated = bool(row["parent_code"]) and (elsewhere or len(parents[name]) > 1)
        alias = Alias(name, code, row["level"], row["kind"], row["parent_code"], gated)
        index.aliases.setdefault(name, []).append(alias)


def level_of(code: str) -> str:
    """The level of a division code by its length."""
    for level in LEVELS:
        if len(code) == CODE_LENGTH[level]:
            return level
    raise ValueError(f"not a division code: {code!r}")


def names_by_level(index: DivisionIndex) -> dict[str, list[str]]:
    """Every indexed name grouped by the levels it may denote (for fuzzy matching)."""
    out: dict[str, set[str]] = defaultdict(set)
    for name, entries in index.names.items():
        for code, _ in entries:
            out[index.by_code[code].level].add(name)
    return {level: sorted(names) for level, names in out.items()}
