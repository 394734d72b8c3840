"""How well the geocoder does on a development set: pure functions over (truth, answer) pairs.

Figures (see docs/addressing.md):

- *right*: the answer's address_id is the true one (strict), by true level and overall;
- *right, level-aware*: also counts a building-level answer for a room in that building;
- coordinate error percentiles (metres, geodesic on the CGCS2000 ellipsoid) over every answer
  with a point, whatever its level;
- *unmatched*: no standard address in the answer (no address_id: nothing found, or only a road,
  compound, community or coarser level, or an interpolated door);
- *wrong among score ≥ 0.8*: among answers with an address_id and a score of 0.8 or more, the
  share whose address_id is not the true one (strict, and level-aware);
- the right shares (strict and level-aware) per noise tag, and the speed.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pyproj import Geod

HIGH_SCORE = 0.8
ERROR = "error"  # the match level recorded when the geocoder raised
TRUE_LEVELS = ("room", "building", "door")
PERCENTILES = (50, 90, 95, 99)
_GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid differs from GRS80 by < 0.1 mm here


@dataclass(frozen=True)
class Truth:
    """One development-set row: a text and the standard address it was written from."""

    text: str
    address_id: str
    level: str  # room, building or door
    lon: float  # EPSG:4490
    lat: float
    building_address_id: str | None = None  # the building of a room (or the building itself)
    noise: tuple[str, ...] = ()
    full_address: str = ""


@dataclass(frozen=True)
class Answer:
    """The part of a geocoder answer the evaluation looks at."""

    address_id: str | None
    match_level: str | None
    score: float
    lon: float | None = None
    lat: float | None = None
    raw_score: float | None = None  # before calibration, when the geocoder calibrates

    @classmethod
    def of(cls, result: Any) -> Answer:
        """From an :class:`addressing.result.GeocodeResult` (or anything with its fields)."""
        raw = getattr(result, "raw_score", None)
        return cls(result.address_id, result.match_level, result.score, result.lon, result.lat, raw)


@dataclass(frozen=True)
class Verdict:
    """What one answer is worth against its truth."""

    matched: bool  # the answer names a standard address
    right: bool  # ... and it is the true one
    right_level_aware: bool  # ... or the true room's building, answered at building level
    error_m: float | None  # distance from the true point, where the answer has a point


@dataclass
class Share:
    """A count out of a total, with its share (None when the total is 0)."""

    n: int
    total: int
    share: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.share = self.n / self.total if self.total else None


@dataclass
class Report:
    """Every figure of an evaluation, JSON-ready through :meth:`to_dict`."""

    n: int
    right: dict[str, Share]  # by true level, and "all"
    right_level_aware: dict[str, Share]
    unmatched: Share
    wrong_high: Share  # strict: among matches scored >= HIGH_SCORE
    wrong_high_level_aware: Share
    error_m: dict[str, float | None]  # p50, p90, p95, p99
    answered_with_point: int
    answer_levels: dict[str, int]
    by_noise: dict[str, Share]  # strict
    by_noise_level_aware: dict[str, Share]
    seconds: float | None = None
    rate: float | None = None  # addresses per second

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (for --json)."""
        return asdict(self)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two EPSG:4490 points."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


def judge(truth: Truth, answer: Answer) -> Verdict:
    """The verdict on one answer."""
    matched = answer.address_id is not None
    right = matched and answer.address_id == truth.address_id
    in_building = (
        matched
        and truth.level == "room"
        and answer.match_level == "building"
        and truth.building_address_id is not None
        and answer.address_id == truth.building_address_id
    )
    error = None
    if answer.lon is not None and answer.lat is not None:
        error = distance_m(truth.lon, truth.lat, answer.lon, answer.lat)
    return Verdict(matched, right, right or in_building, error)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99 of ``values`` (None for each when empty)."""
    if not values:
        return {f"p{p}": None for p in PERCENTILES}
    got = np.percentile(np.asarray(values, dtype=float), PERCENTILES)
    return {f"p{p}": float(v) for p, v in zip(PERCENTILES, got, strict=True)}


def summarize(pairs: Sequence[tuple[Truth, Answer]], seconds: float | None = None) -> Report:
    """All the figures over (truth, answer) pairs; ``seconds`` is the time spent geocoding."""
    verdicts = [judge(t, a) for t, a in pairs]
    right: dict[str, list[int]] = {}
    aware: dict[str, list[int]] = {}
    noise: dict[str, list[int]] = {}
    noise_aware: dict[str, list[int]] = {}
    levels: dict[str, int] = {}
    high = [0, 0, 0]  # matched with high score, wrong strict, wrong level-aware
    for (truth, answer), v in zip(pairs, verdicts, strict=True):
        for key in (truth.level, "all"):
            _tally(right, key, v.right)
            _tally(aware, key, v.right_level_aware)
        for tag in truth.noise:
            _tally(noise, tag, v.right)
            _tally(noise_aware, tag, v.right_level_aware)
        level = answer.match_level or "none"
        levels[level] = levels.get(level, 0) + 1
        if v.matched and answer.score >= HIGH_SCORE:
            high[0] += 1
            high[1] += not v.right
            high[2] += not v.right_level_aware
    errors = [v.error_m for v in verdicts if v.error_m is not None]
    n = len(pairs)
    return Report(
        n=n,
        right=_shares(right, TRUE_LEVELS + ("all",)),
        right_level_aware=_shares(aware, TRUE_LEVELS + ("all",)),
        unmatched=Share(sum(not v.matched for v in verdicts), n),
        wrong_high=Share(high[1], high[0]),
        wrong_high_level_aware=Share(high[2], high[0]),
        error_m=percentiles(errors),
        answered_with_point=len(errors),
        answer_levels=dict(sorted(levels.items(), key=lambda kv: -kv[1])),
        by_noise=_shares(noise, sorted(noise)),
        by_noise_level_aware=_shares(noise_aware, sorted(noise)),
        seconds=seconds,
        rate=n / seconds if seconds else None,
    )


def _tally(table: dict[str, list[int]], key: str, ok: bool) -> None:
    counts = table.setdefault(key, [0, 0])
    counts[0] += ok
    counts[1] += 1


def _shares(table: dict[str, list[int]], keys: Iterable[str]) -> dict[str, Share]:
    return {k: Share(*table.get(k, [0, 0])) for k in keys}


def run(
    geocode: Callable[[str], Any], truths: Sequence[Truth], warmup: int = 20
) -> tuple[list[tuple[Truth, Answer]], float]:
    """Geocode every truth's text; the pairs and the seconds spent (after ``warmup`` calls)."""
    for truth in truths[:warmup]:
        _answer(geocode, truth.text)
    started = time.perf_counter()
    pairs = [(t, _answer(geocode, t.text)) for t in truths]
    return pairs, time.perf_counter() - started


def _answer(geocode: Callable[[str], Any], text: str) -> Answer:
    """The geocoder's answer; a crash counts as an unmatched answer at level "error"."""
    try:
        return Answer.of(geocode(text))
    except Exception:  # one bad text must not end the evaluation
        return Answer(None, ERROR, 0.0)


def _pct(share: Share) -> str:
    if share.share is None:
        return "      -"
    return f"{100 * share.share:6.2f}%"


def _pad(label: str, width: int) -> str:
    """``label`` padded to ``width`` terminal columns (CJK characters take two)."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in label)
    return label + " " * max(width - len(label) - wide, 0)


def _row(label: str, share: Share) -> str:
    counts = f"({share.n:,} / {share.total:,})"
    return f"  {_pad(label, 34)} {_pct(share)}  {counts:<17}"


def format_report(report: Report) -> str:
    """The report as a human-readable table."""
    lines = [f"{report.n:,} addresses"]
    lines.append("right address_id (strict), by true level:")
    lines += [_row(k, s) for k, s in report.right.items()]
    lines.append("right, level-aware (a room's building at building level counts):")
    lines += [_row(k, s) for k, s in report.right_level_aware.items()]
    lines.append("unmatched:")
    lines.append(_row("no address_id in the answer", report.unmatched))
    lines.append(f"wrong among matches scored >= {HIGH_SCORE}:")
    lines.append(_row("strict", report.wrong_high))
    lines.append(_row("level-aware", report.wrong_high_level_aware))
    errs = "  ".join(
        f"{k} {v:,.1f}" if v is not None else f"{k} -" for k, v in report.error_m.items()
    )
    lines.append(f"coordinate error (m, {report.answered_with_point:,} answers with a point):")
    lines.append(f"  {errs}")
    lines.append(
        "answer levels: " + ", ".join(f"{k} {v:,}" for k, v in report.answer_levels.items())
    )
    lines.append(f"right by noise:{' ' * 22}strict {' ' * 18}level-aware")
    for tag, s in report.by_noise.items():
        aware = report.by_noise_level_aware[tag]
        lines.append(f"{_row(tag, s)}  {_pct(aware)}")
    errors = report.answer_levels.get(ERROR, 0)
    if errors:
        lines.append(f"the geocoder raised on {errors:,} texts (counted as unmatched)")
    if report.seconds is not None and report.rate is not None:
        lines.append(f"speed: {report.rate:,.0f} addresses/s ({report.seconds:.2f} s, one core)")
    return "\n".join(line.rstrip() for line in lines)
