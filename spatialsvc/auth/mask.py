"""Masks for sensitive values: what a caller sees of a field the grant does not give in clear.

Each mask keeps enough to recognise a record (a surname, the region code and check digits, the
community or road) and hides the rest.  ``None`` stays ``None``.  A sensitive field without a
mask of its own is left out (:func:`mask_value` answers ``None``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

STAR = "*"

# Cut a household address after its last community / road / township word before the number.
_LEVEL = re.compile(r"(社区|居委会|村委会|村|大道|路|街道|街|巷|镇|乡)")
_NUMBER = re.compile(r"[0-9０-９#＃]")


def mask_id_number(value: str) -> str:
    """``330203199001011234`` → ``3302**********1234``: region prefix and last four kept."""
    s = value.strip()
    if len(s) <= 8:
        return STAR * len(s)
    return s[:4] + STAR * (len(s) - 8) + s[-4:]


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``: the first three and last four digits kept."""
    s = value.strip()
    if len(s) <= 7:
        return STAR * len(s)
    return s[:3] + STAR * (len(s) - 7) + s[-4:]


def mask_name(value: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the first character kept."""
    s = value.strip()
    if not s:
        return s
    return s[0] + STAR * max(len(s) - 1, 1)


def mask_address(value: str) -> str:
    """Cut an address to its community / road (or township) level, then ``***``.

    ``海曙区鼓楼街道中山社区中山西路138号5幢201室`` → ``海曙区鼓楼街道中山社区中山西路***``.
    Everything from the first house, building or room number on is dropped, and so is
    whatever follows the last community, road or township word (a compound's name).
    """
    s = value.strip()
    number = _NUMBER.search(s)
    head = s[: number.start()] if number else s
    last = None
    for last in _LEVEL.finditer(head):  # noqa: B007 - the last match is wanted
        pass
    kept = head[: last.end()] if last else ""
    return kept + STAR * 3


MASKS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "person_name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
    "mobile": mask_phone,
    "household_address": mask_address,
}
"""Sensitive fields by default, each with its mask."""

SENSITIVE_DEFAULT: frozenset[str] = frozenset(MASKS)


def mask_value(field: str, value: object) -> str | None:
    """The masked form of one field's value; ``None`` if the field has no mask (left out)."""
    if value is None:
        return None
    mask = MASKS.get(field)
    return mask(str(value)) if mask else None
