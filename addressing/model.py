"""The values that flow between the stages of the address pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = ("province", "city", "county", "township", "community")
PARTS = (
    "province",
    "city",
    "county",
    "township",
    "community",
    "road",
    "door_number",
    "compound",
    "building",
    "unit",
    "floor",
    "room",
)


@dataclass
class Conflict:
    """Two parts of an address that disagree, and how the parser resolved it."""

    part: str  # e.g. "city"
    found: str  # what the text said
    kept: str  # what the parser kept
    reason: str  # e.g. "county 海曙区 belongs to 宁波市"


@dataclass
class ParsedAddress:
    """An address split into its parts; codes where a division was recognised.

    Digit-valued parts (door_number, building, unit, floor, room) hold plain ASCII digits
    (and a letter suffix such as 12A where present), without 号/幢/单元/室.
    """

    text: str  # the input as given
    normalized: str  # after addressing.normalize
    province: str | None = None
    city: str | None = None
    county: str | None = None
    township: str | None = None
    community: str | None = None
    road: str | None = None
    door_number: str | None = None
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    floor: str | None = None
    room: str | None = None
    province_code: str | None = None  # 2 digits
    city_code: str | None = None  # 4 digits
    county_code: str | None = None  # 6 digits
    township_code: str | None = None  # 9 digits
    community_code: str | None = None  # 12 digits
    rest: str = ""  # what was left over
    conflicts: list[Conflict] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)  # parts recognised only by fuzzy matching

    def parts(self) -> dict[str, str | None]:
        """The address parts by name."""
        return {name: getattr(self, name) for name in PARTS}
