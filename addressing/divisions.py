"""The national division dictionaries: names, abbreviations, codes and parents.

Loaded from the CSV files under ``addressing/data`` (provinces, cities, counties, national
townships, Zhejiang's communities; see data/SOURCES.md) once, lazily, by :func:`load`.
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


@dataclass(frozen=True)
class Division:
    """One division: its code, name, level and parent code."""

    code: str
    name: str
    level: str
    parent: str | None


@dataclass
class DivisionIndex:
    """All divisions by code, and every name and abbreviation by the divisions it may mean."""

    by_code: dict[str, Division] = field(default_factory=dict)
    # name → [(code, is_full_name)]
    names: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    # township code → county code
    township_county: dict[str, str] = field(default_factory=dict)

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
    short = abbreviation(name)
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
    for row in _rows("villages_330000_zhejiang.csv"):
        index.add(Division(row["code"], row["name"], "community", row["streetCode"]))
    return index


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
