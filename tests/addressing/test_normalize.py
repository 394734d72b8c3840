"""Table-driven cases for addressing.normalize (its speed: bench/address_parsing.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from addressing.normalize import normalize, numeral_to_digits

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "normalize.yml").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["in"] for c in CASES])
def test_normalize_case(case: dict[str, Any]) -> None:
    assert normalize(case["in"]) == case["out"]


@pytest.mark.parametrize(
    ("numeral", "digits"), [("五", "5"), ("十二", "12"), ("二十五", "25"), ("一〇二", "102")]
)
def test_numerals(numeral: str, digits: str) -> None:
    assert numeral_to_digits(numeral) == digits


def test_normalize_is_idempotent() -> None:
    for case in CASES:
        assert normalize(case["out"]) == case["out"]
