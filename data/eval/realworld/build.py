"""Turn the hand-labelling worksheet (worksheet.txt) into addresses.csv.

Each worksheet line is ``text | province | city | county | township | note``. A level field
holds the official name (or an unambiguous short form of it) that a human read in the text, or
``*`` when that level is implied by a named lower level (e.g. 昆山市 implies 苏州市 and 江苏省),
or is empty when the text does not name it. This script only looks the names up in the
official division tables (addressing/data/*.csv) to write the codes, checking that the named
levels are consistent with one another and that exactly one combination fits; it never calls
the parser under evaluation.

    python data/eval/realworld/build.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLES = HERE.parents[2] / "addressing" / "data"
LEVELS = ("province", "city", "county", "township")


def _read(name: str) -> list[dict[str, str]]:
    with open(TABLES / name, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


Entry = tuple[str, str, dict[str, str]]


def _tables() -> dict[str, list[Entry]]:
    """Per level: (code, name, ancestor codes by level)."""
    out: dict[str, list[Entry]] = {level: [] for level in LEVELS}
    for row in _read("provinces.csv"):
        out["province"].append((row["code"], row["name"], {"province": row["code"]}))
    for row in _read("cities.csv"):
        anc = {"province": row["provinceCode"], "city": row["code"]}
        out["city"].append((row["code"], row["name"], anc))
    for row in _read("areas.csv"):
        anc = {"province": row["provinceCode"], "city": row["cityCode"], "county": row["code"]}
        out["county"].append((row["code"], row["name"], anc))
    for row in _read("streets.csv"):
        anc = {
            "province": row["provinceCode"],
            "city": row["cityCode"],
            "county": row["areaCode"],
            "township": row["code"],
        }
        out["township"].append((row["code"], row["name"], anc))
    return out


def _candidates(table: list[Entry], given: str) -> list[Entry]:
    if given.isdigit():
        return [entry for entry in table if entry[0] == given]
    exact = [entry for entry in table if entry[1] == given]
    if exact:
        return exact
    return [entry for entry in table if entry[1].startswith(given) and len(given) >= 2]


def resolve(tables: dict[str, list[Entry]], fields: list[str]) -> dict[str, str]:
    """The codes of the labelled levels of one worksheet line (ValueError unless unique)."""
    named = [i for i, value in enumerate(fields) if value and value != "*"]
    if not named:
        return {level: "" for level in LEVELS}
    lowest = max(named)
    if lowest == 0 and fields[1] == "*":
        # A named municipality (北京市, 上海市, ...) implies its only city-level code.
        (province,) = [c for c, _n, _a in _candidates(tables["province"], fields[0])]
        cities = [c for c, _n, anc in tables["city"] if anc["province"] == province]
        if len(cities) != 1:
            raise ValueError(f"'*' city under a province with {len(cities)} cities: {fields}")
        fields = [fields[0], cities[0], *fields[2:]]
        named, lowest = [0, 1], 1
    for i, value in enumerate(fields):
        if value == "*" and i > lowest:
            raise ValueError(f"'*' below the lowest named level: {fields}")
    combos = []
    for _code, _name, anc in _candidates(tables[LEVELS[lowest]], fields[lowest]):
        ok = True
        for i in named:
            if i == lowest:
                continue
            allowed = {c for c, _n, _a in _candidates(tables[LEVELS[i]], fields[i])}
            if anc.get(LEVELS[i]) not in allowed:
                ok = False
                break
        if ok:
            combos.append(anc)
    if len(combos) != 1:
        raise ValueError(f"{len(combos)} combinations for {fields}: {combos[:6]}")
    anc = combos[0]
    return {level: (anc[level] if fields[i] else "") for i, level in enumerate(LEVELS)}


def main() -> int:
    """Build addresses.csv; exit 1 if any line does not resolve."""
    tables = _tables()
    rows, errors = [], 0
    for lineno, line in enumerate((HERE / "worksheet.txt").read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("|")
        if len(parts) < 5:
            print(f"line {lineno}: too few fields: {line}", file=sys.stderr)
            errors += 1
            continue
        text = parts[0]
        fields = [p.strip() for p in parts[1:5]]
        note = "|".join(parts[5:]).strip() if len(parts) > 5 else ""
        try:
            codes = resolve(tables, fields)
        except ValueError as exc:
            print(f"line {lineno}: {text}: {exc}", file=sys.stderr)
            errors += 1
            continue
        rows.append(
            {
                "text": text,
                "province_code": codes["province"],
                "city_code": codes["city"],
                "county_code": codes["county"],
                "township_code": codes["township"],
                "note": note,
            }
        )
    texts = [r["text"] for r in rows]
    dupes = {t for t in texts if texts.count(t) > 1}
    if dupes:
        print(f"duplicate texts: {sorted(dupes)}", file=sys.stderr)
        errors += 1
    with open(HERE / "addresses.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["text", *[f"{lv}_code" for lv in LEVELS], "note"]
        )
        writer.writeheader()
        writer.writerows(rows)
    counts = {lv: sum(1 for r in rows if r[f"{lv}_code"]) for lv in LEVELS}
    print(f"{len(rows)} rows; labelled: {counts}; errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
