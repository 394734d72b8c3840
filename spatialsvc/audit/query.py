"""Reading the audit log: filters, and export to CSV or JSON lines.

Filters are bound as parameters; the SQL is composed from fixed fragments only.  Large
exports stream through a server-side cursor.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

import psycopg2

from spatialsvc.audit.event import COLUMNS, Entry
from spatialsvc.audit.verify import SELECT_ROWS, entry_from_row
from spatialsvc.db.connect import database_failure
from spatialsvc.errors import InvalidInput

FORMATS = ("csv", "jsonl")


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events to read; every field given must match (None: any).

    ``action`` matches exactly, or by prefix when it ends in ``*`` (``data.*``).
    ``since`` is inclusive, ``until`` exclusive.
    """

    since: datetime | None = None
    until: datetime | None = None
    department: str | None = None
    resource: str | None = None
    action: str | None = None
    status: int | None = None
    actor_key_id: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (fixed text, placeholders only) and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for value, clause in (
            (self.since, "at >= %s"),
            (self.until, "at < %s"),
            (self.department, "department = %s"),
            (self.resource, "resource = %s"),
            (self.status, "status = %s"),
            (self.actor_key_id, "actor_key_id = %s"),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if self.action is not None:
            if self.action.endswith("*"):
                prefix = self.action[:-1]
                escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append("action LIKE %s")
                params.append(escaped + "%")
            else:
                clauses.append("action = %s")
                params.append(self.action)
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput("--since and --until need a timezone (e.g. +08:00 or Z)")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def query(
    conn: Any,
    filters: Filters | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> Iterator[Entry]:
    """Events matching the filters in seq order (or newest first), at most ``limit``.

    Streams through a server-side cursor in a read-only transaction of its own; the
    connection must be idle and is left idle when the iterator is exhausted or closed.
    """
    where, params = (filters or Filters()).where()
    statement = SELECT_ROWS + where + (" ORDER BY seq DESC" if newest_first else " ORDER BY seq")
    if limit is not None:
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        statement += " LIMIT %s"
        params.append(limit)
    autocommit = conn.autocommit
    conn.autocommit = False  # a server-side cursor lives in a transaction
    try:
        with conn:
            with conn.cursor(name="audit_query") as cur:
                cur.itersize = 2000
                cur.execute(statement, params)
                for row in cur:
                    yield entry_from_row(row)
    except psycopg2.Error as exc:
        raise database_failure(exc, "reading the audit log") from exc
    finally:
        if not conn.closed:
            conn.autocommit = autocommit


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def write(entries: Iterator[Entry], out: IO[str], fmt: Literal["csv", "jsonl"]) -> int:
    """Write entries as CSV (a header, params as JSON text) or JSON lines; return the count."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; use csv or jsonl")
    n = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for entry in entries:
            d = entry.as_dict()
            writer.writerow([_csv_value(d[c]) for c in COLUMNS])
            n += 1
    else:
        for entry in entries:
            out.write(json.dumps(entry.as_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n


def export(
    conn: Any, path: Path, fmt: Literal["csv", "jsonl"], filters: Filters | None = None
) -> int:
    """Write the matching events to a file (UTF-8), in seq order; return how many."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; use csv or jsonl")
    with path.open("w", encoding="utf-8", newline="") as out:
        return write(query(conn, filters), out, fmt)
