"""Accuracy and speed of address parsing on real-world Chinese addresses.

The set is data/eval/realworld/addresses.csv: company addresses from job postings, taken from
the MIT-licensed DQinYuan/chinese_province_city_area_mapper (tests/addr.csv) and labelled by
hand with the NBS division codes (see data/eval/realworld/README.md). A level is labelled only
where the text names it, and accuracy at a level is the share of the rows labelled at that level
whose predicted code equals the label.

Two parsers are measured in the same run: ours (``addressing.parse.parse(text)``, no context)
and cpca 0.5.5, the open-source baseline (``cpca.transform``; it stops at the county, so it
has no township figure). cpca is imported in-process when it is installed in this venv;
otherwise it is run through ``--cpca-python`` (a python that has cpca, e.g.
/tmp/cpca-venv/bin/python) in a subprocess.

    python bench/realworld_parsing.py [--misses] [--cpca-python PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "eval" / "realworld" / "addresses.csv"
TABLES = ROOT / "addressing" / "data"
LEVELS = ("city", "county", "township")
MUNICIPALITIES = {"11", "12", "31", "50"}


def load_rows() -> list[dict[str, str]]:
    with open(DATA, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def division_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in ("provinces.csv", "cities.csv", "areas.csv", "streets.csv"):
        with open(TABLES / name, encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                names[row["code"]] = row["name"]
    return names


def ours(texts: list[str]) -> tuple[list[dict[str, str | None]], float]:
    from addressing.parse import parse

    # Build the matcher and the fuzzy (pinyin / edit-distance) tables outside the timing, with
    # texts that are not in the set (the parser caches its readings of address heads).
    started = time.perf_counter()
    for warm in (
        "浙江省宁波市海曙区集士港镇",
        "宁波市海署区",
    ):  # 海署, a typo: builds the fuzzy tables
        parse(warm)
    print(f"our parser's start-up (tables and indexes): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    results = [parse(text) for text in texts]
    rate = len(texts) / (time.perf_counter() - started)
    preds = [
        {level: getattr(result, f"{level}_code", None) or None for level in ("province", *LEVELS)}
        for result in results
    ]
    return preds, rate


_CPCA_SNIPPET = r"""
import json, sys, time
import cpca
texts = json.load(sys.stdin)
cpca.transform(texts[:1])
started = time.perf_counter()
frame = cpca.transform(texts)
rate = len(texts) / (time.perf_counter() - started)
out = []
for _, row in frame.iterrows():
    def val(key):
        v = row.get(key)
        return None if v is None or v != v else str(v)
    out.append({"city": val("市"), "county": val("区"), "adcode": val("adcode")})
json.dump({"rows": out, "rate": rate}, sys.stdout, ensure_ascii=False)
"""


def cpca_raw(texts: list[str], python: str | None) -> tuple[list[dict[str, str | None]], float]:
    if python is None:
        try:
            import cpca  # noqa: F401
        except ImportError:
            raise SystemExit("cpca is not importable here; pass --cpca-python") from None
        python = sys.executable
    done = subprocess.run(
        [python, "-c", _CPCA_SNIPPET],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(done.stdout)
    return answer["rows"], answer["rate"]


def cpca_codes(raw: list[dict[str, str | None]], counties: set[str]) -> list[dict[str, str | None]]:
    """cpca's adcode is the code of the lowest level it found; read our levels off it."""
    preds = []
    for row in raw:
        adcode = row["adcode"]
        pred: dict[str, str | None] = {
            "province": None,
            "city": None,
            "county": None,
            "township": None,
        }
        if adcode:
            pred["province"] = adcode[:2]
            if row["city"] or adcode[:2] in MUNICIPALITIES:
                pred["city"] = adcode[:4]
            if row["county"] or adcode in counties:  # 东莞/中山 have county code 441900/442000
                pred["county"] = adcode
        preds.append(pred)
    return preds


def score(
    rows: list[dict[str, str]], preds: list[dict[str, str | None]]
) -> dict[str, tuple[int, int]]:
    out = {}
    for level in LEVELS:
        labelled = [
            (row, pred) for row, pred in zip(rows, preds, strict=True) if row[f"{level}_code"]
        ]
        right = sum(1 for row, pred in labelled if pred[level] == row[f"{level}_code"])
        out[level] = (right, len(labelled))
    return out


def misses(
    rows: list[dict[str, str]], preds: list[dict[str, str | None]]
) -> list[tuple[dict[str, str], dict[str, str | None], list[str]]]:
    """Rows where a labelled level is predicted wrong or missing."""
    out = []
    for row, pred in zip(rows, preds, strict=True):
        wrong = [lv for lv in LEVELS if row[f"{lv}_code"] and pred[lv] != row[f"{lv}_code"]]
        if wrong:
            out.append((row, pred, wrong))
    return out


def _fmt(codes: dict[str, str | None], names: dict[str, str]) -> str:
    parts = []
    for level in LEVELS:
        code = codes.get(level)
        parts.append(f"{code}:{names.get(code, '?')}" if code else "-")
    return " / ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpca-python", default=None, help="python with cpca installed")
    parser.add_argument("--no-cpca", action="store_true")
    parser.add_argument("--no-misses", action="store_true")
    args = parser.parse_args()
    rows = load_rows()
    texts = [row["text"] for row in rows]
    names = division_names()
    labelled = {level: sum(1 for row in rows if row[f"{level}_code"]) for level in LEVELS}
    print(
        f"{len(rows)} real-world addresses; labelled: "
        + ", ".join(f"{k} {v}" for k, v in labelled.items())
    )

    results = {}
    preds, rate = ours(texts)
    results["ours"] = (score(rows, preds), rate)
    our_preds = preds
    if not args.no_cpca:
        raw, rate = cpca_raw(texts, args.cpca_python)
        counties = {code for code in names if len(code) == 6}
        results["cpca 0.5.5"] = (score(rows, cpca_codes(raw, counties)), rate)

    print(f"{'parser':<12}{'city':>16}{'county':>16}{'township':>16}{'rows/s':>12}")
    for name, (scores, rate) in results.items():
        cells = []
        for level in LEVELS:
            right, total = scores[level]
            if name.startswith("cpca") and level == "township":
                cells.append(f"{'n/a':>16}")
            else:
                cells.append(f"{100 * right / total:>8.1f}% ({right}/{total})".rjust(16))
        print(f"{name:<12}{''.join(cells)}{rate:>12,.0f}")

    if not args.no_misses:
        missed = misses(rows, our_preds)
        print(f"\nour parser's misses ({len(missed)} rows): text | label | got | levels wrong")
        for row, pred, wrong in missed:
            label = {lv: row[f"{lv}_code"] or None for lv in LEVELS}
            print(
                f"  {row['text']} | {_fmt(label, names)} | {_fmt(pred, names)} | {','.join(wrong)}"
            )


if __name__ == "__main__":
    main()
