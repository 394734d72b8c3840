"""The ``spatialsvc address`` commands: parse, devset, eval, calibrate."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from spatialsvc.cli_context import settings_of
from spatialsvc.errors import EncodingError, InvalidInput

DEFAULT_SET = Path("data/eval/devset.csv")
DEFAULT_CONTEXT = "330203"  # Haishu, as addressing.geocode.DEFAULT_CONTEXT
PROGRESS_EVERY = 10_000


@click.group("address")
def address() -> None:
    """The address pipeline: parse texts, build and score the development set."""


def parsed_dict(parsed: Any) -> dict[str, Any]:
    """A parsed address as JSON-ready dict: parts, codes, conflicts, fuzzy, rest."""
    levels = ("province", "city", "county", "township", "community")
    return {
        "text": parsed.text,
        "normalized": parsed.normalized,
        "parts": parsed.parts(),
        "codes": {k: getattr(parsed, f"{k}_code") for k in levels},
        "conflicts": [
            {"part": c.part, "found": c.found, "kept": c.kept, "reason": c.reason}
            for c in parsed.conflicts
        ],
        "fuzzy": list(parsed.fuzzy),
        "rest": parsed.rest,
    }


def _table(doc: dict[str, Any]) -> str:
    lines = [f"{'text':<12} {doc['text']}", f"{'normalized':<12} {doc['normalized']}"]
    for name, value in doc["parts"].items():
        if value is not None:
            code = doc["codes"].get(name)
            lines.append(f"{name:<12} {value}" + (f"  ({code})" if code else ""))
    if doc["rest"]:
        lines.append(f"{'rest':<12} {doc['rest']}")
    if doc["fuzzy"]:
        lines.append(f"{'fuzzy':<12} {', '.join(doc['fuzzy'])}")
    for c in doc["conflicts"]:
        lines.append(f"{'conflict':<12} {c['part']}: {c['found']} → {c['kept']} ({c['reason']})")
    return "\n".join(lines)


def _lines(path: Path, encoding: str) -> Iterator[str]:
    try:
        with path.open(encoding=encoding, newline="") as f:
            for line in f:
                yield line.rstrip("\r\n")
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"{path} is not {encoding} ({exc.reason} at byte {exc.start}); "
            "give the right --encoding (e.g. gbk) or convert the file to UTF-8"
        ) from exc


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def parse_file(
    source: Path, out: TextIO, context: str | None, encoding: str = "utf-8-sig"
) -> tuple[int, int]:
    """Parse one address a line into one JSON object a line; (lines, errors)."""
    from addressing.parse import parse

    total = _count_lines(source) if source.exists() else 0
    started = time.perf_counter()
    n = errors = 0
    for n, text in enumerate(_lines(source, encoding), start=1):
        if not text.strip():
            doc: dict[str, Any] = {"line": n, "text": text, "error": "empty line"}
            errors += 1
        else:
            doc = {"line": n, **parsed_dict(parse(text, context=context))}
        out.write(json.dumps(doc, ensure_ascii=False) + "\n")
        if n % PROGRESS_EVERY == 0:
            rate = n / (time.perf_counter() - started)
            click.echo(f"parsed {n:,} / {total:,} lines ({rate:,.0f}/s)", err=True)
    return n, errors


@address.command("parse")
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--input",
    "source",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A file with one address a line.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON lines out, one object per input line (default: standard output).",
)
@click.option("--encoding", default="utf-8-sig", show_default=True, help="Of the --input file.")
@click.option(
    "--context",
    default=DEFAULT_CONTEXT,
    show_default=True,
    help="Division code that breaks ties between readings ('' for none).",
)
def address_parse(
    text: str | None,
    as_json: bool,
    source: Path | None,
    output: Path | None,
    encoding: str,
    context: str,
) -> None:
    """Split an address into its parts (or every line of --input into JSON lines)."""
    from addressing.parse import parse

    if (text is None) == (source is None):
        raise click.UsageError("give either an address TEXT or --input FILE")
    if source is not None:
        if output is None:
            lines, errors = parse_file(source, sys.stdout, context or None, encoding)
        else:
            with output.open("w", encoding="utf-8") as out:
                lines, errors = parse_file(source, out, context or None, encoding)
        click.echo(f"parsed {lines:,} lines ({errors:,} empty)", err=True)
        return
    assert text is not None
    doc = parsed_dict(parse(text, context=context or None))
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2) if as_json else _table(doc))


@address.command("devset")
@click.option("--seed", type=int, default=None, help="Sampling and noise seed [eval seed].")
@click.option("--n", "n", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_SET,
    show_default=True,
)  # fmt: skip
@click.pass_context
def address_devset(ctx: click.Context, seed: int | None, n: int, output: Path) -> None:
    """Write a development set: clerk-style texts of demo addresses with their truth."""
    from spatialsvc.demo import devset

    seed = devset.EVAL_SEED if seed is None else seed
    addresses = devset.demo_addresses(settings_of(ctx).reference_dir)
    frame = devset.make_devset(addresses, seed, n)
    devset.write_devset(frame, output)
    click.echo(f"wrote {output}: {len(frame):,} texts (seed {seed}, demo seed {devset.DEMO_SEED})")
    for level, count in frame["level"].value_counts().items():
        click.echo(f"  {level:<9} {count:>6,}")


def _geocoder(ctx: click.Context) -> Any:
    from addressing.geocode import Geocoder
    from spatialsvc.db.connect import connect

    conn = connect(settings_of(ctx), "spatialsvc-address-eval")
    try:
        started = time.perf_counter()
        geocoder = Geocoder(conn)
        click.echo(f"loaded the address index in {time.perf_counter() - started:.1f} s", err=True)
    finally:
        conn.close()
    return geocoder


@address.command("eval")
@click.option(
    "--set", "set_path", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_SET,
    show_default=True, help="The development set (CSV).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def address_eval(ctx: click.Context, set_path: Path, as_json: bool) -> None:
    """Geocode a development set against the database in use and print how well it went."""
    from addressing.evaluate import format_report, run, summarize
    from spatialsvc.demo.devset import read_devset

    truths = read_devset(set_path)
    geocoder = _geocoder(ctx)
    pairs, seconds = run(geocoder.geocode, truths)
    report = summarize(pairs, seconds)
    if as_json:
        click.echo(json.dumps({"set": str(set_path), **report.to_dict()}, ensure_ascii=False))
    else:
        click.echo(f"{set_path}: " + format_report(report))


@address.command("calibrate")
@click.option(
    "--set", "set_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Fit on this development set instead of the calibration split.",
)  # fmt: skip
@click.option("--seed", type=int, default=None, help="Seed of the calibration split.")
@click.option("--n", "n", type=click.IntRange(min=100), default=20000, show_default=True)
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Where to write the knots [addressing/data/calibration.json].",
)  # fmt: skip
@click.pass_context
def address_calibrate(
    ctx: click.Context, set_path: Path | None, seed: int | None, n: int, output: Path | None
) -> None:
    """Fit raw score → probability right, write the knots and print a reliability table.

    By default the fit uses a split of its own (the calibration seed, addresses of the eval
    set left out), never the set `address eval` reports on.
    """
    from addressing import calibration
    from addressing.evaluate import judge, run
    from spatialsvc.demo import devset

    if set_path is not None:
        truths = devset.read_devset(set_path)
        meta: dict[str, Any] = {"set": str(set_path), "n": len(truths)}
    else:
        seed = devset.CALIBRATION_SEED if seed is None else seed
        exclude = (
            [t.address_id for t in devset.read_devset(DEFAULT_SET)] if DEFAULT_SET.exists() else []
        )
        addresses = devset.demo_addresses(settings_of(ctx).reference_dir)
        truths = devset.truths_from_frame(devset.make_devset(addresses, seed, n, exclude))
        meta = {"seed": seed, "demo_seed": devset.DEMO_SEED, "n": n, "excluded": len(exclude)}
    pairs, _seconds = run(_geocoder(ctx).geocode, truths)
    raw = [a.score if a.raw_score is None else a.raw_score for _t, a in pairs]
    # right: the address named is the true one or, at building level, holds the true room
    right = [judge(t, a).right_level_aware for t, a in pairs]
    bins = calibration.fit(raw, right)
    target = output or calibration.CALIBRATION_FILE
    calibration.save(bins, {**meta, "right": "level-aware"}, target)
    click.echo(calibration.format_table(bins))
    click.echo(f"wrote {target} ({len(bins)} knots, fitted on {len(pairs):,} answers)")
