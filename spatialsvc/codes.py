"""Check characters of Chinese identity codes, one at a time and vectorised.

- Citizen identity numbers (公民身份号码), GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2
  check character.
- Unified social credit codes (统一社会信用代码), GB 32100-2015: 18 characters over a
  31-character alphabet, whose characters 9-17 are a GB 11714 organisation code carrying its
  own check character, and whose 18th character is a MOD 31 check.

The vectorised helpers take and return numpy arrays so that hundreds of thousands of codes can
be made in well under a second.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64
)
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)

_USCC_INDEX = {c: i for i, c in enumerate(USCC_ALPHABET)}
_ID_CHECK_ASCII = np.frombuffer(ID_CHECK.encode("ascii"), dtype=np.uint8)
_USCC_ASCII = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
# ASCII byte -> index in the USCC alphabet (-1 where not in it).
_USCC_LOOKUP = np.full(256, -1, dtype=np.int64)
_USCC_LOOKUP[_USCC_ASCII] = np.arange(len(USCC_ALPHABET))
# ASCII byte -> GB 11714 value: digits 0-9, letters A=10 .. Z=35.
_ORG_LOOKUP = np.full(256, -1, dtype=np.int64)
_ORG_LOOKUP[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_ORG_LOOKUP[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = np.arange(10, 36)

Ints = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]
Strs = npt.NDArray[np.str_]


# ---------------------------------------------------------------- identity numbers


def id_number_check_digit(first17: str) -> str:
    """The GB 11643 check character ('0'-'9' or 'X') of the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(c) * int(w) for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def is_valid_id_number(s: object) -> bool:
    """Whether ``s`` is an 18-character ID number with a real birth date and a right check."""
    if not isinstance(s, str) or len(s) != 18 or not s.isascii():
        return False
    body, check = s[:17], s[17].upper()
    if not body.isdigit():
        return False
    try:
        birth = dt.date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return False
    if birth.year < 1800 or birth > dt.date.today():
        return False
    return id_number_check_digit(body) == check


def id_check_chars(digits: Ints) -> Bytes:
    """Vectorised: ASCII check characters for an (n, 17) array of ID-number digits."""
    digits = np.asarray(digits, dtype=np.int64)
    return _ID_CHECK_ASCII[(digits @ ID_WEIGHTS) % 11]


def compose_id_numbers(region: Ints, birth: npt.NDArray[np.datetime64], sequence: Ints) -> Strs:
    """Vectorised: ID numbers from 6-digit region codes, birth dates and 3-digit sequences.

    The sequence's last digit is the sex digit (odd for men); the caller chooses it.
    """
    region = np.asarray(region, dtype=np.int64)
    sequence = np.asarray(sequence, dtype=np.int64)
    days = np.asarray(birth, dtype="datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mdays = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    number = ((region * 10_000 + years) * 100 + months) * 100 + mdays
    number = number * 1000 + sequence  # 17 digits fit easily in int64
    digits = (number[:, None] // (10 ** np.arange(16, -1, -1, dtype=np.int64))) % 10
    out = np.empty((len(number), 18), dtype=np.uint8)
    out[:, :17] = digits + ord("0")
    out[:, 17] = id_check_chars(digits)
    return _ascii_rows_to_str(out)


# ---------------------------------------------------------------- unified social credit codes


def _org_check_value(values: list[int]) -> str:
    c = 11 - sum(v * int(w) for v, w in zip(values, ORG_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def org_code_check_char(body8: str) -> str:
    """The GB 11714 check character of an 8-character organisation-code body."""
    if len(body8) != 8 or not body8.isascii() or not body8.isalnum():
        raise ValueError(f"expected 8 digits or capital letters, got {body8!r}")
    return _org_check_value([int(_ORG_LOOKUP[ord(c)]) for c in body8.upper()])


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters of a social credit code."""
    if len(first17) != 17 or any(c not in _USCC_INDEX for c in first17):
        raise ValueError(f"expected 17 characters of {USCC_ALPHABET}, got {first17!r}")
    total = sum(_USCC_INDEX[c] * int(w) for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(s: object) -> bool:
    """Whether ``s`` is a social credit code whose organisation code and final check are right."""
    if not isinstance(s, str) or len(s) != 18 or any(c not in _USCC_INDEX for c in s):
        return False
    if not s[2:8].isdigit():
        return False
    if org_code_check_char(s[8:16]) != s[16]:
        return False
    return uscc_check_char(s[:17]) == s[17]


def compose_usccs(prefix2: Strs, admin: Ints, org_body: Bytes) -> Strs:
    """Vectorised: social credit codes from their parts.

    ``prefix2`` holds the registration authority and organisation type ('91', '92', '51', ...),
    ``admin`` the 6-digit administrative division codes, and ``org_body`` an (n, 8) array of
    ASCII bytes from the USCC alphabet: the organisation code without its check character.
    """
    n = len(admin)
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, :2] = np.asarray(prefix2, dtype="S2").view(np.uint8).reshape(n, 2)
    admin = np.asarray(admin, dtype=np.int64)
    out[:, 2:8] = (admin[:, None] // (10 ** np.arange(5, -1, -1, dtype=np.int64))) % 10 + ord("0")
    body = np.asarray(org_body, dtype=np.uint8)
    out[:, 8:16] = body
    c = 11 - (_ORG_LOOKUP[body] @ ORG_WEIGHTS) % 11
    out[:, 16] = np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), c + ord("0")))
    total = _USCC_LOOKUP[out[:, :17]] @ USCC_WEIGHTS
    out[:, 17] = _USCC_ASCII[(31 - total % 31) % 31]
    return _ascii_rows_to_str(out)


def _ascii_rows_to_str(rows: Bytes) -> Strs:
    n, width = rows.shape
    return np.ascontiguousarray(rows).view(f"S{width}").reshape(n).astype(f"U{width}")
