"""Throughput of the first two address stages, normalize and parse, on clerk-style addresses
written from the demo district's standard addresses.

The anchor, measured in the same run, is the cost of reading the same texts through
``unicodedata.normalize('NFKC', ...)`` alone: the ratios say how much our stages cost over the
cheapest possible pass. (The issue's anchor, cpca's parse-only cost, comes with the batch
geocoder.)

    python bench/address_parsing.py [--n 20000]
"""

from __future__ import annotations

import argparse
import time
import unicodedata

import numpy as np

from addressing.normalize import normalize
from addressing.parse import parse
from spatialsvc.demo.clerk import write_many_like_clerks
from spatialsvc.demo.geography import generate_geography
from spatialsvc.settings import get_settings


def _rate(fn, texts: list[str]) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for text in texts:
        fn(text)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    geo = generate_geography(get_settings().reference_dir, 20261122, echo=lambda _m: None)
    frame = geo.addresses.sample(n=min(args.n, len(geo.addresses)), random_state=1)
    texts = list(write_many_like_clerks(frame, np.random.default_rng(2)))
    parse(texts[0])  # build the automaton and tables once
    anchor = _rate(lambda t: unicodedata.normalize("NFKC", t), texts)
    norm = _rate(normalize, texts)
    parsed = _rate(lambda t: parse(t, context="330203"), texts)
    print(f"{len(texts):,} clerk-style addresses, one core:")
    print(f"  NFKC only (anchor) {anchor:,.0f}/s")
    print(f"  normalize          {norm:,.0f}/s = {anchor / norm:.1f}x the anchor's cost")
    print(f"  parse              {parsed:,.0f}/s = {anchor / parsed:.1f}x the anchor's cost")


if __name__ == "__main__":
    main()
