"""`spatialsvc geocode "…"`: one address, human-readable or JSON."""

from __future__ import annotations

import json

from spatialsvc.settings import Settings
from tests.geocoding.helpers import run_cli

KEYS = {
    "text",
    "address_id",
    "full_address",
    "match_level",
    "score",
    "lon",
    "lat",
    "county_code",
    "township_code",
    "community_code",
    "grid_code",
    "components",
    "reasons",
    "alternatives",
}


def test_json_answer_is_the_standard_address(
    settings: Settings, canonical: list[tuple[str, str, float, float]]
) -> None:
    address_id, full_address, lon, lat = canonical[7]
    result = run_cli(settings, full_address, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert KEYS <= set(d)  # the documented keys; the pipeline may add more
    assert d["text"] == full_address
    assert d["address_id"] == address_id
    assert d["full_address"] == full_address
    assert d["match_level"] == "room"
    assert d["score"] >= 0.9
    assert abs(d["lon"] - lon) < 1e-9 and abs(d["lat"] - lat) < 1e-9
    assert d["county_code"] == "330203"
    assert d["components"]["room"]


def test_human_answer_and_the_one_alias(
    settings: Settings, canonical: list[tuple[str, str, float, float]]
) -> None:
    address_id, full_address, lon, _lat = canonical[3]
    result = run_cli(settings, "one", full_address)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == full_address
    assert f"address_id   {address_id}" in result.output
    assert "match_level  room" in result.output
    assert f"{lon:.7f}" in result.output


def test_nothing_recognised_is_said_plainly(settings: Settings, demo: dict[str, int]) -> None:
    result = run_cli(settings, "--json", "zzzz")
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["address_id"] is None and d["lon"] is None
    human = run_cli(settings, "zzzz")
    assert human.output.startswith("no match for 'zzzz'")
