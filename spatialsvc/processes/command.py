"""The ``spatialsvc jobs`` command group: process jobs kept by the service."""

from __future__ import annotations

import click

from spatialsvc.cli_context import settings_of


@click.group("jobs")
def jobs() -> None:
    """Process jobs (OGC API - Processes) and their result files (docs/scaling.md)."""


@jobs.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(min=0),
    default=None,
    help="Days since a job finished (default: SPATIALSVC_JOB_RETENTION_DAYS, 7).",
)
def prune_cmd(days: float | None) -> None:
    """Delete finished jobs older than that, their result files, and old result files no job
    points at. Unfinished jobs are kept. The service does this by itself once an hour."""
    from spatialsvc.db.connect import connect
    from spatialsvc.processes.retention import prune

    settings = settings_of(click.get_current_context())
    days = settings.job_retention_days if days is None else days
    conn = connect(settings, "spatialsvc-jobs")
    try:
        done = prune(conn, settings.home / "jobs", days * 86_400)
    finally:
        conn.close()
    click.echo(
        f"{done.jobs} job(s) finished more than {days:g} day(s) ago and "
        f"{done.files} result file(s) removed"
    )
