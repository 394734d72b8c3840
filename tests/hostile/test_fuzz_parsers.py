"""Property-based fuzzing of the address pipeline and the CQL2 parser: zero crashes.

Every input either parses or raises the project's :class:`~spatialsvc.errors.InvalidInput`;
nothing else may escape. Runs are derandomised and bounded (``EXAMPLES`` each), so CI sees
the same inputs every run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addressing.normalize import normalize
from addressing.parse import parse
from spatialsvc.errors import InvalidInput
from spatialsvc.features import cql
from spatialsvc.features.crs import resolve
from spatialsvc.settings import Settings

# SPATIALSVC_HOSTILE_EXAMPLES=N runs N examples a property (a deeper run by hand)
EXAMPLES = int(os.environ.get("SPATIALSVC_HOSTILE_EXAMPLES") or 150)
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# -- text strategies -----------------------------------------------------------------------

# every code point, surrogates (Cs), controls (Cc), format characters (Cf) and private use too
ANY_CHAR = st.characters(exclude_categories=())
SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
CONTROL = st.sampled_from(
    [chr(c) for c in [*range(0, 32), 127, *range(0x80, 0xA0)]]
    + ["\u200b", "\u202e", "\ufeff", "\u2028"]
)
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
ADDRESS_TOKENS = st.sampled_from(
    [
        "浙江省",
        "宁波市",
        "海曙区",
        "鼓楼街道",
        "西门街道",
        "中山西路",
        "解放南路",
        "望春",
        "号",
        "幢",
        "栋",
        "座",
        "单元",
        "单",
        "室",
        "层",
        "楼",
        "弄",
        "组",
        "期",
        "号楼",
        "一",
        "二",
        "两",
        "十",
        "百",
        "千",
        "零",
        "〇",
        "廿",
        "-",
        "—",
        "~",
        "#",
        "(",
        ")",
        "（",
        "）",
        "、",
        "；",
        "|",
        " ",
        "\t",
        "1",
        "12",
        "301",
        "8-2-301",
        "3-402",
        "A",
        "b",
        "Ａ",
        "１",
        "９９９９９９９９９９",
        "臺",
        "樓",
        "號",
        "乾",
        "於",
        "濛",
        "撞",
        "冻",
        "丹元",
        "式",
    ]
)


def _joined(parts: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    return st.lists(parts, max_size=max_size).map("".join)


ADDRESS_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=80),
    _joined(st.one_of(ADDRESS_TOKENS, CJK, ANY_CHAR), 40),
    _joined(st.one_of(ADDRESS_TOKENS, CONTROL, SURROGATE), 40),
    # very long: a fuzzed piece repeated up to 5,000 characters
    st.tuples(_joined(st.one_of(ADDRESS_TOKENS, CJK), 8), st.integers(50, 600)).map(
        lambda t: (t[0] * t[1])[:5000]
    ),
)


@FUZZ
@given(ADDRESS_TEXT)
def test_normalize_never_crashes(text: str) -> None:
    assert isinstance(normalize(text), str)


@FUZZ
@given(ADDRESS_TEXT, st.sampled_from([None, "330203", "33", "", "999999", "3302031234"]))
def test_parse_never_crashes(text: str, context: str | None) -> None:
    parsed = parse(text, context=context)
    assert parsed.text == text


@pytest.fixture(scope="module")
def geocoder_settings(settings: Settings, demo: dict[str, int]) -> Settings:
    """The session's settings over the demo data; the geocoder's index is built once."""
    from spatialsvc.geocoder_service import get_geocoder

    get_geocoder(settings)
    return settings


def test_geocoder_entry_points_never_crash(geocoder_settings: Settings) -> None:
    """check_query ▸ geocode (what /geocode and the processes call), and Geocoder.geocode on
    unchecked text: a result or InvalidInput, nothing else."""
    from spatialsvc.geocoder_service import check_query, geocode, get_geocoder, parse_point_crs

    geocoder = get_geocoder(geocoder_settings)
    crs = parse_point_crs(None)

    @settings(
        max_examples=max(60, EXAMPLES // 3),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(ADDRESS_TEXT, st.none(), st.integers(), st.lists(st.text(max_size=3))))
    def run(value: Any) -> None:
        try:
            answer = geocode(geocoder_settings, check_query(value), crs)
        except InvalidInput:
            pass
        else:
            assert isinstance(answer, dict)
        if isinstance(value, str):
            assert geocoder.geocode(value) is not None

    run()


# -- CQL2 --------------------------------------------------------------------------------

KINDS = {
    "name": "string",
    "count": "integer",
    "area": "number",
    "open": "boolean",
    "day": "date",
    "seen": "date-time",
}
CQL_TOKENS = st.sampled_from(
    [
        "name",
        "count",
        "area",
        "open",
        "day",
        "seen",
        "geom",
        "geometry",
        '"name"',
        '"na""me"',
        "'x'",
        "'it''s'",
        "''",
        "'",
        '"',
        "1",
        "-1",
        "1.5e3",
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        "99999999999999999999999999",
        "TRUE",
        "FALSE",
        "NULL",
        "=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "AND",
        "OR",
        "NOT",
        "(",
        ")",
        ",",
        "LIKE",
        "ILIKE",
        "IN",
        "BETWEEN",
        "IS",
        "IS NULL",
        "IS NOT NULL",
        "DATE('2024-01-01')",
        "TIMESTAMP('2024-01-01T00:00:00Z')",
        "S_INTERSECTS",
        "S_WITHIN",
        "S_CONTAINS",
        "S_DISJOINT",
        "S_CROSSES",
        "BBOX",
        "POINT(121.5 29.8)",
        "POINT(1e999 1)",
        "POLYGON((0 0,1 0,1 1,0 0))",
        "POLYGON((0 0))",
        "ENVELOPE(1,2,3,4)",
        "LINESTRING(1 1)",
        "GEOMETRYCOLLECTION(POINT(1 1))",
        "casei(name)",
        "accenti(name)",
        "pg_sleep(10)",
        "version()",
        "t_intersects",
        "A_CONTAINS",
        "+",
        "-",
        "*",
        "/",
        "%",
        "; DROP TABLE base.poi; --",
        "' OR '1'='1",
        "1=1",
        "/*",
        "*/",
        "--",
        "\\",
        "\x00",
        " ",
    ]
)
CQL_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=60),
    st.lists(CQL_TOKENS, min_size=1, max_size=14).map(" ".join),
    st.lists(st.one_of(CQL_TOKENS, st.text(ANY_CHAR, max_size=4)), max_size=10).map("".join),
    st.integers(1, 3000).map(lambda n: "(" * n + "name='x'" + ")" * n),
    st.integers(1, 3000).map(lambda n: "NOT " * n + "name='x'"),
)

JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(ANY_CHAR, max_size=10),
    st.sampled_from(list(KINDS) + ["geom", "'; DROP TABLE x; --", 'na"me']),
)
OPS = st.sampled_from(
    [
        "=",
        "<>",
        "<",
        ">",
        "<=",
        ">=",
        "and",
        "or",
        "not",
        "like",
        "in",
        "between",
        "isNull",
        "s_intersects",
        "s_within",
        "s_contains",
        "s_disjoint",
        "t_before",
        "casei",
        "accenti",
        "a_contains",
        "+",
        "div",
        "bbox",
        "pg_sleep",
        "'; DROP",
    ]
)


def _cql_json(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda op, args: {"op": op, "args": args}, OPS, st.lists(children, max_size=4)),
        st.builds(lambda p: {"property": p}, JSON_SCALAR),
        st.builds(lambda d: {"date": d}, JSON_SCALAR),
        st.builds(lambda t: {"timestamp": t}, JSON_SCALAR),
        st.builds(lambda b: {"bbox": b}, st.lists(JSON_SCALAR, max_size=7)),
        st.builds(
            lambda kind, coords: {"type": kind, "coordinates": coords},
            st.sampled_from(["Point", "Polygon", "MultiPolygon", "LineString", "Nope"]),
            children,
        ),
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=5), children, max_size=3),
    )


CQL_JSON_VALUE = st.recursive(JSON_SCALAR, _cql_json, max_leaves=25)
CQL_JSON_TEXT = st.one_of(
    CQL_JSON_VALUE.map(lambda v: json.dumps(v, allow_nan=True)),
    st.text(ANY_CHAR, max_size=40),
    st.integers(1, 3000).map(lambda n: '{"op":"not","args":[' * n + "true" + "]}" * n),
)


def _parse_and_translate(text: str, lang: str) -> None:
    try:
        tree = cql.parse(text, lang)
    except InvalidInput:
        return
    for crs in (None, "http://www.opengis.net/def/crs/EPSG/0/4549"):
        try:
            out = cql.translate_tree(tree, KINDS, "geom", resolve(crs, "filter-crs"))
        except InvalidInput:
            continue
        assert out.sql is not None


@FUZZ
@given(CQL_TEXT)
def test_cql2_text_parses_or_is_invalid_input(text: str) -> None:
    _parse_and_translate(text, "cql2-text")


@FUZZ
@given(CQL_JSON_TEXT)
def test_cql2_json_parses_or_is_invalid_input(text: str) -> None:
    _parse_and_translate(text, "cql2-json")


@FUZZ
@given(st.one_of(st.none(), st.text(ANY_CHAR, max_size=12)), st.text(ANY_CHAR, max_size=30))
def test_cql2_filter_lang_is_checked(lang: str | None, text: str) -> None:
    try:
        cql.parse(text, lang)
    except InvalidInput:
        pass
