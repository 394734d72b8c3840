"""Score calibration: raw geocoder score → observed probability that the answer is right.

"Right" is level-aware (see addressing.evaluate): the address answered is the true one or, for
an answer at building level, the building of the true room. Fitted on a development split of
its own (``spatialsvc address calibrate``), never the set ``address eval`` reports on, by
isotonic regression over bins: the (raw score, right?) pairs are binned, thin bins merged with
the next, and each bin's rate (Jeffreys' estimate, so that no bin claims certainty) made
non-decreasing by pooling adjacent violators. The knots (mean raw score of a bin, pooled rate)
go to ``addressing/data/calibration.json``; :func:`calibrated` interpolates linearly between
them, and is the identity while that file does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "calibration.json"
BIN_WIDTH = 0.05
MIN_BIN = 20  # a bin with fewer pairs is merged into its neighbour


@dataclass(frozen=True)
class Bin:
    """One bin of the reliability table."""

    low: float
    high: float
    n: int
    mean_raw: float
    observed: float  # share right
    fitted: float  # the isotonic value


def bins_of(
    raw: Sequence[float], right: Sequence[bool], width: float = BIN_WIDTH, min_n: int = MIN_BIN
) -> list[Bin]:
    """Fixed-width bins over [0, 1] (empty ones dropped, thin ones merged), not yet fitted."""
    x = np.clip(np.asarray(raw, dtype=float), 0.0, 1.0)
    y = np.asarray(right, dtype=float)
    if len(x) != len(y):
        raise ValueError("raw and right differ in length")
    edges = np.linspace(0.0, 1.0, round(1 / width) + 1)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    groups: list[list[int]] = []  # bin indexes merged together
    for b in np.unique(which):
        if groups and np.isin(which, groups[-1]).sum() < min_n:
            groups[-1].append(int(b))
        else:
            groups.append([int(b)])
    if len(groups) > 1 and np.isin(which, groups[-1]).sum() < min_n:
        groups[-2] += groups.pop()
    out = []
    for g in groups:
        inside = np.isin(which, g)
        out.append(
            Bin(
                low=float(edges[min(g)]),
                high=float(edges[max(g) + 1]),
                n=int(inside.sum()),
                mean_raw=float(x[inside].mean()),
                observed=float(y[inside].mean()),
                # Jeffreys' estimate: 4,610 right out of 4,610 is not a certainty
                fitted=float((y[inside].sum() + 0.5) / (inside.sum() + 1)),
            )
        )
    return out


def pool_adjacent_violators(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in weighted least squares."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for v, w in zip(values, weights, strict=True):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for mean, _w, length in blocks:
        out += [mean] * int(length)
    return out


def fit(raw: Sequence[float], right: Sequence[bool]) -> list[Bin]:
    """Bins with their isotonic fitted values."""
    bins = bins_of(raw, right)
    fitted = pool_adjacent_violators([b.fitted for b in bins], [b.n for b in bins])
    return [
        Bin(b.low, b.high, b.n, b.mean_raw, b.observed, f)
        for b, f in zip(bins, fitted, strict=True)
    ]


def knots(bins: Sequence[Bin]) -> list[tuple[float, float]]:
    """The (raw, probability) knots of a fit, at each bin's mean raw score.

    A first knot (0, 0) is added: a raw score of 0 means nothing was found.
    """
    out = [(round(b.mean_raw, 6), round(b.fitted, 6)) for b in bins]
    if out and out[0][0] > 0:
        out.insert(0, (0.0, 0.0))
    return out


def save(bins: Sequence[Bin], meta: dict[str, Any], path: Path = CALIBRATION_FILE) -> None:
    """Write the knots (and where they came from) as JSON."""
    doc = {"knots": knots(bins), "fitted_on": meta}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    _load.cache_clear()


@lru_cache(maxsize=4)
def _load(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.exists():
        return None
    pts = json.loads(path.read_text(encoding="utf-8"))["knots"]
    if not pts:
        return None
    xs, ys = zip(*pts, strict=True)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def calibrated(raw: float, path: Path = CALIBRATION_FILE) -> float:
    """The probability that an answer with this raw score is right (identity without a fit)."""
    table = _load(path)
    if table is None:
        return raw
    return float(np.interp(raw, table[0], table[1]))


def format_table(bins: Sequence[Bin]) -> str:
    """The reliability table: per bin, mean raw score, isotonic fit and observed share right."""
    lines = [f"{'raw score':<13} {'n':>6} {'mean raw':>9} {'calibrated':>11} {'observed':>9}"]
    for i, b in enumerate(bins):
        close = "]" if i == len(bins) - 1 else ")"
        lines.append(
            f"[{b.low:.2f}, {b.high:.2f}{close} {b.n:>6,} {b.mean_raw:>9.4f} {b.fitted:>11.4f}"
            f" {b.observed:>9.4f}"
        )
    return "\n".join(lines)
