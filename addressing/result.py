"""The answer of the geocoder for one address text."""

from __future__ import annotations

from dataclasses import dataclass, field

from addressing.match import Candidate
from addressing.model import ParsedAddress

MATCH_LEVELS = ("room", "building", "door", "road", "compound", "township", "county", "city")


@dataclass
class GeocodeResult:
    """Best standard address for a text, how far down it matched, and how sure we are.

    ``score`` is 0-1 (see addressing.score for the rules); ``reasons`` lists every penalty
    applied, so a low score can always be explained. ``alternatives`` holds the other
    candidates when the match is ambiguous.
    """

    text: str
    match_level: str | None  # one of MATCH_LEVELS, None when nothing was recognised
    score: float
    address_id: str | None = None
    full_address: str | None = None
    lon: float | None = None
    lat: float | None = None
    admin_code: str | None = None
    township_code: str | None = None
    how: str | None = None
    reasons: list[str] = field(default_factory=list)
    alternatives: list[Candidate] = field(default_factory=list)
    parsed: ParsedAddress | None = None
