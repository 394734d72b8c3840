"""The development set: clerk-style texts written from the demo's standard addresses, with the
truth (address_id, level, point) and the noise each text received.

Texts come from the same clerk habits as the demo registers (:mod:`spatialsvc.demo.clerk`,
called piece by piece here so the noise drawn for each row can be recorded), but from a
different seed, so they are unseen by anyone tuning on the registers. The demo geography is
regenerated in memory with the demo seed, so address ids match the loaded demo district.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from addressing.evaluate import Truth
from spatialsvc.demo import clerk
from spatialsvc.errors import EncodingError, InvalidInput

DEMO_SEED = 20261122  # the demo district: base.standard_address ids depend on it
EVAL_SEED = 20260404  # data/eval/devset.csv, the set `spatialsvc address eval` reports on
CALIBRATION_SEED = 20260405  # the calibration split, fitted by `spatialsvc address calibrate`
COLUMNS = (
    "text",
    "address_id",
    "level",
    "building_address_id",
    "lon",
    "lat",
    "noise",
    "full_address",
)
CHAR_NOISE = ("space", "typo", "traditional", "fullwidth")


def _effective_place(fields: Sequence[str], place_i: int) -> str:
    """The place form the clerk really wrote (as clerk._compose decides it)."""
    road, compound, building = fields[5], fields[7], fields[8]
    place = clerk.PLACE_FORMS[place_i][0]
    if not compound or not building:
        place = "road"
    if not road:
        place = "compound"
    return place


def _structure_tags(fields: Sequence[str], choice: Sequence[int]) -> list[str]:
    """Tags for how the address was laid out: prefix, township, community, place, form."""
    township, community, road, door, compound, building, _unit, room = fields[3:]
    prefix_i, township_on, community_on, place_i, room_i, building_i, no_hao = choice[:7]
    form = clerk.PREFIX_FORMS[prefix_i][0]
    tags = ["prefix=" + (form.replace(" ", "+") if form else "none")]
    if township and form and not township_on:
        tags.append("no_township")
    if community and community_on:
        tags.append("community")
    place = _effective_place(fields, place_i)
    tags.append("place=" + place.replace(" ", "+"))
    if building:
        with_unit, without_unit, _ = clerk.ROOM_FORMS[room_i]
        if room:
            tags.append("room=" + (with_unit if fields[9] else without_unit))
            if fields[9] and "{u}" not in with_unit:
                tags.append("no_unit")  # the building has units, the clerk left it out
        else:
            tags.append("building=" + clerk.BUILDING_FORMS[building_i][0])
    digits_follow = bool(building) and not ("compound" in place and compound)
    if "road" in place and road and door and no_hao and not digits_follow:
        tags.append("no_hao")
    return tags


def _char_tags(parts: list[str], choice: Sequence[int]) -> tuple[list[str], str]:
    """Character-level noise actually applied, and the final text (as clerk._finish)."""
    tags = []
    space = choice[10]
    if space >= 0 and len(parts) > 1:
        k = 1 + space % (len(parts) - 1)
        text = "".join(parts[:k]) + " " + "".join(parts[k:])
        tags.append("space")
    else:
        text = "".join(parts)
    if choice[9]:
        typo = clerk._typo(text, int(choice[10]) if space >= 0 else len(text))
        if typo != text:
            tags.append("typo")
        text = typo
    if choice[8]:
        trad = text.translate(clerk.TRADITIONAL)
        if trad != text:
            tags.append("traditional")
        text = trad
    if choice[7]:
        wide = text.translate(clerk.FULLWIDTH)
        if wide != text:
            tags.append("fullwidth")
        text = wide
    if not tags:
        tags.append("plain")
    return tags, text


def write_with_noise(fields: Sequence[str], choice: Sequence[int]) -> tuple[str, tuple[str, ...]]:
    """One clerk-style text (identical to clerk's) and the noise tags it received."""
    parts = clerk._compose(fields, choice[:7])
    chars, text = _char_tags(parts, choice)
    assert text == clerk._finish(parts, choice)
    return text, tuple(_structure_tags(fields, choice) + chars)


def demo_addresses(reference_dir: Path, seed: int = DEMO_SEED) -> pd.DataFrame:
    """The demo district's standard addresses, regenerated in memory (about 5 s)."""
    from spatialsvc.demo.geography import generate_geography

    return generate_geography(reference_dir, seed, echo=lambda _m: None).addresses


def make_devset(
    addresses: pd.DataFrame, seed: int, n: int, exclude: Iterable[str] = ()
) -> pd.DataFrame:
    """``n`` clerk-style texts of standard addresses sampled uniformly (without repeats).

    ``exclude`` holds address ids not to sample (e.g. those of another split).
    """
    rng = np.random.default_rng(seed)
    buildings = addresses.loc[addresses["level"] == "building"]
    building_address = dict(zip(buildings["building_id"], buildings["address_id"], strict=True))
    pool = addresses.loc[~addresses["address_id"].isin(set(exclude))]
    if n > len(pool):
        raise InvalidInput(f"asked for {n:,} rows, only {len(pool):,} addresses to sample")
    rows = pool.iloc[np.sort(rng.choice(len(pool), n, replace=False))]
    rows = rows.iloc[rng.permutation(n)]
    choices = clerk._draw_choices(rng, n).tolist()
    records = []
    for (_, row), choice in zip(rows.iterrows(), choices, strict=True):
        fields = [clerk._text(row.get(name)) for name in clerk.FIELDS]
        text, noise = write_with_noise(fields, choice)
        level = str(row["level"])
        records.append(
            {
                "text": text,
                "address_id": row["address_id"],
                "level": level,
                "building_address_id": building_address.get(row["building_id"], "")
                if level in ("room", "building")
                else "",
                "lon": round(float(row["geom"].x), 7),
                "lat": round(float(row["geom"].y), 7),
                "noise": ";".join(noise),
                "full_address": row["full_address"],
            }
        )
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def write_devset(frame: pd.DataFrame, path: Path) -> None:
    """Write a development set as UTF-8 CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def read_devset(path: Path) -> list[Truth]:
    """Read a development set written by :func:`write_devset`."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = set(COLUMNS[:6]) - set(reader.fieldnames or ())
            if missing:
                raise InvalidInput(f"{path}: missing columns {', '.join(sorted(missing))}")
            return [_truth(row) for row in reader]
    except FileNotFoundError as exc:
        raise InvalidInput(
            f"{path}: no such file (make one with `spatialsvc address devset`)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise EncodingError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc


def truths_from_frame(frame: pd.DataFrame) -> list[Truth]:
    """The rows of a frame made by :func:`make_devset` as :class:`Truth` values."""
    return [_truth(row) for row in frame.astype(object).to_dict("records")]


def _truth(row: Mapping[Any, Any]) -> Truth:
    noise = str(row.get("noise") or "")
    return Truth(
        text=str(row["text"]),
        address_id=str(row["address_id"]),
        level=str(row["level"]),
        lon=float(row["lon"]),
        lat=float(row["lat"]),
        building_address_id=str(row.get("building_address_id") or "") or None,
        noise=tuple(t for t in noise.split(";") if t),
        full_address=str(row.get("full_address") or ""),
    )
