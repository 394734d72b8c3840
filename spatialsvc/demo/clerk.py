"""Write standard addresses the way registry clerks really type them.

A clerk leaves out the province and the city, sometimes the township; writes 8幢2单元301,
8-2-301 or 8栋2-301; types full-width digits, Chinese numerals, stray spaces and the odd
homophone; now and then uses a traditional-character input method; names the compound and
drops the road, or the other way round. Each habit has a probability, kept below as module
constants, and the batch writer draws all of them with numpy before one cheap pass of string
assembly (about 2-3 µs a row).

The simplified → traditional table and the numeral writer are deliberately tiny: they only
have to *produce* noise for a handful of address characters. Reading such text back (which
the geocoder must do) is OpenCC's and cn2an's job, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

# How the administrative prefix is written: (form, probability). Forms name the parts kept.
PREFIX_FORMS: tuple[tuple[str, float], ...] = (
    ("province city county", 0.14),  # 浙江省宁波市海曙区
    ("city county", 0.20),  # 宁波市海曙区
    ("county", 0.24),  # 海曙区
    ("city- county-", 0.10),  # 宁波海曙
    ("county-", 0.10),  # 海曙
    ("province- city- county", 0.05),  # 浙江宁波海曙区
    ("", 0.17),  # nothing: starts at the township
)
P_TOWNSHIP = 0.65  # the township (街道/镇/乡) is written (always when the prefix is empty)
P_COMMUNITY = 0.08  # the community (社区/村) is written too
# Where both a road+door and a compound exist: which of them the clerk writes.
PLACE_FORMS: tuple[tuple[str, float], ...] = (
    ("road compound", 0.35),  # 望春路123号广泽嘉园5幢…
    ("compound", 0.42),  # 广泽嘉园5幢… (compound without road)
    ("road", 0.23),  # 望春路123号5幢… (road without compound)
)
# Building / unit / room: a format per form. {b} building, {u} unit, {r} room; a trailing
# "~" form is used when the building has no unit. Chinese-numeral forms are marked "cn".
ROOM_FORMS: tuple[tuple[str, str, float], ...] = (
    ("{b}幢{u}单元{r}室", "{b}幢{r}室", 0.28),
    ("{b}幢{u}单元{r}", "{b}幢{r}", 0.12),
    ("{b}-{u}-{r}", "{b}-{r}", 0.18),
    ("{b}栋{u}单元{r}室", "{b}栋{r}室", 0.10),
    ("{b}栋{u}-{r}", "{b}栋{r}", 0.08),
    ("{b}号楼{u}单元{r}室", "{b}号楼{r}室", 0.08),
    ("{b}幢{r}室", "{b}幢{r}室", 0.06),  # the unit left out
    ("cn{b}幢{u}单元{r}室", "cn{b}幢{r}室", 0.06),  # 五幢二单元201室
    ("{b}号{u}单元{r}室", "{b}号{r}室", 0.04),
)
BUILDING_FORMS: tuple[tuple[str, float], ...] = (
    ("{b}幢", 0.55),
    ("{b}栋", 0.2),
    ("{b}号楼", 0.15),
    ("cn{b}幢", 0.1),
)
P_FULLWIDTH = 0.06  # digits (and '-') typed full-width: １２３
P_TRADITIONAL = 0.05  # a traditional-character input method
P_TYPO = 0.04  # one character replaced by a same-sound or similar-looking one
P_SPACE = 0.08  # a stray space between two parts
P_DOOR_NO_HAO = 0.05  # the door number written without 号 (never right before a building number)

TRADITIONAL = str.maketrans(
    "区号园单楼门桥镇东广宁浙乡县锦华龙凤兴丰阳湾庄场汇万栋层苑岭轩阁馆鸿业长云丽湖滨边车马贸发"
    "观钟宫兰义树厅间让赵刘陈杨黄吴郑孙张汉杰绣",
    "區號園單樓門橋鎮東廣寧浙鄉縣錦華龍鳳興豐陽灣莊場匯萬棟層苑嶺軒閣館鴻業長雲麗湖濱邊車馬貿發"
    "觀鐘宮蘭義樹廳間讓趙劉陳楊黃吳鄭孫張漢傑繡",
)
FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
TYPOS: dict[str, str] = {
    "曙": "署",
    "园": "圆",
    "苑": "院",
    "幢": "撞",
    "栋": "冻",
    "单": "丹",
    "街": "接",
    "镇": "真",
    "桥": "乔",
    "港": "巷",
    "家": "佳",
    "庄": "壮",
    "湖": "胡",
    "江": "姜",
    "宁": "柠",
    "波": "坡",
    "春": "椿",
    "望": "旺",
    "路": "璐",
    "城": "成",
    "花": "华",
    "景": "京",
    "明": "名",
    "新": "心",
    "嘉": "佳",
    "锦": "金",
    "林": "琳",
    "山": "衫",
    "阳": "杨",
    "区": "曲",
    "元": "园",
    "室": "式",
}
_DIGITS_CN = "零一二三四五六七八九"


def chinese_numeral(text: str) -> str:
    """Write a whole number 1-99 in Chinese numerals ('25' → '二十五'); anything else as is."""
    if not text.isdigit() or not 0 < int(text) < 100:
        return text
    n = int(text)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS_CN[tens] + "十")
    return head + (_DIGITS_CN[ones] if ones else "")


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _strip(value: str, suffixes: Sequence[str]) -> str:
    for s in suffixes:
        if value.endswith(s) and len(value) > len(s):
            return value[: -len(s)]
    return value


def _prefix(form: str, province: str, city: str, county: str) -> str:
    parts = {"province": province, "city": city, "county": county}
    out = []
    for token in form.split():
        name = parts[token.rstrip("-")]
        out.append(name[:-1] if token.endswith("-") and len(name) > 2 else name)
    return "".join(out)


def _room_part(fmt: str, b: str, u: str, r: str) -> str:
    if fmt.startswith("cn"):
        return fmt[2:].format(b=chinese_numeral(b), u=chinese_numeral(u), r=r)
    return fmt.format(b=b, u=u, r=r)


def _compose(fields: Sequence[str], choice: Sequence[int]) -> list[str]:
    """The parts of one address text, from its fields and the clerk's choices."""
    (province, city, county, township, community, road, door, compound, building, unit, room) = (
        fields
    )
    prefix_i, township_on, community_on, place_i, room_i, building_i, no_hao = choice
    parts = []
    prefix = _prefix(PREFIX_FORMS[prefix_i][0], province, city, county)
    if prefix:
        parts.append(prefix)
    if township and (township_on or not prefix):
        parts.append(township)
    if community and community_on:
        # The committee (村委会, 居委会) is the office, not part of the place's name.
        parts.append(_strip(community, ("村民委员会", "居民委员会", "村委会", "居委会")))
    place = PLACE_FORMS[place_i][0]
    if not compound or not building:
        place = "road"  # a door plate is written with its road
    if not road:
        place = "compound"
    if "road" in place and road:
        # 号 may be dropped only where no number follows (it would run into the building's).
        digits_follow = bool(building) and not ("compound" in place and compound)
        hao = "" if not door or (no_hao and not digits_follow) else "号"
        parts.append(road + door + hao)
    if "compound" in place and compound:
        parts.append(compound)
    if building:
        b = _strip(building, ("幢", "栋", "号楼"))
        if room:
            u = _strip(unit, ("单元",))
            with_unit, without_unit, _ = ROOM_FORMS[room_i]
            parts.append(_room_part(with_unit if u else without_unit, b, u, _strip(room, ("室",))))
        else:
            parts.append(_room_part(BUILDING_FORMS[building_i][0], b, "", ""))
    return parts


def _probabilities(forms: Sequence[tuple[Any, ...]]) -> np.ndarray:
    p = np.array([f[-1] for f in forms], dtype=float)
    return p / p.sum()


def _draw_choices(rng: np.random.Generator, n: int) -> np.ndarray:
    """All the clerk's choices for n addresses: an (n, 11) integer array."""
    choices = np.empty((n, 11), dtype=np.int64)
    choices[:, 0] = rng.choice(len(PREFIX_FORMS), n, p=_probabilities(PREFIX_FORMS))
    choices[:, 1] = rng.random(n) < P_TOWNSHIP
    choices[:, 2] = rng.random(n) < P_COMMUNITY
    choices[:, 3] = rng.choice(len(PLACE_FORMS), n, p=_probabilities(PLACE_FORMS))
    choices[:, 4] = rng.choice(len(ROOM_FORMS), n, p=_probabilities(ROOM_FORMS))
    choices[:, 5] = rng.choice(len(BUILDING_FORMS), n, p=_probabilities(BUILDING_FORMS))
    choices[:, 6] = rng.random(n) < P_DOOR_NO_HAO
    choices[:, 7] = rng.random(n) < P_FULLWIDTH
    choices[:, 8] = rng.random(n) < P_TRADITIONAL
    choices[:, 9] = rng.random(n) < P_TYPO
    # a stray space: a random junction (as a fraction), or -1 for none
    choices[:, 10] = np.where(rng.random(n) < P_SPACE, rng.integers(0, 1_000_000, n), -1)
    return choices


def _typo(text: str, pick: int) -> str:
    spots = [i for i, c in enumerate(text) if c in TYPOS]
    if not spots:
        return text
    i = spots[pick % len(spots)]
    return text[:i] + TYPOS[text[i]] + text[i + 1 :]


def _finish(parts: list[str], choice: Sequence[int]) -> str:
    space = choice[10]
    if space >= 0 and len(parts) > 1:
        k = 1 + space % (len(parts) - 1)
        text = "".join(parts[:k]) + " " + "".join(parts[k:])
    else:
        text = "".join(parts)
    if choice[9]:
        text = _typo(text, int(choice[10]) if space >= 0 else len(text))
    if choice[8]:
        text = text.translate(TRADITIONAL)
    if choice[7]:
        text = text.translate(FULLWIDTH)
    return text


FIELDS = (
    "province",
    "city",
    "county",
    "township",
    "community",
    "road",
    "door_number",
    "compound",
    "building",
    "unit",
    "room",
)


def write_like_a_clerk(row: Mapping[str, Any], rng: np.random.Generator) -> str:
    """One clerk-style text for one standard address (a mapping with its columns)."""
    fields = [_text(row.get(name)) for name in FIELDS]
    choice = [int(c) for c in _draw_choices(rng, 1)[0]]
    return _finish(_compose(fields, choice[:7]), choice)


def write_many_like_clerks(addresses: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Clerk-style texts for every row of an address frame (each row its own clerk)."""
    n = len(addresses)
    choices = _draw_choices(rng, n)
    columns = []
    for name in FIELDS:
        col = addresses[name] if name in addresses.columns else pd.Series([""] * n)
        columns.append(col.astype(object).where(col.notna(), "").astype(str).tolist())
    plain = choices[:, 7:].max(axis=1) == 0  # no fullwidth, traditional, typo or space
    out = np.empty(n, dtype=object)
    cl = choices.tolist()
    for i, fields in enumerate(zip(*columns, strict=True)):
        parts = _compose(fields, cl[i][:7])
        out[i] = "".join(parts) if plain[i] else _finish(parts, cl[i])
    return out
