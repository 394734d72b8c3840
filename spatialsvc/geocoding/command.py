"""The ``spatialsvc geocode`` command group: one address, a CSV file, or a register."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from spatialsvc.cli_context import settings_of


class _GeocodeGroup(click.Group):
    """``spatialsvc geocode "…"`` runs the ``one`` subcommand: a bare text is an address."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Route a first argument that is not a subcommand (nor --help) to ``one``."""
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["one", *args]
        return super().parse_args(ctx, args)


HELP = """Geocode addresses against the standard address base (EPSG:4490).

\b
  spatialsvc geocode "海曙区集士港镇万科金色城市8-10-1604" [--json]
  spatialsvc geocode batch --input in.csv --column address --output out.csv
  spatialsvc geocode registry person [--min-score 0.8]

See docs/geocoding.md.
"""


@click.group("geocode", cls=_GeocodeGroup, help=HELP)
def geocode() -> None:
    """Click group; see HELP."""


def _human(d: dict[str, Any]) -> list[str]:
    if not d["match_level"]:
        lines = [f"no match for {d['text']!r} (score {d['score']:.2f})"]
    else:
        lon, lat = d["lon"], d["lat"]
        where = f"{lon:.7f}, {lat:.7f} (lon, lat; EPSG:4490)" if lon is not None else "-"
        lines = [
            d["full_address"] or "-",
            f"  address_id   {d['address_id'] or '-'}",
            f"  match_level  {d['match_level']}    score {d['score']:.2f}",
            f"  position     {where}",
        ]
        codes = ("county_code", "township_code", "community_code", "grid_code")
        lines.append("  codes        " + "  ".join(f"{c[:-5]} {d[c] or '-'}" for c in codes))
    if d["reasons"]:
        lines.append("  reasons      " + "; ".join(d["reasons"]))
    for i, alt in enumerate(d["alternatives"], 1):
        if i == 1:
            lines.append("  alternatives")
        lines.append(f"    {i}. {alt['full_address']}  ({alt['match_level']}, {alt['address_id']})")
    return lines


@geocode.command("one")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print GeocodeResult.to_dict() as JSON.")
@click.pass_context
def one(ctx: click.Context, text: str, as_json: bool) -> None:
    """Geocode one address text (also: spatialsvc geocode "TEXT")."""
    from spatialsvc.geocoding.pool import load_geocoder

    result = load_geocoder(settings_of(ctx)).geocode(text)
    d = result.to_dict()
    if as_json:
        click.echo(json.dumps(d, ensure_ascii=False, indent=2))
    else:
        for line in _human(d):
            click.echo(line)


def _workers_default() -> int:
    return os.cpu_count() or 1


_WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=_workers_default,
    show_default="number of cores",
    help="Worker processes.",
)


@geocode.command("batch")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV file with a header row.",
)
@click.option("--column", required=True, help="Column holding the address text.")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="CSV to write.")
@_WORKERS
@click.option(
    "--encoding",
    default=None,
    help="Encoding of the input (default: UTF-8, with or without BOM, else GB18030/GBK).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="local|tcp://HOST:PORT",
    help="Run on a Dask distributed cluster: `local` starts one of --workers processes here.",
)
@click.option("--chunk-size", type=click.IntRange(1, 1_000_000), default=None, hidden=True)
@click.pass_context
def batch(
    ctx: click.Context,
    input_path: Path,
    column: str,
    output: Path,
    workers: int,
    encoding: str | None,
    scheduler: str | None,
    chunk_size: int | None,
) -> None:
    """Geocode a CSV file: every input column, then the geocode's columns (resumable)."""
    from spatialsvc.geocoding.batch import CHUNK, run_batch

    report = run_batch(
        settings_of(ctx),
        input_path,
        column,
        output,
        workers=workers,
        encoding=encoding,
        chunk=chunk_size or CHUNK,
        echo=lambda m: click.echo(m, err=True),
        scheduler=scheduler,
    )
    for line in report.lines():
        click.echo(line, err=True)
    click.echo(f"wrote {output}", err=True)


@geocode.command("registry")
@click.argument("register", type=click.Choice(["person", "legal_entity"]))
@click.option(
    "--min-score",
    type=click.FloatRange(0.0, 1.0),
    default=0.8,
    show_default=True,
    help="Below this score a record goes to registry.geocode_review.",
)
@_WORKERS
@click.option("--redo", is_flag=True, help="Geocode every record again, not only the pending ones.")
@click.option("--chunk-size", type=click.IntRange(1, 1_000_000), default=None, hidden=True)
@click.pass_context
def registry(
    ctx: click.Context,
    register: str,
    min_score: float,
    workers: int,
    redo: bool,
    chunk_size: int | None,
) -> None:
    """Geocode a register's addresses into registry.REGISTER_geocode (resumable)."""
    from spatialsvc.geocoding.registry import CHUNK, run_registry

    report = run_registry(
        settings_of(ctx),
        register,
        min_score=min_score,
        workers=workers,
        redo=redo,
        chunk=chunk_size or CHUNK,
        echo=click.echo,
    )
    for line in report.lines():
        click.echo(line)
