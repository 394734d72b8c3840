"""The event's canonical form: stable, one spelling per number, and storable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from spatialsvc.audit.event import (
    GENESIS_HASH,
    Event,
    canonical,
    chain_hash,
    float4,
    storable,
)
from spatialsvc.errors import InvalidInput
from tests.audit.conftest import T0, make_event


def test_canonical_form_is_fixed() -> None:
    e = Event(action="data.read", endpoint="/x", method="GET", status=200, at=T0, params={"b": 1})
    assert canonical(1, e, GENESIS_HASH).decode() == (
        '{"action":"data.read","actor_key_id":null,"at":"2026-11-22T08:00:00.123456Z",'
        '"client":null,"department":null,"duration_ms":null,"endpoint":"/x","method":"GET",'
        '"params":{"b":1},"prev_hash":"' + "0" * 64 + '","resource":null,"returned":null,'
        '"role":"public","seq":1,"status":200,"v":1}'
    )
    # a golden value: changing the format must be a deliberate, versioned decision
    assert chain_hash(1, e, GENESIS_HASH) == (
        "5a4a2a4b41d755bea890912a29d29e66e0c5de6f5393adfa9d90a8c4f75e315b"
    )


def test_same_instant_in_another_zone_hashes_the_same() -> None:
    e = make_event(1)
    shanghai = e.at.astimezone(timezone(timedelta(hours=8)))
    other = Event(**{**{f: getattr(e, f) for f in e.__slots__}, "at": shanghai})  # type: ignore[attr-defined]
    assert chain_hash(5, e, GENESIS_HASH) == chain_hash(5, other, GENESIS_HASH)


def test_numbers_have_one_spelling() -> None:
    a = make_event(2, params={"n": 1, "x": 100.0, "big": 1e20, "z": -0.0})
    b = make_event(2, params={"n": 1.0, "x": 100, "big": 10**20, "z": 0})
    assert canonical(3, a, GENESIS_HASH) == canonical(3, b, GENESIS_HASH)
    c = make_event(2, duration_ms=12.345678)
    d = make_event(2, duration_ms=float4(12.345678))
    assert canonical(3, c, GENESIS_HASH) == canonical(3, d, GENESIS_HASH)


def test_every_field_and_the_links_are_hashed() -> None:
    base = make_event(4)
    h = chain_hash(7, base, GENESIS_HASH)
    assert chain_hash(8, base, GENESIS_HASH) != h
    assert chain_hash(7, base, "1" * 64) != h
    for name, value in [
        ("action", "data.write"),
        ("endpoint", "/y"),
        ("method", "PUT"),
        ("status", 201),
        ("role", "admin"),
        ("at", T0 + timedelta(microseconds=1)),
        ("actor_key_id", "zz"),
        ("department", "other"),
        ("resource", "other"),
        ("params", {"limit": 1}),
        ("returned", 99999),
        ("duration_ms", 0.5),
        ("client", "10.0.0.1"),
    ]:
        assert chain_hash(7, make_event(4, **{name: value}), GENESIS_HASH) != h, name


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Event(action="a", endpoint="/", method="GET", status=200, at=datetime(2026, 1, 1))


def test_storable_cleans_what_postgres_would_refuse() -> None:
    e = storable(
        make_event(
            1,
            endpoint="/a\x00b",
            client="\udc80x",
            params={"q": "x\x00", 1: float("nan"), "t": (1, 2), "o": object},
            returned=2**40,
            duration_ms=float("inf"),
        )
    )
    assert e.endpoint == "/a\ufffdb"
    assert "\udc80" not in (e.client or "")
    assert e.params["q"] == "x\ufffd" and e.params["1"] == "nan" and e.params["t"] == [1, 2]
    assert isinstance(e.params["o"], str)
    assert e.returned == 2**31 - 1 and e.duration_ms is None


def test_parts_spell_the_sorted_key_json_of_the_whole_row() -> None:
    import json

    for i in range(12):
        e = storable(make_event(i, params={"z": 1, "a": [1.5, {"y": None, "b": "é"}]}))
        text = canonical(100 + i, e, "ab" * 32).decode()
        doc = json.loads(text)
        assert set(doc) == {
            "v",
            "seq",
            "at",
            "actor_key_id",
            "department",
            "role",
            "action",
            "resource",
            "endpoint",
            "method",
            "params",
            "returned",
            "status",
            "duration_ms",
            "client",
            "prev_hash",
        }
        assert text == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_storable_survives_deep_and_circular_params() -> None:
    deep: dict[str, object] = {}
    cur = deep
    for _ in range(100):
        cur["a"] = {}
        cur = cur["a"]  # type: ignore[assignment]
    loop: dict[str, object] = {}
    loop["self"] = loop
    for params in (deep, loop):
        e = storable(make_event(1, params=params))
        assert canonical(1, e, GENESIS_HASH)


def test_durations_display_short() -> None:
    from spatialsvc.audit.event import Entry

    for value, shown in [(3.2, 3.2), (12.345678, 12.345678), (0.1, 0.1), (None, None)]:
        entry = Entry(1, storable(make_event(1, duration_ms=value)), GENESIS_HASH, GENESIS_HASH)
        assert entry.as_dict()["duration_ms"] == shown
