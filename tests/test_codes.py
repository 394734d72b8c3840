"""Check characters of ID numbers and unified social credit codes."""

from __future__ import annotations

import numpy as np
import pytest

from spatialsvc.codes import (
    USCC_ALPHABET,
    compose_id_numbers,
    compose_usccs,
    id_number_check_digit,
    is_valid_id_number,
    is_valid_uscc,
    org_code_check_char,
    uscc_check_char,
)

# The example printed in GB 11643-1999 and the one used to explain GB 32100-2015.
ID_EXAMPLE = "11010519491231002X"
USCC_EXAMPLE = "91350100M000100Y43"


def test_id_known_examples() -> None:
    assert id_number_check_digit(ID_EXAMPLE[:17]) == "X"
    assert is_valid_id_number(ID_EXAMPLE)
    assert is_valid_id_number(ID_EXAMPLE.lower())  # a lower-case x is still read as X
    first17 = "33020319900517123"
    full = first17 + id_number_check_digit(first17)
    assert is_valid_id_number(full)


@pytest.mark.parametrize(
    "bad",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231003X",  # a digit changed
        "11010519490231002X",  # 31 February... check recomputed below
        "1101051949123100X",  # too short
        "11010519491231002XX",
        "A1010519491231002X",
        110105194912310021,
        None,
    ],
)
def test_id_invalid(bad: object) -> None:
    assert not is_valid_id_number(bad)


def test_id_impossible_birth_date_is_invalid_even_with_right_check() -> None:
    for body in ("11010519490231002", "11010519491331002", "11010530000101002"):
        assert not is_valid_id_number(body + id_number_check_digit(body))


def test_id_check_digit_rejects_non_digits() -> None:
    with pytest.raises(ValueError):
        id_number_check_digit("1101051949123100")
    with pytest.raises(ValueError):
        id_number_check_digit("1101051949123100A")


def test_id_every_single_digit_tamper_is_caught() -> None:
    for i in range(17):
        for d in "0123456789":
            if d == ID_EXAMPLE[i]:
                continue
            tampered = ID_EXAMPLE[:i] + d + ID_EXAMPLE[i + 1 :]
            assert id_number_check_digit(tampered[:17]) != "X"


def test_uscc_known_example() -> None:
    assert org_code_check_char("M000100Y") == "4"
    assert uscc_check_char(USCC_EXAMPLE[:17]) == "3"
    assert is_valid_uscc(USCC_EXAMPLE)


@pytest.mark.parametrize(
    "bad",
    [
        "91350100M000100Y44",  # wrong final check
        "91350100M000100Y53",  # wrong organisation-code check
        "91350100M000I00Y43",  # I is not in the alphabet
        "9135010M000100Y43",  # too short
        "91350I00M000100Y43",
        None,
    ],
)
def test_uscc_invalid(bad: object) -> None:
    assert not is_valid_uscc(bad)


def test_uscc_tamper_any_character() -> None:
    for i in range(18):
        for c in USCC_ALPHABET:
            if c == USCC_EXAMPLE[i]:
                continue
            assert not is_valid_uscc(USCC_EXAMPLE[:i] + c + USCC_EXAMPLE[i + 1 :])


def test_org_code_check_x_and_zero() -> None:
    # Search for bodies whose check is 'X' (10) and '0' (11): both are special cases.
    seen = {org_code_check_char(f"{n:08d}") for n in range(40)}
    assert "X" in seen and "0" in seen


def test_vectorised_id_numbers_all_valid() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    region = rng.choice([330203, 330212, 341221], n)
    birth = np.datetime64("1925-01-01") + rng.integers(0, 36_500, n).astype("timedelta64[D]")
    seq = rng.integers(0, 1000, n)
    ids = compose_id_numbers(region, birth, seq)
    assert ids.shape == (n,)
    assert all(is_valid_id_number(s) for s in ids)
    assert [s[:6] for s in ids[:5]] == [str(r) for r in region[:5]]
    assert [s[6:14] for s in ids[:5]] == [str(b).replace("-", "") for b in birth[:5]]
    assert [int(s[14:17]) for s in ids[:5]] == list(seq[:5])
    for s in ids[:200]:
        assert id_number_check_digit(s[:17]) == s[17]


def test_vectorised_usccs_all_valid() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    alphabet = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)
    body = alphabet[rng.integers(0, len(alphabet), (n, 8))]
    prefix = np.array(["91", "92", "51", "12"])[rng.integers(0, 4, n)]
    admin = rng.choice([330203, 330200], n)
    codes = compose_usccs(prefix, admin, body)
    assert all(is_valid_uscc(s) for s in codes)
    assert all(uscc_check_char(s[:17]) == s[17] for s in codes[:500])
    assert all(org_code_check_char(s[8:16]) == s[16] for s in codes[:500])
    assert codes[0][:2] == prefix[0] and codes[0][2:8] == str(admin[0])
