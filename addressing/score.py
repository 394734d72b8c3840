"""Stage 4: score the candidates of a parsed address and pick the best one.

The rules are simple and written down, so that every score can be explained (each penalty
is recorded in ``GeocodeResult.reasons``):

- a candidate starts from the level it was matched at: room, building and door 1.0,
  compound 0.6, road 0.5;
- the text named a part more specific than the match reached (a room, a building, a door
  plate that is not in the base): -0.3 for each such level;
- a road or compound name found only by fuzzy matching: -0.1 each; a division name read
  with a typo by the parser: -0.05 each; a conflict between division levels: -0.1 each
  (-0.02 for a community, which the match does not rely on);
- a candidate found by reading the text again (a typo in a mark such as 8撞, or a compound
  named 楼… after a door plate): -0.05;
- a part of the text that disagrees with the candidate (road, door plate, compound, unit):
  -0.15 each (a name that the base name contains agrees: 村路 in 崔岙村路);
- text left unread that holds numbers (and is not part of the candidate's compound name):
  -0.3;
- a township that disagrees: -0.2; no township in the text: -0.02;
- several candidates within 0.05 of the best one (ambiguity): the score is halved and the
  others are returned as alternatives.

Without a candidate the answer falls back to the township (0.2), county (0.1) or city (0.05)
that the parser recognised, and to no level (0.0) otherwise.
"""

from __future__ import annotations

from addressing.match import Candidate
from addressing.model import ParsedAddress
from addressing.normalize import normalize
from addressing.result import GeocodeResult

_BASE = {"room": 1.0, "building": 1.0, "door": 1.0, "compound": 0.6, "road": 0.5}
_DEPTH = {"road": 0, "compound": 0, "door": 1, "building": 2, "room": 3}
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
    """Whether unread text is part of the candidate's compound name as normalized (桂一弄堂 →
    桂1弄堂, whose "1弄堂" the parser could not place)."""
    return bool(cand.compound) and rest in normalize(cand.compound or "")


def rate(parsed: ParsedAddress, cand: Candidate) -> tuple[float, list[str]]:
    """The score of one candidate for a parsed address, and the reasons for its penalties."""
    score = _BASE[cand.match_level]
    reasons: list[str] = []
    if cand.reread is not None:
        parsed = cand.reread
        score -= 0.05
        reasons.append("found by reading the text again (typo in a mark, or 号楼 + compound)")
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


def _fallback(parsed: ParsedAddress) -> GeocodeResult:
    for level, code, value in (
        ("township", parsed.township_code, 0.2),
        ("county", parsed.county_code, 0.1),
        ("city", parsed.city_code, 0.05),
    ):
        if code:
            return GeocodeResult(
                text=parsed.text,
                match_level=level,
                score=value,
                admin_code=code,
                township_code=parsed.township_code,
                reasons=["no standard address matched"],
                parsed=parsed,
            )
    return GeocodeResult(
        text=parsed.text, match_level=None, score=0.0, reasons=["nothing recognised"], parsed=parsed
    )


def score(parsed: ParsedAddress, candidates: list[Candidate]) -> GeocodeResult:
    """The best candidate as a GeocodeResult, with its score, level and alternatives."""
    if not candidates:
        return _fallback(parsed)
    rated = sorted(
        ((*rate(parsed, c), c) for c in candidates), key=lambda t: (-t[0], t[2].address_id)
    )
    best_score, reasons, best = rated[0]
    close = [c for s, _r, c in rated[1:] if best_score - s <= AMBIGUITY_GAP]
    if close:
        best_score /= 2
        reasons = [*reasons, f"ambiguous: {len(close) + 1} candidates"]
    return GeocodeResult(
        text=parsed.text,
        match_level=best.match_level,
        score=round(best_score, 3),
        address_id=best.address_id,
        full_address=best.full_address,
        lon=best.lon,
        lat=best.lat,
        admin_code=best.admin_code,
        township_code=best.township_code,
        how=best.how,
        reasons=reasons,
        alternatives=[c for _s, _r, c in rated[1:6]],
        parsed=parsed,
    )
