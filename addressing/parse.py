"""Stage 2: parse a normalized address into its parts.

Shaped like pelias/parser: tokens (division names found by an Aho-Corasick automaton over the
normalized text, plus fuzzy ones for typos) ▸ classification (level, full name or abbreviation)
▸ solver (the hierarchy-consistent chain with the best score; ties that nothing in the text
breaks stay unresolved and are reported, never picked silently). Former names (宣武区, 郫县)
come from the alias table, read before any fuzzy guess; generic ones (城区, 郊区) and generic
zone words (开发区, 高新区) only inside a division the text names; a chain that contradicts a
county or city named before it, in another city, loses; a municipality named alone gives its
one city (3101); of several addresses in one line the first is read. The rest of the text is then
read left to right: road (a suffix typed as 璐 or 接 before a door number is read as 路 or 街
and reported in ``fuzzy``), door number, compound (with its phase: 星河湾2期), building (a
number or a letter: 5幢, A幢), unit, floor, room.
"""

from __future__ import annotations

import gc
import re
from functools import lru_cache

import ahocorasick
from pypinyin import lazy_pinyin
from rapidfuzz.distance import Levenshtein

from addressing.divisions import (
    CODE_LENGTH,
    MUNICIPALITIES,
    PLACEHOLDERS,
    DivisionIndex,
    is_generic_zone,
    is_zone,
    load,
)
from addressing.model import LEVELS, Conflict, ParsedAddress
from addressing.normalize import normalize

_BONUS = {"province": 0.5, "city": 1.0, "county": 1.5, "township": 2.0, "community": 2.5}
_UPPER = ("province", "city", "county")
# code length → the lengths of its ancestors' codes
_HEADS = {2: (), 4: (2,), 6: (2, 4), 9: (2, 4, 6), 12: (2, 4, 6, 9)}
# What a name in the automaton is, besides a current division's name or abbreviation:
_ALIAS = 1  # a former or informal name (division_aliases.csv)
_GATED = 2  # ... that counts only where the text names its parent (城区, 郊区, 桥东区)
_SPLIT = 4  # ... of a division whose area went to several: its code is a guess
_ZONE = 8  # a development zone or park (开发区, 园区): not a real division
_GENERIC = 16  # a zone named by generic words only (县开发区): only inside a named division
# Several addresses in one line: a separator followed by another address (；, /, 、, "2.").
_SEPARATOR = re.compile(r"[;；|/／、]|\s(?=[(（]?\d{1,2}[.．、)）](?!\d))")
# A leading list number (1. 1、 (1)) is not part of the address.
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,2}[.．、](?!\d)|[(（]\d{1,2}[)）])")
# A label before an address (本部：, 工厂：, 地址:).
_LABEL = re.compile(r"^\s*[\u4e00-\u9fff]{1,4}[:：]")
# A division name immediately followed by this is the start of a road name (中山西路, 长春路).
_ROAD_FOLLOWS = re.compile(
    r"[东西南北中]{0,2}(?:\d+|[一二三四五六七八九十]+)?(?:路|街|大道|道|巷|弄|璐|接(?=\d))"
)
_ROAD_CHARS = frozenset("路街巷弄道璐")
# a full province, city or county name is not the head of a road's name (阳明区三道工业园)
_UPPER_SUFFIXES = ("省", "市", "区", "县", "自治州", "旗", "盟")
_ROAD_AT_DOOR = re.compile(r"(\D{1,12}?(?:路|大道|大街|街|巷|弄|道))(?=\d)")
# a road's suffix typed with a same-sound character, right before its door number (柳林璐34号)
_ROAD_TYPO = re.compile(r"(\D{1,12}?)(璐|接)(?=\d)")
_ROAD_TYPO_FIX = {"璐": "路", "接": "街"}
_ROAD_STRONG = re.compile(r"(\D{1,12}?(?:路|大道))")
_ROAD_END = re.compile(r"(\D{1,12}?(?:路|大道|大街|街|巷|弄|道))$")
# a door number: with 号, or without it where a name (not a building or room mark) follows
_DOOR = re.compile(r"(\d+[A-Za-z]?(?:-\d+)?)(?:号|(?![\d幢单室层楼号-]))")
# a door number without 号 before a compound named 楼… (裕林路40楼江新村), not a floor
_DOOR_LOU = re.compile(r"(\d+)(?=楼[^\d\W幢单室层楼号])")
_BUILDING_HAO = re.compile(r"(\d+[A-Za-z]?)号(?=\d+室)")
_BUILDING = re.compile(r"(\d+[A-Za-z]?|[A-Z])幢")
_UNIT = re.compile(r"(\d+)单元")
_FLOOR = re.compile(r"(\d+)(?:层|楼)")
_ROOM = re.compile(r"(\d+[A-Za-z]?)室")
_COMPOUND = re.compile(r"(\D+?)(?=\d|[A-Z]幢|$)")
# the phase of a compound belongs to its name (星河湾2期)
_PHASE = re.compile(r"\d+期")
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

    __slots__ = (
        "start",
        "end",
        "name",
        "code",
        "level",
        "full",
        "fuzzy",
        "weak",
        "weight",
        "flags",
    )

    def __init__(
        self,
        start: int,
        end: int,
        name: str,
        code: str,
        level: str,
        full: bool,
        fuzzy: bool,
        flags: int = 0,
    ) -> None:
        self.start, self.end, self.name, self.code = start, end, name, code
        self.level, self.full, self.fuzzy, self.flags = level, full, fuzzy, flags
        self.weak = (
            level == "community"
            or (not full and level == "township")
            or (fuzzy and not full and level not in _UPPER)
        )
        bonus = _BONUS[level] if full or level != "community" else 0.0
        self.weight = (
            len(name) + (1.5 if full else 0.0) + bonus - (1.5 if fuzzy or flags & _SPLIT else 0.0)
        )

    def __repr__(self) -> str:
        return f"Hit({self.name!r}, {self.code}, {self.start}-{self.end}, full={self.full})"


@lru_cache(maxsize=1)
def _automaton() -> ahocorasick.Automaton:
    """The multi-pattern matcher over every division name and abbreviation (built once)."""
    index = load()
    automaton = ahocorasick.Automaton()
    words: dict[str, list[tuple[str, str, bool, int, str]]] = {}
    for name, entries in index.names.items():
        typed = words.setdefault(name, [])
        # a 街道 that was a town, written as the town (真如镇 for 真如镇街道), counts as a full
        # name: three characters at least (城镇 is a word), and not a county's or city's name
        town = (
            len(name) >= 3
            and name[-1] in "镇乡"
            and all(index.by_code[c].level not in _UPPER for c, _ in entries)
        )
        for code, full in entries:
            division = index.by_code[code]
            flags = 0
            if is_zone(division.name):
                flags |= _ZONE | (_GENERIC if is_generic_zone(division.name) else 0)
            if town and division.name == name + "街道":
                full = True
            typed.append((code, division.level, full, flags, ""))
    for name, aliases in index.aliases.items():
        typed = words.setdefault(name, [])
        for a in aliases:
            flags = _ALIAS | (_GATED if a.gated else 0) | (_SPLIT if a.kind == "split" else 0)
            typed.append((a.code, a.level, True, flags, a.parent))
    for name, typed in words.items():
        automaton.add_word(name, (name, tuple(typed)))
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
    raw: list[tuple[int, int, str, str, str, bool, int, str]] = []
    codes: set[str] = set()
    road_at: dict[int, bool] = {}
    compound_at: dict[int, bool] = {}
    for end, (name, entries) in _automaton().iter(text, 0, limit):
        start = end - len(name) + 1
        after = end + 1
        road = road_at.get(after)
        if road is None:
            road = road_at[after] = _ROAD_FOLLOWS.match(text, after) is not None
        if road and not name.endswith(_UPPER_SUFFIXES):
            continue
        if road:
            entries = tuple(e for e in entries if e[2] and e[1] in _UPPER)
        digit_follows = after < len(text) and text[after].isdigit()
        compound_follows = compound_at.get(after)
        if compound_follows is None:
            compound_follows = compound_at[after] = text[after:limit].endswith(COMPOUND_SUFFIXES)
        for code, level, full, flags, parent in entries:
            if digit_follows and (level == "community" or (level == "township" and not full)):
                continue  # a compound named like a village (康兰新村2幢)
            if compound_follows and level == "community" and not full:
                continue  # the head of a compound's name (广泽 of 广泽嘉园)
            raw.append((start, after, name, code, level, full, flags, parent))
            codes.add(code)
    aliases: list[Hit] = []
    for start, after, name, code, level, full, flags, parent in raw:
        if level == "community":
            # a community counts only below its county or township: skip the rest early
            if code[:9] not in codes and code[:6] not in codes:
                continue
        elif level == "township" and not full:
            if not any(code[:n] in codes for n in _HEADS[len(code)]):
                continue
        if flags and not _admitted(start, name, code, flags, parent, codes, raw):
            continue
        hit = Hit(start, after, name, code, level, full, False, flags)
        out.append(hit)
        if flags & _ALIAS:
            aliases.append(hit)
    if aliases:
        # the longest name wins: a current name inside a former one (东区 in 江东区) is no hit
        out = [
            h
            for h in out
            if h.flags & _ALIAS
            or not any(
                a.start <= h.start and h.end <= a.end and a.end - a.start > h.end - h.start
                for a in aliases
            )
        ]
    return out


def _named(code: str, codes: set[str]) -> bool:
    """Whether the text names the division ``code`` (a municipality's city: its province)."""
    return code in codes or (
        len(code) == 4 and code.endswith("01") and code[:2] in MUNICIPALITIES and code[:2] in codes
    )


def _admitted(
    start: int,
    name: str,
    code: str,
    flags: int,
    parent: str,
    codes: set[str],
    raw: list[tuple[int, int, str, str, str, bool, int, str]],
) -> bool:
    """Whether an alias or a zone hit counts, given the other names in the text.

    A county-level zone (阜阳合肥现代产业园区) named after a real county of its city (颍州区)
    does not replace it. A gated alias (城区, 郊区, 桥东区) needs its parent named (a
    township's: its county, or anything in its county's city). A generic zone (开发区,
    工业园区) needs its county named, or its city when the text names no county of that city; and a
    leading 县/市 that ends the name before it (夏津县开发区) is not the zone's. A two-character
    alias (郫县, 通县) must start the text or follow another name.
    """
    if (
        flags & _ZONE
        and len(code) == 6
        and any(
            r[4] == "county" and r[1] <= start and r[3][:4] == code[:4] and not r[6] for r in raw
        )
    ):
        return False  # a county-level zone after a named county of its city is within it
    if flags & _ALIAS and len(name) == 2 and start > 0 and not any(r[1] == start for r in raw):
        return False  # a one-character stem (安县) inside an unknown word (干安县)
    if flags & _GATED and not _named(parent, codes):
        # a former township name (下沙) may also be placed by its county's city (江干区下沙)
        if len(code) < 9 or not any(c != code and c.startswith(parent[:4]) for c in codes):
            return False
    if flags & _GENERIC:
        if len(code) <= 6 or code[:6] not in codes:
            city = code[:4]
            if not _named(city, codes) or any(
                len(c) == 6 and c.startswith(city) and c != code for c in codes
            ):
                return False
        if name[0] in "县市区" and any(r[1] == start + 1 and not r[6] & _GENERIC for r in raw):
            return False
    return True


def _overlaps(h: Hit, members: list[Hit]) -> bool:
    for m in members:
        if h.start < m.end and m.start < h.end:
            return True
    return False


def _chain(anchor: str, by_code: dict[str, list[Hit]], named: list[Hit]) -> tuple[float, list[Hit]]:
    """The score and members of the chain ending at the division ``anchor``.

    A province, city or county that the text names before the chain's deepest member, in
    another city than the chain's, counts against the chain (昆山市锦溪镇 is not 龙泉's
    锦溪镇); one in the same city does not (a clerk's wrong district: the township is kept).
    """
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
    score = sum(m.weight for m in members)
    if named:
        first = members[0].start
        agree: list[Hit] = []
        against: list[Hit] = []
        for h in named:
            n = min(len(h.code), 4, len(anchor))
            if h.code[:n] == anchor[:n]:
                agree.append(h)
        for h in named:
            n = min(len(h.code), 4, len(anchor))
            if (
                h.start < first
                and h.code[:n] != anchor[:n]
                and not _overlaps(h, members)
                and not _overlaps(h, agree)  # another reading of the name agrees
                and not _overlaps(h, against)
            ):
                against.append(h)
                score -= h.weight
    return score, members


def _solve(hits: list[Hit], context: str | None) -> tuple[list[str], list[Hit]]:
    """The best anchors (more than one when tied) and the members of the first."""
    by_code: dict[str, list[Hit]] = {}
    for h in hits:
        by_code.setdefault(h.code, []).append(h)
    # an ancestor of a strong hit scores less than that hit's own chain
    dominated = {h.code[:n] for h in hits if not h.weak for n in _HEADS[len(h.code)]}
    named = sorted(
        (h for h in hits if h.level in _UPPER and not h.fuzzy and not h.flags & _ZONE),
        key=lambda h: -h.weight,
    )
    scored = [
        (*_chain(code, by_code, named), code)
        for code, group in by_code.items()
        if code not in dominated
        and (not all(h.weak for h in group) or any(code[:n] in by_code for n in _HEADS[len(code)]))
    ]
    scored = [s for s in scored if s[1]]
    if not scored:
        return [], []
    top = max(s[0] for s in scored)
    tied = [s for s in scored if s[0] >= top - 1e-9]
    if len(tied) > 1:
        # a reading of the text as written beats a guessed typo that scores the same
        exact = [s for s in tied if not any(m.fuzzy for m in s[1])]
        tied = exact or tied
    if len(tied) > 1 and all(len(s[2]) >= 9 for s in tied):
        # two townships named one after the other (石镇梓埠): the first is the address's, the
        # next a place within it; one name that means several townships stays unresolved
        first = min(s[1][0].start for s in tied)
        lead = [s for s in tied if s[1][0].start == first]
        if all(
            s[1][0].end <= first or s[1][0].start >= lead[0][1][0].end
            for s in tied
            if s not in lead
        ):
            tied = lead
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


def _under(code: str, named: set[str]) -> bool:
    """Whether a division lies inside one of the ``named`` divisions."""
    return any(code[:n] in named for n in _HEADS[len(code)])


def _fuzzy_hits(
    text: str, starts: list[int], limit: int, index: DivisionIndex, named: set[str]
) -> list[Hit]:
    """Division names written with a typo: same pinyin, or one character substituted.

    Where a guess lies inside a division the text names (``named``: the codes of its exact
    hits), only such guesses are kept (石基镇 in 番禺区 is its 石碁镇, not 时集镇 elsewhere).
    """
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
            if window in index.aliases:
                break  # a former name, read exactly: no typo to guess
            if (
                window[-1] in _ROAD_CHARS
                and not window.endswith("街道")
                and text[p + n : p + n + 1].isdigit()
            ):
                continue  # a road before its door plate (兴业巷15号 is not 兴业乡)
            found = [(c, f, False) for c, f in by_pinyin.get(_pinyin(window), [])]
            inside = [e for e in found if _under(e[0], named)]
            if not inside and n >= 3:
                edits = []
                for i in range(n):
                    for name in by_pattern.get(window[:i] + "?" + window[i + 1 :], ()):
                        if Levenshtein.distance(name, window) == 1:
                            edits += [(c, f, True) for c, f in index.names[name]]
                inside = [e for e in edits if _under(e[0], named)]
                if not found:
                    found = edits
            found = inside or found
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
        extra = _fuzzy_hits(text, starts, limit, index, {h.code for h in members})
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
    if code in MUNICIPALITIES:
        code += "01"  # a municipality's one city (上海市江场西路 is in 3101)
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
    for pattern in (_ROAD_AT_DOOR, _ROAD_TYPO, _ROAD_STRONG, _ROAD_END):
        m = pattern.match(text, pos)
        if m:
            parsed.road = m.group(1)
            if pattern is _ROAD_TYPO:
                parsed.road += _ROAD_TYPO_FIX[m.group(2)]
                parsed.fuzzy = sorted({*parsed.fuzzy, "road"})
            pos = m.end()
            break
    if parsed.road:
        m = _DOOR.match(text, pos)
        if m and not _BUILDING.match(text, pos) and not _BUILDING_HAO.match(text, pos):
            parsed.door_number = m.group(1)
            pos = m.end()
        elif m is None:
            m = _DOOR_LOU.match(text, pos)
            if m:
                parsed.door_number = m.group(1)
                pos = m.end()
    m = _COMPOUND.match(text, pos)
    if m and (m.end() < len(text) or m.group(1).endswith(COMPOUND_SUFFIXES)):
        parsed.compound = m.group(1)
        pos = m.end()
        phase = _PHASE.match(text, pos)
        if phase:
            parsed.compound += phase.group(0)
            pos = phase.end()
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


def _first_address(text: str) -> str:
    """The first address of a line that holds several (上海市…；武汉市…), without a list number.

    A separator (；/、|, or a list number after a space) ends the first address only where
    what follows it starts with a province, city or county name.
    """
    m = _LIST_NUMBER.match(text)
    if m:
        text = text[m.end() :]
    for sep in _SEPARATOR.finditer(text):
        after = text[sep.end() :]
        m = _LIST_NUMBER.match(after) or _LABEL.match(after)
        if m:
            after = after[m.end() :]
        head = normalize(after[:12])
        for end, (name, entries) in _automaton().iter(head):
            if end - len(name) + 1 > 1:
                break
            if any(level in _UPPER and not f & (_GATED | _ZONE) for _, level, _, f, _ in entries):
                if normalize(text[: sep.start()]):
                    return text[: sep.start()]
                break
    return text


def parse(text: str, context: str | None = None) -> ParsedAddress:
    """Parse one address text.

    ``context`` is an optional division code (e.g. "330203" for a Haishu register) used only to
    break a tie between equally good readings; without it a tie stays unresolved and is
    reported in ``conflicts``.
    """
    parsed = ParsedAddress(text=text, normalized=normalize(_first_address(text)))
    cut = _apply_divisions(parsed, context)
    _tail(parsed, parsed.normalized[cut:])
    return parsed
