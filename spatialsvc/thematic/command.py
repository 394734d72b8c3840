"""The ``spatialsvc stats`` commands: recompute and inspect the thematic layers."""

from __future__ import annotations

import json
from datetime import date

import click

from spatialsvc.cli_context import settings_of

HELP = """The thematic layers: residents, legal entities, their aggregates, macro indicators.

\b
  spatialsvc stats refresh [--as-of 2026-11-22]   recompute the thematic.* tables now
  spatialsvc stats status [--json]                the last refreshes

They are recomputed after every `geocode registry` run and every `ingest` too.  In the
open aggregate layers (stats_grid, stats_community, stats_township) counts under 5, and
cells that would give them away, are null.  See docs/thematic.md.
"""


@click.group("stats", help=HELP)
def stats() -> None:
    """Click group; see HELP."""


@stats.command("refresh")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date the ages are counted on (default: today).",
)
@click.pass_context
def refresh(ctx: click.Context, as_of: object) -> None:
    """Recompute every thematic table and its legends (one transaction)."""
    from spatialsvc.thematic.refresh import refresh_thematic

    day = as_of.date() if hasattr(as_of, "date") else None
    report = refresh_thematic(settings_of(ctx), "manual", day, echo=_progress)
    for line in report.lines():
        click.echo(line)


def _progress(message: str) -> None:
    click.echo(message, err=True)


@stats.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the refreshes as JSON.")
@click.option("--limit", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool, limit: int) -> None:
    """The last refreshes: when, on which date, what was counted."""
    from spatialsvc.db.connect import connect

    conn = connect(settings_of(ctx), "spatialsvc-stats")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT refresh_id, as_of, trigger, persons, entities, seconds, finished_at"
                " FROM thematic.refresh ORDER BY refresh_id DESC LIMIT %s",
                (limit,),
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    if as_json:
        keys = ("refresh_id", "as_of", "trigger", "persons", "entities", "seconds", "finished_at")
        out = [
            {k: (v.isoformat() if isinstance(v, date) else v) for k, v in zip(keys, r, strict=True)}
            for r in rows
        ]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no refresh yet: run `spatialsvc stats refresh`")
    for rid, day, trigger, persons, entities, seconds, finished in rows:
        click.echo(
            f"#{rid}  {finished:%Y-%m-%d %H:%M:%S}  as of {day}  {trigger:<16} "
            f"{persons:>9,} persons  {entities:>8,} entities  {seconds:5.1f} s"
        )
