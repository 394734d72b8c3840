"""Stage 2: parse a normalized address into its parts.

Shaped like pelias/parser: tokens (division names found by an Aho-Corasick automaton over the
normalized text, plus fuzzy ones for typos) ▸ classification (level, full name or abbreviation)
▸ solver (the hierarchy-consistent chain with the best score; ties that nothing in the text
breaks stay unresolved and are reported, never picked silently). The rest of the text is then
read left to right: road, door number, compound, building, unit, floor, room.
"""

from __future__ import annotations

import gc
import re
from functools import lru_cache

import ahocorasick
from pypinyin import lazy_pinyin
from rapidfuzz.distance import Levenshtein

from addressing.divisions import CODE_LENGTH, PLACEHOLDERS, DivisionIndex, load
from addressing.model import LEVELS, Conflict, ParsedAddress
from addressing.normalize import normalize

_BONUS = {"province": 0.5, "city": 1.0, "county": 1.5, "township": 2.0, "community": 2.5}
_UPPER = ("province", "city", "county")
# code length → the lengths of its ancestors' codes
_HEADS = {2: (), 4: (2,), 6: (2, 4), 9: (2, 4, 6), 12: (2, 4, 6, 9)}
# A division name immediately followed by this is the start of a road name (中山西路, 长春路).
_ROAD_FOLLOWS = re.compile(
    r"[东西南北中]{0,2}(?:\d+|[一二三四五六七八九十]+)?(?:路|街|大道|道|巷|弄)"
)
_ROAD_AT_DOOR = re.compile(r"(\D{1,12}?(?:路|大道|大街|街|巷|弄|道))(?=\d)")
_ROAD_STRONG = re.compile(r"(\D{1,12}?(?:路|大道))")
_ROAD_END = re.compile(r"(\D{1,12}?(?:路|大道|大街|街|巷|弄|道))$")
# a door number: with 号, or without it where a name (not a building or room mark) follows
_DOOR = re.compile(r"(\d+[A-Za-z]?(?:-\d+)?)(?:号|(?![\d幢单室层楼号-]))")
_BUILDING_HAO = re.compile(r"(\d+[A-Za-z]?)号(?=\d+室)")
_BUILDING = re.compile(r"(\d+[A-Za-z]?)幢")
_UNIT = re.compile(r"(\d+)单元")
_FLOOR = re.compile(r"(\d+)(?:层|楼)")
_ROOM = re.compile(r"(\d+[A-Za-z]?)室")
_COMPOUND = re.compile(r"(\D+?)(?=\d|$)")
COMPOUND_SUFFIXES = (
    "苑",
    "园",
    "小区",
    "花园",
    "新村",
    "公寓",
    "家园",
    "大厦",
    "广场",
    "嘉园",
    "名邸",
    "府",
    "湾",
    "里",
    "院",
    "宿舍",
    "大院",
    "华庭",
    "名都",
    "城",
    "城市",
    "弄堂",
)


class Hit:
    """A division name found in the text: its span, the division it may mean, and how.

    ``weak`` hits (communities, abbreviated townships, fuzzy lower levels) count only in a chain
    that also holds a strong province, city, county or full township name; ``weight`` is how
    much a hit supports its chain.
    """

    __slots__ = ("start", "end", "name", "code", "level", "full", "fuzzy", "weak", "weight")

    def __init__(
        self, start: int, end: int, name: str, code: str, level: str, full: bool, fuzzy: bool
    ) -> None:
        self.start, self.end, self.name, self.code = start, end, name, code
        self.level, self.full, self.fuzzy = level, full, fuzzy
        self.weak = (
            level == "community"
            or (not full and level == "township")
            or (fuzzy and not full and level not in _UPPER)
        )
        bonus = _BONUS[level] if full or level != "community" else 0.0
        self.weight = len(name) + (1.5 if full else 0.0) + bonus - (1.5 if fuzzy else 0.0)

    def __repr__(self) -> str:
        return f"Hit({self.name!r}, {self.code}, {self.start}-{self.end}, full={self.full})"


@lru_cache(maxsize=1)
def _automaton() -> ahocorasick.Automaton:
    """The multi-pattern matcher over every division name and abbreviation (built once)."""
    index = load()
    automaton = ahocorasick.Automaton()
    for name, entries in index.names.items():
        typed = tuple((code, index.by_code[code].level, full) for code, full in entries)
        automaton.add_word(name, (name, typed))
    automaton.make_automaton()
    # The index is large and lives as long as the process: keep the collector off it.
    gc.freeze()
    return automaton


@lru_cache(maxsize=1)
def _fuzzy_tables() -> tuple[dict[str, list[tuple[str, bool]]], dict[str, list[str]]]:
    """Pinyin → [(code, full)], and a one-substitution key (海?区) → names (built once)."""
    index = load()
    by_pinyin: dict[str, list[tuple[str, bool]]] = {}
    by_pattern: dict[str, list[str]] = {}
    for name, entries in index.names.items():
        levels = {index.by_code[c].level for c, _ in entries}
        if levels <= {"community"}:
            continue
        by_pinyin.setdefault("".join(lazy_pinyin(name)), []).extend(entries)
        if 3 <= len(name) <= 4:
            for i in range(len(name)):
                by_pattern.setdefault(name[:i] + "?" + name[i + 1 :], []).append(name)
    gc.freeze()
    return by_pinyin, by_pattern


@lru_cache(maxsize=65536)
def _pinyin(text: str) -> str:
    """The toneless pinyin of a text, syllables run together (cached)."""
    return "".join(lazy_pinyin(text))


def _hits(text: str, limit: int, index: DivisionIndex) -> list[Hit]:
    """Every division name in text[:limit] that is not the start of a road name."""
    out = []
    raw: list[tuple[int, int, str, str, str, bool]] = []
    codes: set[str] = set()
    road_at: dict[int, bool] = {}
    compound_at: dict[int, bool] = {}
    for end, (name, entries) in _automaton().iter(text, 0, limit):
        start = end - len(name) + 1
        after = end + 1
        road = road_at.get(after)
        if road is None:
            road = road_at[after] = _ROAD_FOLLOWS.match(text, after) is not None
        if road:
            continue
        digit_follows = after < len(text) and text[after].isdigit()
        compound_follows = compound_at.get(after)
        if compound_follows is None:
            compound_follows = compound_at[after] = text[after:limit].endswith(COMPOUND_SUFFIXES)
        for code, level, full in entries:
            if digit_follows and (level == "community" or (level == "township" and not full)):
                continue  # a compound named like a village (康兰新村2幢)
            if compound_follows and level == "community" and not full:
                continue  # the head of a compound's name (广泽 of 广泽嘉园)
            raw.append((start, after, name, code, level, full))
            codes.add(code)
    for start, after, name, code, level, full in raw:
        if level == "community":
            # a community counts only below its county or township: skip the rest early
            if code[:9] not in codes and code[:6] not in codes:
                continue
        elif level == "township" and not full:
            if not any(code[:n] in codes for n in _HEADS[len(code)]):
                continue
        out.append(Hit(start, after, name, code, level, full, False))
    return out


def _overlaps(h: Hit, members: list[Hit]) -> bool:
    for m in members:
        if h.start < m.end and m.start < h.end:
            return True
    return False


def _chain(anchor: str, by_code: dict[str, list[Hit]]) -> tuple[float, list[Hit]]:
    """The score and members of the chain ending at the division ``anchor``."""
    members: list[Hit] = []
    for n in (len(anchor), *reversed(_HEADS[len(anchor)])):
        best = None
        for h in by_code.get(anchor[:n], ()):
            if (best is None or h.weight > best.weight) and not _overlaps(h, members):
                best = h
        if best is not None:
            members.append(best)
    if not members or members[0].code != anchor:
        return 0.0, []
    strong = False
    for m in members:
        if not m.weak and (m.full or m.level in _UPPER):
            strong = True
            break
    if not strong:
        members = [m for m in members if not m.weak]
        if not members or members[0].code != anchor:
            return 0.0, []
    return sum(m.weight for m in members), members


def _solve(hits: list[Hit], context: str | None) -> tuple[list[str], list[Hit]]:
    """The best anchors (more than one when tied) and the members of the first."""
    by_code: dict[str, list[Hit]] = {}
    for h in hits:
        by_code.setdefault(h.code, []).append(h)
    # an ancestor of a strong hit scores less than that hit's own chain
    dominated = {h.code[:n] for h in hits if not h.weak for n in _HEADS[len(h.code)]}
    scored = [
        (*_chain(code, by_code), code)
        for code, group in by_code.items()
        if code not in dominated
        and (not all(h.weak for h in group) or any(code[:n] in by_code for n in _HEADS[len(code)]))
    ]
    scored = [s for s in scored if s[1]]
    if not scored:
        return [], []
    top = max(s[0] for s in scored)
    tied = [s for s in scored if s[0] >= top - 1e-9]
    if len(tied) > 1 and context:
        near = [s for s in tied if s[2].startswith(context) or context.startswith(s[2])]
        tied = near or tied
    tied.sort(key=lambda s: min(m.start for m in s[1]))
    return [s[2] for s in tied], tied[0][1]


def _common(codes: list[str]) -> str:
    """The deepest division code that is an ancestor of (or equal to) every code given."""
    best = ""
    for level in LEVELS:
        n = CODE_LENGTH[level]
        heads = {c[:n] for c in codes if len(c) >= n}
        if len(heads) != 1 or any(len(c) < n for c in codes):
            break
        best = heads.pop()
    return best


def _fuzzy_hits(text: str, starts: list[int], limit: int, index: DivisionIndex) -> list[Hit]:
    """Division names written with a typo: same pinyin, or one character substituted."""
    by_pinyin, by_pattern = _fuzzy_tables()
    out: list[Hit] = []
    todo, seen = list(starts), set()
    while todo:
        p = todo.pop()
        if p in seen or p >= limit:
            continue
        seen.add(p)
        for n in (5, 4, 3, 2):
            window = text[p : p + n]
            if len(window) < n or p + n > limit or window in index.names:
                continue
            found = [(c, f, False) for c, f in by_pinyin.get(_pinyin(window), [])]
            if not found and n >= 3:
                for i in range(n):
                    for name in by_pattern.get(window[:i] + "?" + window[i + 1 :], ()):
                        if Levenshtein.distance(name, window) == 1:
                            found += [(c, f, True) for c, f in index.names[name]]
            if found:
                for code, full, edit in found:
                    level = index.by_code[code].level
                    if n < 3 and level not in _UPPER:
                        continue  # two characters are too few to guess a township by
                    out.append(Hit(p, p + n, window, code, level, full and not edit, True))
                todo.append(p + n)
                break
    return out


_DIVISION_FIELDS = tuple(f"{level}{suffix}" for level in LEVELS for suffix in ("", "_code"))
_Reading = tuple[
    tuple[str | None, ...], tuple[tuple[str, str, str, str], ...], tuple[str, ...], int, str
]


@lru_cache(maxsize=65536)
def _read_divisions(key: str, limit: int, context: str | None) -> _Reading:
    """The division reading of a text's head (everything before its first digit), cached.

    Register addresses repeat their heads (海曙区望春街道望春路…) many times over, and the
    reading depends on the head alone, so it is computed once per distinct head.
    """
    scratch = ParsedAddress(text=key, normalized=key)
    cut = _divisions(scratch, context, limit)
    return (
        tuple(getattr(scratch, name) for name in _DIVISION_FIELDS),
        tuple((c.part, c.found, c.kept, c.reason) for c in scratch.conflicts),
        tuple(scratch.fuzzy),
        cut,
        scratch.rest,
    )


def _apply_divisions(parsed: ParsedAddress, context: str | None) -> int:
    """Fill the division parts of ``parsed``; returns where the rest of the address starts."""
    text = parsed.normalized
    limit = next((i for i, c in enumerate(text) if c.isdigit()), len(text))
    head = text[:limit] + ("0" if limit < len(text) else "")  # a digit follows: keep that
    values, conflicts, fuzzy, cut, rest = _read_divisions(head, limit, context)
    for name, value in zip(_DIVISION_FIELDS, values, strict=True):
        setattr(parsed, name, value)
    parsed.conflicts = [Conflict(*c) for c in conflicts]
    parsed.fuzzy = list(fuzzy)
    parsed.rest = rest
    return cut


def _divisions(parsed: ParsedAddress, context: str | None, limit: int) -> int:
    """Fill the division parts found in text[:limit]; returns where the rest starts."""
    index = load()
    text = parsed.normalized
    hits = _hits(text, limit, index)
    anchors, members = _solve(hits, context)
    cut = max((m.end for m in members), default=0)
    if not any(m.level in ("township", "community") for m in members):
        covered = {i for m in members for i in range(m.start, m.end)}
        starts = [cut] + [i for i in range(cut) if i not in covered and (i - 1) in covered | {-1}]
        starts += [m.start for m in members if not m.full]
        extra = _fuzzy_hits(text, starts, limit, index)
        if extra:
            hits = hits + extra
            anchors, members = _solve(hits, context)
            cut = max((m.end for m in members), default=0)
    last = max(members, key=lambda m: m.end, default=None)
    if last is not None:
        cut = max(cut, _typo_suffix_end(text, last, index))
    if len(anchors) > 1:
        _ambiguous(parsed, anchors, hits, index)
        code = _common(anchors)
        cut = max(cut, max(h.end for h in hits if h.code in anchors))
    else:
        code = anchors[0] if anchors else ""
    _fill(parsed, code, index)
    parsed.fuzzy = sorted({m.level for m in members if m.fuzzy}) if len(anchors) == 1 else []
    _conflicts(parsed, hits, members, cut, index)
    used = {i for m in members for i in range(m.start, m.end)}
    parsed.rest = "".join(c for i, c in enumerate(text[:cut]) if i not in used)
    return cut


def _typo_suffix_end(text: str, hit: Hit, index: DivisionIndex) -> int:
    """Where an abbreviated name ends if its suffix follows with a typo (望春 + 接道)."""
    if hit.full:
        return hit.end
    suffix = index.by_code[hit.code].name[len(hit.name) :]
    written = text[hit.end : hit.end + len(suffix)]
    if suffix and len(written) == len(suffix) and _pinyin(written) == _pinyin(suffix):
        return hit.end + len(suffix)
    return hit.end


def _fill(parsed: ParsedAddress, code: str, index: DivisionIndex) -> None:
    for level in LEVELS:
        n = CODE_LENGTH[level]
        if len(code) < n:
            break
        division = index.by_code.get(code[:n])
        if division is None:
            continue
        name: str | None = division.name
        if name in PLACEHOLDERS:
            name = parsed.province if level == "city" and name == "市辖区" else None
        setattr(parsed, level, name)
        setattr(parsed, f"{level}_code", division.code)


def _ambiguous(
    parsed: ParsedAddress, anchors: list[str], hits: list[Hit], index: DivisionIndex
) -> None:
    names = sorted({h.name for h in hits if h.code in anchors})
    level = index.by_code[anchors[0]].level
    parsed.conflicts.append(
        Conflict(
            part=level,
            found="/".join(names),
            kept="",
            reason=f"ambiguous: {len(anchors)} divisions ({', '.join(anchors)}) and nothing "
            "in the text tells them apart",
        )
    )


def _conflicts(
    parsed: ParsedAddress, hits: list[Hit], members: list[Hit], cut: int, index: DivisionIndex
) -> None:
    """Names before the cut that the chosen chain contradicts."""
    if not members:
        return
    seen = {c.found for c in parsed.conflicts}
    chain_names = {m.name for m in members}
    deepest = members[0]
    reported: list[Hit] = []
    candidates = [
        h
        for h in hits
        if h.end <= cut and h.name not in chain_names and (h.full or h.level in _UPPER)
    ]
    for h in sorted(candidates, key=lambda h: -len(h.name)):
        if h.name in seen or _overlaps(h, reported) or _overlaps(h, members):
            continue
        kept = getattr(parsed, h.level)
        if (
            kept is None
            or kept == h.name
            or any(index.by_code[c].name == kept for c, _ in index.names.get(h.name, []))
        ):
            continue
        seen.add(h.name)
        reported.append(h)
        parsed.conflicts.append(
            Conflict(
                part=h.level,
                found=h.name,
                kept=kept,
                reason=f"{deepest.name} belongs to {kept}",
            )
        )


def _floor_of(room: str) -> str | None:
    digits = "".join(c for c in room if c.isdigit())
    if len(digits) < 3:
        return None
    return str(int(digits[:-2])) or None


def _tail(parsed: ParsedAddress, text: str) -> None:
    """Road, door number, compound, building, unit, floor and room, left to right."""
    pos, rest = 0, [parsed.rest]
    for pattern in (_ROAD_AT_DOOR, _ROAD_STRONG, _ROAD_END):
        m = pattern.match(text, pos)
        if m:
            parsed.road = m.group(1)
            pos = m.end()
            break
    if parsed.road:
        m = _DOOR.match(text, pos)
        if m and not _BUILDING.match(text, pos) and not _BUILDING_HAO.match(text, pos):
            parsed.door_number = m.group(1)
            pos = m.end()
    m = _COMPOUND.match(text, pos)
    if m and (m.end() < len(text) or m.group(1).endswith(COMPOUND_SUFFIXES)):
        parsed.compound = m.group(1)
        pos = m.end()
    steps = (
        ("building", _BUILDING),
        ("building", _BUILDING_HAO),
        ("unit", _UNIT),
        ("floor", _FLOOR),
        ("room", _ROOM),
    )
    while pos < len(text):
        for part, pattern in steps:
            m = pattern.match(text, pos)
            if m and getattr(parsed, part) is None:
                setattr(parsed, part, m.group(1))
                pos = m.end()
                break
        else:
            rest.append(text[pos])
            pos += 1
    if parsed.room and parsed.floor is None:
        parsed.floor = _floor_of(parsed.room)
    parsed.rest = "".join(rest)


def parse(text: str, context: str | None = None) -> ParsedAddress:
    """Parse one address text.

    ``context`` is an optional division code (e.g. "330203" for a Haishu register) used only to
    break a tie between equally good readings; without it a tie stays unresolved and is
    reported in ``conflicts``.
    """
    parsed = ParsedAddress(text=text, normalized=normalize(text))
    cut = _apply_divisions(parsed, context)
    _tail(parsed, parsed.normalized[cut:])
    return parsed
