"""The geocoder: parse ▸ match ▸ score, over an index of the standard addresses built once."""

from __future__ import annotations

from typing import Any

from addressing.calibration import calibrated
from addressing.match import AddressIndex, match
from addressing.parse import parse
from addressing.result import GeocodeResult
from addressing.score import score

DEFAULT_CONTEXT = "330203"  # Haishu: the district of the registers


class Geocoder:
    """Geocode address texts against base.standard_address (loaded once into memory)."""

    def __init__(self, conn: Any, context: str | None = DEFAULT_CONTEXT) -> None:
        self.index = AddressIndex.from_connection(conn)
        self.context = context

    def geocode(self, text: str) -> GeocodeResult:
        """The best standard address for one text, with match level, score and alternatives."""
        parsed = parse(text, context=self.context)
        result = score(parsed, match(parsed, self.index), self.index)
        result.raw_score = result.score
        result.score = round(calibrated(result.score), 3)
        return result
