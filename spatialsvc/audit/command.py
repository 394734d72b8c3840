"""The ``spatialsvc audit`` command group: verify the chain, query and export events."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from spatialsvc.cli_context import settings_of
from spatialsvc.errors import InvalidInput, SpatialsvcError


def _with_conn(ctx: click.Context, work: Callable[[Any], Any]) -> Any:
    from spatialsvc.db.connect import connect

    conn = connect(settings_of(ctx), "spatialsvc-audit")
    try:
        return work(conn)
    finally:
        conn.close()


def _parse_time(value: str | None) -> datetime | None:
    """ISO 8601; a date or a time without a zone is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-11-22T08:00+08:00)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--since", help="From this time, inclusive (ISO 8601; no zone = UTC)."),
        click.option("--until", help="Before this time (ISO 8601; no zone = UTC)."),
        click.option("--department", help="Department code."),
        click.option("--resource", help="Resource (collection) name."),
        click.option("--action", help="Action, exact (data.read) or a prefix (data.*)."),
        click.option("--status", type=int, help="HTTP status."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _filters(opts: dict[str, Any]) -> Any:
    from spatialsvc.audit.query import Filters

    return Filters(
        since=_parse_time(opts.get("since")),
        until=_parse_time(opts.get("until")),
        department=opts.get("department"),
        resource=opts.get("resource"),
        action=opts.get("action"),
        status=opts.get("status"),
    )


@click.group("audit")
def audit() -> None:
    """The audit log: verify its hash chain, query and export events (docs/audit.md)."""


@audit.command("verify")
@click.option(
    "--expect",
    metavar="SEQ:HASH",
    help="Also check that row SEQ has exactly HASH (a head printed earlier and kept elsewhere).",
)
@click.pass_context
def verify_cmd(ctx: click.Context, expect: str | None) -> None:
    """Walk the whole chain: exit 0 if intact, else exit 1 naming the first broken seq."""
    from spatialsvc.audit.verify import contains, verify

    def work(conn: Any) -> tuple[Any, bool | None]:
        report = verify(conn)
        held = None
        if expect:
            seq, _, hash_ = expect.partition(":")
            if not seq.isdigit() or len(hash_) != 64:
                raise InvalidInput("--expect takes SEQ:HASH (a seq and a 64-character hash)")
            held = contains(conn, int(seq), hash_.lower())
        return report, held

    report, held = _with_conn(ctx, work)
    rate = report.events / report.seconds if report.seconds > 0 else 0.0
    if report.intact and held is not False:
        click.echo(f"{report.summary()}; head hash {report.last_hash}")
        click.echo(f"checked in {report.seconds:.2f} s ({rate:,.0f} events/s)", err=True)
        return
    if not report.intact:
        click.echo(report.summary())
        for problem in report.problems[1:10]:
            click.echo(f"  also {problem}")
    if held is False:
        click.echo(f"the expected row {expect} is not in the log (history rewritten)")
    sys.exit(1)


@audit.command("replay")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The spill file (default: SPATIALSVC_HOME/audit-spill.jsonl).",
)
@click.pass_context
def replay_cmd(ctx: click.Context, path: Path | None) -> None:
    """Write the events the service spilled to a file (database down) into the log.

    The service does this by itself once it can write again; this is for a service that is
    not running, or a spill file it reported as damaged (fix the line it names, then run this).
    """
    from spatialsvc.audit.spill import replay

    path = path or settings_of(ctx).home / "audit-spill.jsonl"
    written = _with_conn(ctx, lambda conn: replay(conn, path))
    click.echo(f"{written} spilled event(s) written to the audit log from {path}")


@audit.command("head")
@click.pass_context
def head_cmd(ctx: click.Context) -> None:
    """Print the anchor SEQ:HASH, to keep outside the database for `verify --expect`."""

    def work(conn: Any) -> tuple[int, str]:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT seq, hash FROM audit.anchor WHERE id")
            row = cur.fetchone()
        if row is None:
            raise SpatialsvcError("the audit anchor row is missing")
        return int(row[0]), str(row[1])

    seq, hash_ = _with_conn(ctx, work)
    click.echo(f"{seq}:{hash_}")


def _line(d: dict[str, Any]) -> str:
    who = d["department"] or "-"
    if d["actor_key_id"]:
        who += f"/{d['actor_key_id']}"
    returned = "" if d["returned"] is None else f" returned={d['returned']}"
    return (
        f"{d['seq']:>8}  {d['at']}  {who} ({d['role']})  {d['action']}  "
        f"{d['resource'] or '-'}  {d['method']} {d['endpoint']}  {d['status']}{returned}"
    )


@audit.command("query")
@_filter_options
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def query_cmd(ctx: click.Context, limit: int, as_json: bool, **opts: Any) -> None:
    """Print the newest events matching the filters (newest first)."""
    from spatialsvc.audit.query import query

    filters = _filters(opts)

    def work(conn: Any) -> int:
        n = 0
        for entry in query(conn, filters, limit=limit, newest_first=True):
            d = entry.as_dict()
            click.echo(json.dumps(d, ensure_ascii=False) if as_json else _line(d))
            n += 1
        return n

    n = _with_conn(ctx, work)
    if not as_json:
        click.echo(f"{n} event(s)", err=True)


@audit.command("export")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: from the file's suffix (.jsonl/.json: jsonl), else csv.",
)
@_filter_options
@click.pass_context
def export_cmd(ctx: click.Context, output: Path, fmt: str | None, **opts: Any) -> None:
    """Write the events matching the filters to a file, in seq order."""
    from spatialsvc.audit.query import export

    if fmt is None:
        fmt = "jsonl" if output.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv"
    filters = _filters(opts)
    n = _with_conn(ctx, lambda conn: export(conn, output, fmt, filters))  # type: ignore[arg-type]
    click.echo(f"wrote {n} event(s) to {output} ({fmt})")
