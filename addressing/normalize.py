"""Stage 1: normalize an address text before it is parsed.

NFKC (full-width → half-width), traditional → simplified (OpenCC ``t2s``), spaces and stray
punctuation removed, Chinese numerals read as digits where they stand in a number position
(directly before 号/幢/栋/座/单元/室/层/期; before 楼/弄/组 only when no name goes on after the
mark, so 三楼 and 李家村五组 are numbers but the 一 of 桂一弄堂 or 一楼湾 stays part of a name),
synonyms unified (栋/座 → 幢, 单 → 单元, N号楼 → N幢 unless a name goes on after it: in
40号楼江新村 the 楼 starts the compound's name; a lone building letter is upper-cased, a座 → A幢)
same-sound typos of a mark after a number corrected (8撞 → 8幢, 2丹元 → 2单元, 301式 → 301室)
and the compact forms spelled out (8-2-301 → 8幢2单元301室, 8栋2-301 → 8幢2单元301室,
3-402 → 3幢402室). Everything is compiled once at import; the OpenCC converter is created once,
on first use, and only called on texts that hold a character it would change.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import cn2an
import opencc

_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_NUMERAL = "零〇一二两三四五六七八九十百千"
_DIGIT_OF = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "两": "2"}

# Dashes and similar marks typed between numbers, all read as '-'.
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−~～_"})
# Spaces and punctuation that carry no meaning in an address ('-' is handled separately).
_JUNK = re.compile(r"[\s,.;:!?'\"`()\[\]{}<>/\\|*+=^&%$@，。、；：！？“”‘’（）【】《》「」『』·…]+")
_CJK = "\u4e00-\u9fff"
_NUMERAL_BEFORE_MARK = re.compile(
    rf"[{_CN_NUMERAL}]+(?=号|幢|栋|座|单元|单|室|层|期|(?:楼|弄|组)(?![{_CJK}]))"
)
# 8栋, 8座, 8号楼 (not 40号楼江新村: a name goes on) and a lone letter: A座, b栋
_SYNONYM_BUILDING = re.compile(
    rf"(\d+[A-Za-z]?|(?<![A-Za-z])[A-Za-z])(?:号楼(?![{_CJK}])|栋|座|幢)"
)
# same-sound typos of a mark right after a number (8撞, 二冻, 2丹元, 301式)
_MARK_TYPO = re.compile(rf"(?<=[\d{_CN_NUMERAL}])(撞|冻|丹元|单园|式)")
_MARK_TYPO_CHARS = frozenset("撞冻丹园式")
_MARK_FIX = {"撞": "幢", "冻": "栋", "丹元": "单元", "单园": "单元", "式": "室"}
_UNIT_SHORT = re.compile(r"(\d+)单(?!元)")
# 5号2单元 → 5幢2单元: a 号 right before a unit is a building number.
_HAO_BEFORE_UNIT = re.compile(r"(\d+)号(?=\d+单元)")
# 8幢2-301 → 8幢2单元301室
_BUILDING_DASH = re.compile(r"([\dA-Z]+幢)(\d+)-(\d+)(?![\d号-])")
# 8-2-301 → 8幢2单元301室 (not a door range such as 12-3-5号)
_THREE_PART = re.compile(r"(?<![\d-])(\d+)-(\d+)-(\d+)(?![\d号-])")
# 3-402 → 3幢402室 where it follows a name (a compound), not a road's door number
_TWO_PART = re.compile(r"(?<=[^\d\-路街道巷弄璐])(\d+)-(\d+)(?![\d号-])")
# 8幢2单元301 / 8幢301 at a room position → …室
_ROOM_NO_MARK = re.compile(r"((?:\d+单元|[\dA-Z]+幢))(\d{3,4}[A-Za-z]?)(?![\d号室层楼单幢-])")
# a '-' that is not between two digits
_LONE_DASH = re.compile(r"(?<!\d)-|-(?!\d)")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _traditional_chars() -> frozenset[str]:
    """Every CJK character OpenCC t2s maps to something else (computed once, ~20k chars)."""
    chars = [chr(c) for c in range(0x3400, 0xA000)]
    simplified = _converter().convert("\n".join(chars)).split("\n")
    if len(simplified) != len(chars):  # pragma: no cover - a phrase merge across lines
        return frozenset(chars)
    return frozenset(c for c, s in zip(chars, simplified, strict=True) if c != s)


@lru_cache(maxsize=1)
def _kept_chars() -> frozenset[str]:
    """Characters that OpenCC would simplify but that official division names (township level
    and above) are written with: 乾 in 乾安县, 於 in 於潜镇, 濛 in 濛江镇. They are kept."""
    from addressing.divisions import CODE_LENGTH, load

    trad = _traditional_chars()
    names = (d.name for d in load().by_code.values() if len(d.code) <= CODE_LENGTH["township"])
    return frozenset(ch for name in names for ch in name if ch in trad)


def to_simplified(text: str) -> str:
    """Traditional → simplified with OpenCC, skipped when no character would change; the
    characters of official division names (see _kept_chars) stay as written."""
    trad = _traditional_chars()
    for ch in text:
        if ch in trad:
            try:
                out = str(_converter().convert(text))
            except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800"): OpenCC takes UTF-8
                text = text.encode("utf-8", "replace").decode("utf-8")
                out = str(_converter().convert(text))
            kept = _kept_chars()
            if len(out) == len(text) and any(c in kept for c in text):
                out = "".join(a if a in kept else b for a, b in zip(text, out, strict=True))
            return out
    return text


def numeral_to_digits(numeral: str) -> str:
    """A Chinese numeral as ASCII digits: 十二 → 12, 二十五 → 25, 一〇二 → 102, 五 → 5."""
    if any(c in "十百千" for c in numeral):
        try:
            return str(cn2an.cn2an(numeral.replace("〇", "零").replace("两", "二"), "normal"))
        except (ValueError, KeyError):
            return numeral
    return "".join(_DIGIT_OF.get(c, c) for c in numeral)


def _numeral(match: re.Match[str]) -> str:
    return numeral_to_digits(match.group(0))


def _mark(match: re.Match[str]) -> str:
    return _MARK_FIX[match.group(0)]


def _building(match: re.Match[str]) -> str:
    return match.group(1).upper() + "幢"


def normalize(text: str) -> str:
    """Normalize one address text (see the module docstring for every step)."""
    s = unicodedata.normalize("NFKC", text).translate(_DASHES)
    s = to_simplified(s)
    s = _JUNK.sub("", s)
    if "-" in s:
        s = _LONE_DASH.sub("", s)
    if not _MARK_TYPO_CHARS.isdisjoint(s):
        s = _MARK_TYPO.sub(_mark, s)
    if any(c in _CN_NUMERAL for c in s):
        s = _NUMERAL_BEFORE_MARK.sub(_numeral, s)
    s = _SYNONYM_BUILDING.sub(_building, s)
    if "单" in s:
        s = _UNIT_SHORT.sub(r"\1单元", s)
        s = _HAO_BEFORE_UNIT.sub(r"\1幢", s)
    if "-" in s:
        s = _BUILDING_DASH.sub(r"\1\2单元\3室", s)
        s = _THREE_PART.sub(r"\1幢\2单元\3室", s)
        s = _TWO_PART.sub(r"\1幢\2室", s)
    return _ROOM_NO_MARK.sub(r"\1\2室", s)
