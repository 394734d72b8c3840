"""Stage 3: match a parsed address against the standard addresses (base.standard_address).

The whole table (about 190,000 rows for a district) is held in memory as plain tuples, with
dictionaries keyed by the parts an address is found by: road + door plate, compound +
building, and both down to the room. The most specific key that the parsed parts fill is
tried first; a parsed township narrows every key, and without one the whole county is
searched (road and compound names may repeat between townships: several candidates are then
returned and the scorer reports the ambiguity). Road and compound names that are not found
exactly are looked up with an edit distance of 1 (and a compound name found inside a longer
parsed one, e.g. 钱东社区天月雅苑).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from addressing.model import ParsedAddress
from addressing.parse import _tail

# row layout
ID, ADMIN, TOWNSHIP, ROAD, DOOR, COMPOUND, BUILDING, UNIT, ROOM, FULL, LEVEL, LON, LAT = range(13)
Row = tuple[Any, ...]
_QUERY = """
SELECT address_id, admin_code, township_code, road, door_number, compound, building, unit,
       room, full_address, level, ST_X(geom), ST_Y(geom)
FROM base.standard_address
ORDER BY address_id
"""


@dataclass
class Candidate:
    """A standard address that a parsed address may mean, and the path that found it."""

    address_id: str
    full_address: str
    level: str  # the standard address's own level: door, building or room
    lon: float
    lat: float
    admin_code: str
    township_code: str
    how: str  # the parts matched, e.g. "compound+building+unit+room"
    match_level: str  # how far down the parsed address was matched: room … road, compound
    road: str | None = None
    door_number: str | None = None
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    fuzzy: tuple[str, ...] = ()  # parts found only by fuzzy name matching
    county_wide: bool = False  # found outside the parsed township (or without one)
    reread: ParsedAddress | None = None  # the corrected reading it was found with, if any


class AddressIndex:
    """The standard addresses of a district in memory, keyed for matching."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows: list[Row] = list(rows)
        self.room_compound: dict[Hashable, list[int]] = defaultdict(list)
        self.room_road: dict[Hashable, list[int]] = defaultdict(list)
        self.room_compound_nounit: dict[Hashable, list[int]] = defaultdict(list)
        self.room_road_nounit: dict[Hashable, list[int]] = defaultdict(list)
        self.building_compound: dict[Hashable, list[int]] = defaultdict(list)
        self.building_road: dict[Hashable, list[int]] = defaultdict(list)
        self.door: dict[Hashable, list[int]] = defaultdict(list)
        self.compound: dict[Hashable, list[int]] = {}
        self.road: dict[Hashable, list[int]] = {}
        self.roads_by_township: dict[str, set[str]] = defaultdict(set)
        self.compounds_by_township: dict[str, set[str]] = defaultdict(set)
        road_rep: dict[str, dict[str, int]] = defaultdict(dict)
        compound_rep: dict[str, dict[str, int]] = defaultdict(dict)
        door_rep: dict[Hashable, int] = {}
        for i, r in enumerate(self.rows):
            level, road, door, comp = r[LEVEL], r[ROAD], r[DOOR], r[COMPOUND]
            b, u, room, tsp = r[BUILDING], r[UNIT], r[ROOM], r[TOWNSHIP]
            if road:
                self.roads_by_township[tsp].add(road)
            if comp:
                self.compounds_by_township[tsp].add(comp)
            if level == "room":
                if comp:
                    self.room_compound[(comp, b, u, room)].append(i)
                    self.room_compound_nounit[(comp, b, room)].append(i)
                if road and door:
                    self.room_road[(road, door, b, u, room)].append(i)
                    self.room_road_nounit[(road, door, b, room)].append(i)
            elif level == "building":
                if comp:
                    self.building_compound[(comp, b)].append(i)
                    compound_rep[comp].setdefault(tsp, i)
                if road and door:
                    self.building_road[(road, door, b)].append(i)
                    door_rep.setdefault((road, door), i)
            elif level == "door" and road and door:
                self.door[(road, door)].append(i)
                road_rep[road].setdefault(tsp, i)
        for key, i in door_rep.items():
            if key not in self.door:
                self.door[key].append(i)
        self.road = {k: sorted(v.values()) for k, v in road_rep.items()}
        self.compound = {k: sorted(v.values()) for k, v in compound_rep.items()}
        self.all_roads = sorted(set().union(*self.roads_by_township.values()))
        self.all_compounds = sorted(set().union(*self.compounds_by_township.values()))
        self.lou_compounds = [c for c in self.all_compounds if c.startswith("楼") and len(c) > 2]

    @classmethod
    def from_connection(cls, conn: Any) -> AddressIndex:
        """Load base.standard_address through a DB-API connection (psycopg2)."""
        with conn.cursor() as cur:
            cur.execute(_QUERY)
            return cls(cur.fetchall())

    def names_of(self, kind: str, township: str) -> set[str]:
        """The set of road or compound names of one township."""
        table = self.roads_by_township if kind == "road" else self.compounds_by_township
        return table.get(township, set())

    def names(self, kind: str, township: str | None) -> list[str]:
        """Road or compound names of a township (or the whole county)."""
        if kind == "road":
            return sorted(self.roads_by_township.get(township, ())) if township else self.all_roads
        if township:
            return sorted(self.compounds_by_township.get(township, ()))
        return self.all_compounds


def _fuzzy_names(name: str, choices: list[str]) -> list[str]:
    """Names at edit distance 1 from ``name`` (the closest ones first)."""
    hits = process.extract(name, choices, scorer=Levenshtein.distance, score_cutoff=1, limit=5)
    return [h[0] for h in hits if h[1] <= 1]


def _resolve(
    name: str | None,
    kind: str,
    known: Callable[[str], bool],
    index: AddressIndex,
    tsp: str | None,
    text: str,
) -> list[tuple[str, bool]]:
    """Names in the base that ``name`` may mean, each with whether it was fuzzy."""
    if not name:
        return []
    if known(name) and (tsp is None or name in index.names_of(kind, tsp)):
        return [(name, False)]
    choices = index.names(kind, tsp)
    # the parser may have read the head of a name as a division (崔岙村 in 崔岙村路)
    around = [c for c in choices if len(c) > len(name) and name in c and c in text]
    if around:
        longest = max(len(c) for c in around)
        return [(c, False) for c in around if len(c) == longest]
    inside = [c for c in choices if len(c) >= 2 and c in name]
    if inside:
        longest = max(len(c) for c in inside)
        return [(c, True) for c in inside if len(c) == longest]
    return [(c, True) for c in _fuzzy_names(name, choices)]


def _f(part: str, fuzzy: bool) -> tuple[str, ...]:
    return (part,) if fuzzy else ()


def _candidates(
    index: AddressIndex, ids: list[int], how: str, match_level: str, fuzzy: tuple[str, ...]
) -> list[Candidate]:
    out = []
    for i in ids:
        r = index.rows[i]
        out.append(
            Candidate(
                address_id=r[ID],
                full_address=r[FULL],
                level=r[LEVEL],
                lon=r[LON],
                lat=r[LAT],
                admin_code=r[ADMIN],
                township_code=r[TOWNSHIP],
                how=how,
                match_level=match_level,
                road=r[ROAD],
                door_number=r[DOOR],
                compound=r[COMPOUND],
                building=r[BUILDING],
                unit=r[UNIT],
                room=r[ROOM],
                fuzzy=fuzzy,
            )
        )
    return out


def _match_in(parsed: ParsedAddress, index: AddressIndex, tsp: str | None) -> list[Candidate]:
    """Most specific path first, within township ``tsp`` (None: the county)."""

    def keep(ids: list[int]) -> list[int]:
        return [i for i in ids if tsp is None or index.rows[i][TOWNSHIP] == tsp]

    roads = _resolve(parsed.road, "road", lambda n: n in index.road, index, tsp, parsed.normalized)
    comps = _resolve(
        parsed.compound, "compound", lambda n: n in index.compound, index, tsp, parsed.normalized
    )
    door, b, u, room = parsed.door_number, parsed.building, parsed.unit, parsed.room

    # each step: (match level, how, key table, [(key, fuzzy parts)])
    steps: list[tuple[str, str, dict[Hashable, list[int]], list[tuple[Hashable, tuple[str, ...]]]]]
    steps = []
    if b and room:
        if u:
            steps.append(
                ("room", "compound+building+unit+room", index.room_compound,
                 [((c, b, u, room), _f("compound", f)) for c, f in comps])
            )  # fmt: skip
            steps.append(
                ("room", "road+door+building+unit+room", index.room_road,
                 [((r, door, b, u, room), _f("road", f)) for r, f in roads])
            )  # fmt: skip
        steps.append(
            ("room", "compound+building+room", index.room_compound_nounit,
             [((c, b, room), _f("compound", f)) for c, f in comps])
        )  # fmt: skip
        steps.append(
            ("room", "road+door+building+room", index.room_road_nounit,
             [((r, door, b, room), _f("road", f)) for r, f in roads])
        )  # fmt: skip
    if b:
        steps.append(
            ("building", "compound+building", index.building_compound,
             [((c, b), _f("compound", f)) for c, f in comps])
        )  # fmt: skip
        steps.append(
            ("building", "road+door+building", index.building_road,
             [((r, door, b), _f("road", f)) for r, f in roads])
        )  # fmt: skip
    if door:
        steps.append(
            ("door", "road+door", index.door, [((r, door), _f("road", f)) for r, f in roads])
        )
    steps.append(
        ("compound", "compound", index.compound, [(c, _f("compound", f)) for c, f in comps])
    )
    steps.append(("road", "road", index.road, [(r, _f("road", f)) for r, f in roads]))
    for level, how, table, keys in steps:
        found: list[Candidate] = []
        seen: set[int] = set()
        for key, fuzzy in keys:
            ids = [i for i in keep(table.get(key, [])) if i not in seen]
            seen.update(ids)
            found += _candidates(index, ids, how, level, fuzzy)
        if found:
            return found
    return []


_DEPTH = {"road": 0, "compound": 0, "door": 1, "building": 2, "room": 3}


def _lou_rescue(parsed: ParsedAddress, index: AddressIndex) -> ParsedAddress | None:
    """Re-read a compound named 楼… after a door plate (135号楼新名苑), which the normalizer
    took for a building mark (135幢新名苑); None when there is no such compound."""
    text = parsed.normalized
    for name in index.lou_compounds:
        at = text.find(f"幢{name[1:]}")
        if at < 0 or not text[:at][-1:].isdigit():
            continue
        fixed = f"{text[:at]}号{name}{text[at + len(name) :]}"
        start = fixed.find(parsed.road) if parsed.road else -1
        if start < 0:
            start = at
            while start > 0 and fixed[start - 1].isdigit():
                start -= 1
        return _retail(parsed, fixed, start)
    return None


_MARK_TYPOS = (
    ("单元园", "单元"),
    ("撞", "幢"),
    ("冻", "幢"),
    ("丹元", "单元"),
    ("单园", "单元"),
    ("式", "室"),
)


def _retail(parsed: ParsedAddress, fixed: str, start: int) -> ParsedAddress:
    again = replace(
        parsed,
        normalized=fixed,
        road=None,
        door_number=None,
        compound=None,
        building=None,
        unit=None,
        floor=None,
        room=None,
        rest="",
    )
    _tail(again, fixed[start:])
    return again


def _typo_rescue(parsed: ParsedAddress) -> ParsedAddress | None:
    """Re-read the text with same-sound typos of the marks corrected (8撞 → 8幢, 1丹元 → 1单元)."""
    text = parsed.normalized
    fixed = text
    for wrong, right in _MARK_TYPOS:
        fixed = re.sub(rf"(?<=\d){wrong}", right, fixed)
    if fixed == text:
        return None
    head = min(
        (fixed.find(p) for p in (parsed.road, parsed.compound) if p and p in fixed),
        default=-1,
    )
    if head < 0:
        return None
    return _retail(parsed, fixed, head)


def match(parsed: ParsedAddress, index: AddressIndex) -> list[Candidate]:
    """Candidates for a parsed address, the most specific level that matched.

    With a parsed township the search stays inside it; if nothing is found there (the
    township may be wrong) the county is searched and the candidates are marked county_wide.
    """
    found = _match(parsed, index)
    named = 3 if parsed.room or parsed.unit else 2 if parsed.building else 0
    unread = any(ch.isdigit() for ch in parsed.rest)
    if found and _DEPTH[found[0].match_level] >= named and not unread:
        return found
    rereads = []
    if unread:
        rereads.append(_typo_rescue(parsed))
    if parsed.building and index.lou_compounds:
        rereads.append(_lou_rescue(parsed, index))
    for again in rereads:
        if again is not None:
            rescued = _match(again, index)
            if rescued and (
                not found or _DEPTH[rescued[0].match_level] >= _DEPTH[found[0].match_level]
            ):
                for c in rescued:
                    c.reread = again
                return rescued
    return found


def _match(parsed: ParsedAddress, index: AddressIndex) -> list[Candidate]:
    tsp = parsed.township_code
    if tsp:
        found = _match_in(parsed, index, tsp)
        if found:
            return found
    found = _match_in(parsed, index, None)
    for c in found:
        c.county_wide = True
    return found
