"""The spill file: audit events that could not be written to the log, kept until they can.

The web layer's buffer appends an event here (one JSON object per line) when the database
cannot take it (the buffer full for too long, or the service stopping with PostgreSQL down).
:func:`replay` puts them back into the hash chain: the buffer's writer calls it as soon as it
has written a batch (so the database is back), and ``spatialsvc audit replay`` does it by hand.

Several service processes share one home, so a replay first *claims* the file by renaming it
(only one process wins the rename); the events are written in one transaction, oldest first,
and the claimed file is deleted only after the commit. If the write fails, the claimed lines
go back into the spill file for the next try; a file left claimed by a process that died is
given back by the next replay (if that process had committed but not yet deleted the file, its
events are written twice: a duplicate, never a loss). A line cut short by a kill is skipped and
counted; any other line that does not read as an event is a clear error, and the file stays.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from spatialsvc.audit.event import Event
from spatialsvc.audit.log import flush
from spatialsvc.errors import InvalidInput

LOG = logging.getLogger("spatialsvc.audit")
FIELDS = frozenset(f.name for f in dataclasses.fields(Event))


def spill_line(event: Event) -> str:
    """One event as a line of the spill file (without the newline)."""
    record = dataclasses.asdict(event)
    record["at"] = event.at.isoformat()
    return json.dumps(record, ensure_ascii=False, default=str)


def append(path: Path, event: Event) -> None:
    """Append an event to the spill file (created with its folder if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(spill_line(event) + "\n")


def _event(line: str, where: str) -> Event:
    try:
        record = json.loads(line)
        if not isinstance(record, dict) or not set(record) <= FIELDS:
            raise ValueError("not an audit event")
        record["at"] = datetime.fromisoformat(record["at"])
        return Event(**record)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"{where}: not an audit event ({exc})") from None


@dataclass(frozen=True)
class Spilled:
    """The events read from a spill file, and how many cut-short lines were skipped."""

    events: list[Event]
    skipped: int


def read(path: Path) -> Spilled:
    """The events of a spill file, oldest first; a cut-short last line is skipped."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    events: list[Event] = []
    skipped = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = number == len(lines)  # no newline after it: the write was cut short
        try:
            events.append(_event(line, f"{path.name} line {number}"))
        except InvalidInput:
            if not last:
                raise
            skipped += 1
    events.sort(key=lambda e: e.at)
    return Spilled(events, skipped)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _adopt_orphans(path: Path) -> None:
    """Give back files claimed by a process that died while replaying them."""
    for claimed in path.parent.glob(f"{path.name}.replaying-*"):
        pid = claimed.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                _give_back(claimed, path)
            except FileNotFoundError:  # another process adopted it first
                continue


def _claim(path: Path) -> Path | None:
    claimed = path.with_name(f"{path.name}.replaying-{os.getpid()}")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:  # nothing spilled, or another process claimed it first
        return None
    return claimed


def _give_back(claimed: Path, path: Path) -> None:
    """Return claimed lines to the spill file (appended: replay orders events by time)."""
    data = claimed.read_bytes()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    with path.open("ab") as out:
        out.write(data)
    claimed.unlink()


def replay(conn: Any, path: Path) -> int:
    """Write the spilled events into the log; returns how many (0 when there is no file).

    ``conn`` must be idle (see :func:`spatialsvc.audit.flush`). On failure the events are back
    in the spill file and the error is raised.
    """
    _adopt_orphans(path)
    claimed = _claim(path)
    if claimed is None:
        return 0
    try:
        spilled = read(claimed)
        flush(conn, spilled.events)
    except BaseException:
        _give_back(claimed, path)
        raise
    claimed.unlink()
    if spilled.skipped:
        LOG.warning("audit spill replay skipped %d line(s) cut short", spilled.skipped)
    if spilled.events:
        LOG.warning("%d spilled audit event(s) written to the log", len(spilled.events))
    return len(spilled.events)


def pending(path: Path) -> bool:
    """Whether a spill file (or one left claimed by a dead process) waits to be replayed."""
    return path.exists() or any(path.parent.glob(f"{path.name}.replaying-*"))
