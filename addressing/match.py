"""Stage 3: match a parsed address against the standard addresses (base.standard_address).

The whole table (about 190,000 rows for a district) is held in memory as plain tuples, with
dictionaries keyed by the parts an address is found by: road + door plate, compound +
building, and both down to the room. The most specific key that the parsed parts fill is
tried first; a parsed township narrows every key, and without one the whole county is
searched (road and compound names may repeat between townships: several candidates are then
returned and the scorer reports the ambiguity). Road and compound names that are not found
exactly are looked up with an edit distance of 1 (and a compound name found inside a longer
parsed one, e.g. 钱东社区天月雅苑). A door range (12-14) not in the base is looked up by its
first number.

Each row carries the code of the grid (base.grid) that holds its point, found once by one
spatial join when the index loads; the index also holds a point (point on surface) and grid
code for every county, township and community, for answers at those levels, and the parent
of each standard address (room → its building's row, building → its door plate's row), for
answers at a coarser level when several rooms fit.

A door number that is not in the base, on a road that is, is interpolated (match level
``interpolated``): between the nearest door plates of the same parity (odd/even) on that road
in that township, linearly by number; beyond the last one, at the nearest end. Such a
candidate has no address_id; its community and grid codes are those of the nearest door plate.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import Any, cast

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from addressing.model import ParsedAddress

# row layout
(ID, ADMIN, TOWNSHIP, ROAD, DOOR, COMPOUND, BUILDING, UNIT, ROOM, FULL, LEVEL, LON, LAT) = range(13)
BUILDING_ID, GRID = 13, 14
Row = tuple[Any, ...]
# one spatial join gives every standard address its grid (the first by code on a border);
# driven from the 1,400 grids through the address points' GiST index
_QUERY = """
SELECT a.address_id, a.admin_code, a.township_code, a.road, a.door_number, a.compound,
       a.building, a.unit, a.room, a.full_address, a.level, ST_X(a.geom), ST_Y(a.geom),
       a.building_id, ga.code
FROM base.standard_address a
LEFT JOIN (
    SELECT DISTINCT ON (p.address_id) p.address_id, g.code
    FROM base.grid g JOIN base.standard_address p ON ST_Intersects(g.geom, p.geom)
    ORDER BY p.address_id, g.code
) ga ON ga.address_id = a.address_id
ORDER BY a.address_id
"""
# a point inside each county, township and community, and the grid there
_PLACES = """
SELECT DISTINCT ON (d.code) d.code, ST_X(d.p), ST_Y(d.p), g.code
FROM (
    SELECT code, ST_PointOnSurface(geom) AS p FROM base.admin_division
    WHERE level IN ('county', 'township', 'community')
) d
LEFT JOIN base.grid g ON ST_Intersects(g.geom, d.p)
ORDER BY d.code, g.code
"""
_NUMBER = re.compile(r"\d+")


@dataclass
class Candidate:
    """A standard address that a parsed address may mean, and the path that found it."""

    address_id: str | None  # None for an interpolated door plate
    full_address: str
    level: str  # the standard address's own level: door, building or room (interpolated)
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
    building_id: str | None = None
    grid_code: str | None = None
    nearest: Candidate | None = None  # for an interpolated door: the nearest real door plate
    beyond: bool = False  # an interpolated door beyond the last door plate of its road


class AddressIndex:
    """The standard addresses of a district in memory, keyed for matching."""

    def __init__(
        self,
        rows: Iterable[Row],
        places: Iterable[tuple[str, float, float, str | None]] = (),
    ) -> None:
        self.rows: list[Row] = [r if len(r) == 15 else (*r, *(None,) * (15 - len(r))) for r in rows]
        # county, township or community code → (lon, lat, grid code) of a point inside it
        self.places = {c: (x, y, g) for c, x, y, g in places}
        self.building_row: dict[str, int] = {}  # building_id → its building-level row
        self.door_row: dict[tuple[str, str, str], int] = {}  # (township, road, door) → door row
        # (township, road) → [(door number as int, row)], sorted: for interpolation
        self.door_line: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
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
                if r[BUILDING_ID]:
                    self.building_row.setdefault(r[BUILDING_ID], i)
                if comp:
                    self.building_compound[(comp, b)].append(i)
                    compound_rep[comp].setdefault(tsp, i)
                if road and door:
                    self.building_road[(road, door, b)].append(i)
                    door_rep.setdefault((road, door), i)
            elif level == "door" and road and door:
                self.door[(road, door)].append(i)
                self.door_row.setdefault((tsp, road, door), i)
                road_rep[road].setdefault(tsp, i)
        self.townships_of_road: dict[str, set[str]] = defaultdict(set)
        for key, i in door_rep.items():
            if key not in self.door:
                self.door[key].append(i)
        for key, ids in self.door.items():
            road, door = cast(tuple[str, str], key)
            number = _NUMBER.match(door)
            if number:
                for i in ids:
                    self.door_line[(self.rows[i][TOWNSHIP], road)].append((int(number[0]), i))
                    self.townships_of_road[road].add(self.rows[i][TOWNSHIP])
        for line in self.door_line.values():
            line.sort()
        self.road = {k: sorted(v.values()) for k, v in road_rep.items()}
        self.compound = {k: sorted(v.values()) for k, v in compound_rep.items()}
        self.all_roads = sorted(set().union(*self.roads_by_township.values()))
        self.all_compounds = sorted(set().union(*self.compounds_by_township.values()))

    @classmethod
    def from_connection(cls, conn: Any) -> AddressIndex:
        """Load base.standard_address (with grid codes) and the community points through a
        DB-API connection (psycopg2)."""
        with conn.cursor() as cur:
            if not conn.autocommit:
                cur.execute("SET LOCAL jit = off")  # compiling costs more than it saves here
            cur.execute(_QUERY)
            rows = cur.fetchall()
            cur.execute(_PLACES)
            places = cur.fetchall()
        return cls(rows, places)

    def candidate(
        self, i: int, how: str, match_level: str, fuzzy: tuple[str, ...] = ()
    ) -> Candidate:
        """The candidate for row ``i``."""
        r = self.rows[i]
        return Candidate(
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
            building_id=r[BUILDING_ID],
            grid_code=r[GRID],
        )

    def parent(self, cand: Candidate) -> Candidate | None:
        """The standard address one level above a candidate: a room's building row, a
        building's door plate row (None when there is none)."""
        i: int | None = None
        if cand.level == "room" and cand.building_id:
            i = self.building_row.get(cand.building_id)
        elif cand.level == "building" and cand.road and cand.door_number:
            i = self.door_row.get((cand.township_code, cand.road, cand.door_number))
        if i is None:
            return None
        level = self.rows[i][LEVEL]
        return self.candidate(i, f"{cand.how}, its {level}", level, cand.fuzzy)

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
    return [index.candidate(i, how, match_level, fuzzy) for i in ids]


def _match_in(parsed: ParsedAddress, index: AddressIndex, tsp: str | None) -> list[Candidate]:
    """Most specific path first, within township ``tsp`` (None: the county)."""

    def keep(ids: list[int]) -> list[int]:
        return [i for i in ids if tsp is None or index.rows[i][TOWNSHIP] == tsp]

    # the road as written, its suffix typo read (村璐 → 村路) as the parser did
    text = parsed.normalized.replace("璐", "路") if "road" in parsed.fuzzy else parsed.normalized
    roads = _resolve(parsed.road, "road", lambda n: n in index.road, index, tsp, text)
    comps = _resolve(
        parsed.compound, "compound", lambda n: n in index.compound, index, tsp, parsed.normalized
    )
    door, b, u, room = parsed.door_number, parsed.building, parsed.unit, parsed.room
    # a door range (12-14) not in the base is looked up by its first number too
    doors = [door] if door and "-" not in door else [door, door.split("-")[0]] if door else []

    # each step: (match level, how, key table, [(key, fuzzy parts)])
    steps: list[_Step] = []
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
    if doors:
        steps.append(
            ("door", "road+door", index.door,
             [((r, d), _f("road", f)) for r, f in roads for d in doors])
        )  # fmt: skip
    steps.append(
        ("compound", "compound", index.compound, [(c, _f("compound", f)) for c, f in comps])
    )
    found = _first(index, steps, keep)
    if found:
        return found
    if doors:
        found = _interpolated(index, parsed, roads, tsp)
        if found:
            return found
    return _first(
        index, [("road", "road", index.road, [(r, _f("road", f)) for r, f in roads])], keep
    )


_Step = tuple[str, str, dict[Hashable, list[int]], list[tuple[Hashable, tuple[str, ...]]]]


def _first(
    index: AddressIndex, steps: list[_Step], keep: Callable[[list[int]], list[int]]
) -> list[Candidate]:
    """The candidates of the first step that finds any."""
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


def _interpolated(
    index: AddressIndex,
    parsed: ParsedAddress,
    roads: list[tuple[str, bool]],
    tsp: str | None,
) -> list[Candidate]:
    """A door plate that is not in the base, placed along each road that may be meant."""
    number = _NUMBER.match(parsed.door_number or "")
    if not number:
        return []
    n = int(number[0])
    out = []
    for road, fuzzy in roads:
        for township in [tsp] if tsp else sorted(index.townships_of_road.get(road, ())):
            line = index.door_line.get((township, road))
            if line:
                out.append(_place(index, line, n, road, _f("road", fuzzy)))
    return out


def _place(
    index: AddressIndex, line: list[tuple[int, int]], n: int, road: str, fuzzy: tuple[str, ...]
) -> Candidate:
    """Door number ``n`` placed on one road's line of door plates (same parity when any)."""
    same = [d for d in line if d[0] % 2 == n % 2] or line
    below = [d for d in same if d[0] <= n]
    above = [d for d in same if d[0] > n]
    if below and above:
        # a name may repeat on two roads of a township: take the closest pair of neighbours
        lows = [d for d in below if d[0] == below[-1][0]]
        highs = [d for d in above if d[0] == above[0][0]]
        lo, hi = min(((a, b) for a in lows for b in highs), key=lambda p: _apart(index, *p))
        t = (n - lo[0]) / (hi[0] - lo[0])
        a, b = index.rows[lo[1]], index.rows[hi[1]]
        lon, lat = a[LON] + t * (b[LON] - a[LON]), a[LAT] + t * (b[LAT] - a[LAT])
        near = lo if t <= 0.5 else hi
        how = f"road+door (interpolated between {lo[0]} and {hi[0]})"
    else:
        near = below[-1] if below else above[0]  # beyond the ends: the nearest end
        lon, lat = index.rows[near[1]][LON], index.rows[near[1]][LAT]
        how = f"road+door (beyond the door plates: at {near[0]})"
    nearest = index.candidate(near[1], "road+door (nearest door plate)", "door", fuzzy)
    full = nearest.full_address
    head = full[: full.find(road)] if road in full else ""
    return replace(
        nearest,
        address_id=None,
        full_address=f"{head}{road}{n}号",
        level="door",
        lon=lon,
        lat=lat,
        how=how,
        match_level="interpolated",
        beyond=not (below and above),
        door_number=str(n),
        compound=None,
        building=None,
        unit=None,
        room=None,
        building_id=None,
        nearest=nearest,
    )


def _apart(index: AddressIndex, a: tuple[int, int], b: tuple[int, int]) -> float:
    ra, rb = index.rows[a[1]], index.rows[b[1]]
    return float((ra[LON] - rb[LON]) ** 2 + (ra[LAT] - rb[LAT]) ** 2)


def match(parsed: ParsedAddress, index: AddressIndex) -> list[Candidate]:
    """Candidates for a parsed address, the most specific level that matched.

    With a parsed township the search stays inside it; if nothing is found there (the
    township may be wrong) the county is searched and the candidates are marked county_wide.
    """
    tsp = parsed.township_code
    if tsp:
        found = _match_in(parsed, index, tsp)
        if found:
            return found
    found = _match_in(parsed, index, None)
    for c in found:
        c.county_wide = True
    return found
