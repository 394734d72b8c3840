"""The answer of the geocoder for one address text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from addressing.model import ParsedAddress

if TYPE_CHECKING:  # the module stays light: the web layer imports ROW_FIELDS at start-up
    from addressing.match import Candidate

# from the most to the least precise
MATCH_LEVELS = (
    "room",
    "building",
    "door",
    "interpolated",
    "road",
    "compound",
    "community",
    "township",
    "county",
    "city",
)

# What a table of answers keeps of each one (the batch CSV, the geocode-batch process), in order.
ROW_FIELDS = (
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
)


@dataclass
class GeocodeResult:
    """Best standard address for a text, how far down it matched, and how sure we are.

    ``score`` is 0-1: the rule-based score of addressing.score (kept in ``raw_score``) mapped by
    addressing.calibration to the share of answers with that raw score that were right on the
    development split; ``reasons`` lists every penalty applied, so a low score can always be
    explained. ``alternatives`` holds the other
    candidates when the match is ambiguous.
    """

    text: str
    match_level: str | None  # one of MATCH_LEVELS, None when nothing was recognised
    score: float  # calibrated: the observed probability that the answer is right at its level
    address_id: str | None = None
    full_address: str | None = None
    lon: float | None = None  # EPSG:4490
    lat: float | None = None
    admin_code: str | None = None  # the most specific division code known (12 digits: community)
    county_code: str | None = None
    township_code: str | None = None
    community_code: str | None = None
    grid_code: str | None = None
    how: str | None = None
    reasons: list[str] = field(default_factory=list)
    alternatives: list[Candidate] = field(default_factory=list)
    parsed: ParsedAddress | None = None
    raw_score: float | None = None  # the rule-based score before calibration

    def to_dict(self, alternatives: int = 5) -> dict[str, Any]:
        """A JSON-ready dict: what the CLI, the HTTP API and the processes return."""
        return {
            "text": self.text,
            "address_id": self.address_id,
            "full_address": self.full_address,
            "match_level": self.match_level,
            "score": self.score,
            "raw_score": self.raw_score,
            "lon": self.lon,
            "lat": self.lat,
            "county_code": self.county_code,
            "township_code": self.township_code,
            "community_code": self.community_code,
            "grid_code": self.grid_code,
            "components": self.parsed.parts() if self.parsed else {},
            "reasons": list(self.reasons),
            "alternatives": [
                {
                    "address_id": c.address_id,
                    "full_address": c.full_address,
                    "match_level": c.match_level,
                    "lon": c.lon,
                    "lat": c.lat,
                }
                for c in self.alternatives[:alternatives]
            ],
        }
