"""Stage 4: score the candidates of a parsed address and pick the best one.

The rules are simple and written down, so that every score can be explained (each penalty
is recorded in ``GeocodeResult.reasons``):

- a candidate starts from the level it was matched at: room, building and door 1.0,
  interpolated door plate 0.7 (-0.1 when its number lies beyond the road's door plates, where
  it is placed at the nearest end), compound 0.6, road 0.5;
- the text named a part more specific than the match reached (a room, a building, a door
  plate that is not in the base): -0.3 for each such level;
- a road or compound name found only by fuzzy matching: -0.1 each; a division name (or a
  road's suffix, 柳林璐) read with a typo by the parser: -0.05 each; a conflict between
  division levels: -0.1 each (-0.02 for a community, which the match does not rely on);
- a part of the text that disagrees with the candidate (road, door plate, compound, unit):
  -0.15 each (a name that the base name contains agrees: 村路 in 崔岙村路; a door range
  12-14 agrees with door plate 12);
- text left unread that holds numbers (and is not part of the candidate's compound name):
  -0.3;
- a township that disagrees: -0.2; no township in the text: -0.02;
- several candidates within 0.05 of the best one (ambiguity): when they all lie in one
  coarser standard address (rooms of one building, when the text left out the unit; buildings
  on one door plate), that standard address is the answer, at the best score -0.1 for each
  level climbed, with the candidates as alternatives; otherwise the score is halved and the
  others are returned as alternatives.

An interpolated door plate has no address_id; the nearest real door plate is its first
alternative. Without a candidate the answer falls back to the community (0.3, at a point
inside it, when the parser recognised one and the index knows its place), the township (0.2),
county (0.1) or city (0.05) that the parser recognised (at a point inside the township or
county when the base holds its polygon), and to no level (0.0) otherwise.
Every answer carries the division codes known: those of the standard address (its grid too)
or, for a fallback, those the parser found.
"""

from __future__ import annotations

from addressing.match import AddressIndex, Candidate
from addressing.model import ParsedAddress
from addressing.normalize import normalize
from addressing.result import GeocodeResult

_BASE = {
    "room": 1.0,
    "building": 1.0,
    "door": 1.0,
    "interpolated": 0.7,
    "compound": 0.6,
    "road": 0.5,
}
_DEPTH = {"road": 0, "compound": 0, "interpolated": 1, "door": 1, "building": 2, "room": 3}
CLIMB_PENALTY = 0.1  # for each level climbed to the standard address that all candidates share
COMMUNITY_SCORE = 0.3
AMBIGUITY_GAP = 0.05


def _named_depth(parsed: ParsedAddress) -> int:
    """How far down the text itself goes (3 room, 2 building, 1 door, 0 road/compound)."""
    if parsed.room or parsed.unit:
        return 3
    if parsed.building:
        return 2
    if parsed.door_number and parsed.road:
        return 1
    return 0


def _explained(rest: str, cand: Candidate) -> bool:
    """Whether unread text is part of the candidate's compound name as normalized (a name that
    holds a number the parser could not place, such as 星河湾2期 read as 星河湾 + 2期)."""
    return bool(cand.compound) and rest in normalize(cand.compound or "")


def rate(parsed: ParsedAddress, cand: Candidate) -> tuple[float, list[str]]:
    """The score of one candidate for a parsed address, and the reasons for its penalties."""
    score = _BASE[cand.match_level]
    reasons: list[str] = []
    if cand.match_level == "interpolated":
        reasons.append(f"door plate not in the base: {cand.how}")
        if cand.beyond:
            score -= 0.1
            reasons.append("door number beyond the road's door plates")
    missing = _named_depth(parsed) - _DEPTH[cand.match_level]
    if missing > 0:
        score -= 0.3 * missing
        reasons.append(f"text is more specific than the match ({missing} level(s) not found)")
    for part in cand.fuzzy:
        score -= 0.1
        reasons.append(f"{part} found by fuzzy name matching")
    for part in parsed.fuzzy:
        score -= 0.05
        reasons.append(f"{part} read with a typo")
    for conflict in parsed.conflicts:
        score -= 0.02 if conflict.part == "community" else 0.1
        reasons.append(f"conflict on {conflict.part}: {conflict.reason}")
    checks = (
        ("road", parsed.road, cand.road, "road" in cand.fuzzy),
        ("door_number", parsed.door_number, cand.door_number, False),
        ("compound", parsed.compound, cand.compound, "compound" in cand.fuzzy),
        ("unit", parsed.unit, cand.unit if cand.level == "room" else parsed.unit, False),
    )
    for name, said, found, fuzzy in checks:
        if name == "door_number" and said and found and found == said.split("-")[0]:
            continue  # a door range (12-14) agrees with its first door plate
        if said and found and said not in found and not fuzzy:
            score -= 0.15
            reasons.append(f"{name} {said} disagrees with {found}")
    if any(ch.isdigit() for ch in parsed.rest) and not _explained(parsed.rest, cand):
        score -= 0.3
        reasons.append(f"unread text with numbers: {parsed.rest}")
    if parsed.township_code and parsed.township_code != cand.township_code:
        score -= 0.2
        reasons.append(f"township {parsed.township} disagrees")
    elif not parsed.township_code:
        score -= 0.02
        reasons.append("no township in the text")
    return max(0.0, min(1.0, score)), reasons


def _fallback(parsed: ParsedAddress, index: AddressIndex | None) -> GeocodeResult:
    places = index.places if index is not None else {}
    place = places.get(parsed.community_code or "")
    if place is not None:
        lon, lat, grid = place
        return GeocodeResult(
            text=parsed.text,
            match_level="community",
            score=COMMUNITY_SCORE,
            full_address="".join(
                p or "" for p in (parsed.province, parsed.city, parsed.county, parsed.township)
            )
            + (parsed.community or ""),
            lon=lon,
            lat=lat,
            admin_code=parsed.community_code,
            grid_code=grid,
            how="community",
            reasons=["no standard address matched: the community's place"],
            parsed=parsed,
            county_code=parsed.county_code,
            township_code=parsed.township_code,
            community_code=parsed.community_code,
        )
    for level, code, value in (
        ("township", parsed.township_code, 0.2),
        ("county", parsed.county_code, 0.1),
        ("city", parsed.city_code, 0.05),
    ):
        if code:
            where = places.get(code)  # a point inside the division, where the base has it
            return GeocodeResult(
                text=parsed.text,
                match_level=level,
                score=value,
                admin_code=code,
                lon=where[0] if where else None,
                lat=where[1] if where else None,
                reasons=["no standard address matched"]
                + (["the division's place: a point inside it"] if where else []),
                parsed=parsed,
                county_code=parsed.county_code,
                township_code=parsed.township_code,
                community_code=parsed.community_code,
            )
    return GeocodeResult(
        text=parsed.text, match_level=None, score=0.0, reasons=["nothing recognised"], parsed=parsed
    )


def _ancestors(cand: Candidate, index: AddressIndex) -> list[Candidate]:
    """The standard addresses above a candidate, nearest first (building, then door plate)."""
    out: list[Candidate] = []
    up = index.parent(cand)
    while up is not None and len(out) < 2:
        out.append(up)
        up = index.parent(up)
    return out


def _shared(
    best: Candidate, close: list[Candidate], index: AddressIndex
) -> tuple[int, Candidate] | None:
    """The nearest standard address above ``best`` that every close candidate lies in, and how
    many levels up it is (None when there is none)."""
    others = [{c.address_id, *(a.address_id for a in _ancestors(c, index))} for c in close]
    for climbed, above in enumerate(_ancestors(best, index), start=1):
        if all(above.address_id in ids for ids in others):
            return climbed, above
    return None


def _key(item: tuple[float, list[str], Candidate]) -> tuple[float, str]:
    return (-item[0], item[2].address_id or "")


def score(
    parsed: ParsedAddress, candidates: list[Candidate], index: AddressIndex | None = None
) -> GeocodeResult:
    """The best candidate as a GeocodeResult, with its score, level and alternatives.

    With the ``index`` the candidates came from, an ambiguity between candidates that share a
    coarser standard address is answered by that address, and a parsed community without a
    match is answered at community level.
    """
    if not candidates:
        return _fallback(parsed, index)
    rated = sorted(((*rate(parsed, c), c) for c in candidates), key=_key)
    best_score, reasons, best = rated[0]
    close = [c for s, _r, c in rated[1:] if best_score - s <= AMBIGUITY_GAP]
    alternatives = [c for _s, _r, c in rated[1:6]]
    if close:
        shared = _shared(best, close, index) if index is not None else None
        if shared is not None:
            climbed, above = shared
            best_score -= CLIMB_PENALTY * climbed
            reasons = [
                *reasons,
                f"{len(close) + 1} candidates, all in one {above.level}: answered it",
            ]
            alternatives = [c for _s, _r, c in rated[:5]]
            best = above
        else:
            best_score /= 2
            reasons = [*reasons, f"ambiguous: {len(close) + 1} candidates"]
    if best.nearest is not None:
        alternatives = [best.nearest, *alternatives][:5]
    return GeocodeResult(
        text=parsed.text,
        match_level=best.match_level,
        score=round(best_score, 3),
        address_id=best.address_id,
        full_address=best.full_address,
        lon=best.lon,
        lat=best.lat,
        admin_code=best.admin_code,
        county_code=best.admin_code[:6],
        township_code=best.township_code,
        community_code=best.admin_code,
        grid_code=best.grid_code,
        how=best.how,
        reasons=reasons,
        alternatives=alternatives,
        parsed=parsed,
    )
