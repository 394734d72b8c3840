"""The audit event and its canonical hash.

An :class:`Event` is what a caller records (cheap to build: a frozen dataclass, no I/O).  When
it is written it gets a ``seq`` and the ``prev_hash`` of the row before it, and its ``hash`` is
the SHA-256 of :func:`canonical`: compact JSON with sorted keys of every column but ``hash``,
the time in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``duration_ms`` rounded to the float4 the
column stores, and every number written the way it reads back from the database (an integral
value as an integer, any other float as its shortest repr).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from spatialsvc.errors import InvalidInput

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first row (seq 1), and the anchor's hash before any row."""

FORMAT_VERSION = 1
"""Written into every canonical serialisation so that the format can change later."""

_INT4 = 2**31 - 1


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One audited act: who did what to which resource, through which endpoint, with what result.

    ``action`` names the act (``data.read``, ``tile.read``, ``process.execute``,
    ``admin.key.create``, ``application.approve``); ``returned`` is the number of features or
    tiles returned (``None`` when the act returns none); ``params`` must be JSON-like.
    """

    action: str
    endpoint: str
    method: str
    status: int
    role: str = "public"
    at: datetime = field(default_factory=utcnow)
    actor_key_id: str | None = None
    department: str | None = None
    resource: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    returned: int | None = None
    duration_ms: float | None = None
    client: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidInput("an audit event's time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Entry:
    """An event as stored: its place in the chain and its hash."""

    seq: int
    event: Event
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready dict (time in ISO 8601 UTC), in the table's column order."""
        e = self.event
        return {
            "seq": self.seq,
            "at": format_time(e.at),
            "actor_key_id": e.actor_key_id,
            "department": e.department,
            "role": e.role,
            "action": e.action,
            "resource": e.resource,
            "endpoint": e.endpoint,
            "method": e.method,
            "params": dict(e.params),
            "returned": e.returned,
            "status": e.status,
            "duration_ms": _short_float4(e.duration_ms),
            "client": e.client,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


COLUMNS = (
    "seq",
    "at",
    "actor_key_id",
    "department",
    "role",
    "action",
    "resource",
    "endpoint",
    "method",
    "params",
    "returned",
    "status",
    "duration_ms",
    "client",
    "prev_hash",
    "hash",
)
"""The columns of ``audit.event``, in order."""


def format_time(at: datetime) -> str:
    """The canonical form of a time: UTC, microseconds, a trailing Z."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def float4(value: float | None) -> float | None:
    """The value a ``real`` column stores for ``value`` (as a Python float)."""
    if value is None:
        return None
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _short_float4(value: float | None) -> float | None:
    """The shortest float that is the same float4 (3.2, not 3.200000047683716), for display."""
    stored = float4(value)
    if stored is None:
        return None
    for digits in range(6, 10):
        short = float(f"{stored:.{digits}g}")
        if float4(short) == stored:
            return short
    return stored


def _number(value: float | int) -> float | int:
    """One spelling per number: integral values as int, others as the float itself.

    An integral float becomes the integer its shortest repr spells (1e300 is 10**300, as
    jsonb keeps it), not its exact binary value.
    """
    if isinstance(value, float) and value.is_integer():
        return int(Decimal(repr(value)))
    return value


def _canonical_value(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return _number(value)
    if kind is dict:
        return {k: _canonical_value(v) for k, v in value.items()}
    if kind is list:
        return [_canonical_value(v) for v in value]
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Mapping):
        return {k: _canonical_value(v) for k, v in value.items()}
    return [_canonical_value(v) for v in value]


_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses


def _j(value: str | int | float | None) -> str:
    """One top-level value as json.dumps spells it."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _string(value)
    return repr(value)


class Serialised(NamedTuple):
    """An event's canonical serialisation around its two holes, and texts a writer reuses.

    ``head + prev_hash + middle + str(seq) + tail`` is exactly the sorted-key compact JSON of
    the whole row (:func:`canonical`).  ``at``, ``params`` and ``duration`` are the canonical
    texts of those columns, which the database parses back to the same values.
    """

    head: bytes
    middle: bytes
    tail: bytes
    at: str
    params: str
    duration: str | None


def serialise(event: Event) -> Serialised:
    """Serialise an event once, before the writer takes the lock (see :class:`Serialised`)."""
    duration = float4(event.duration_ms)
    duration_text = None if duration is None else repr(_number(duration))
    at = format_time(event.at)
    params = json.dumps(
        _canonical_value(event.params), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    head = (  # the keys sorting before "prev_hash", in order
        '{"action":' + _j(event.action)
        + ',"actor_key_id":' + _j(event.actor_key_id)
        + ',"at":"' + at
        + '","client":' + _j(event.client)
        + ',"department":' + _j(event.department)
        + ',"duration_ms":' + (duration_text or "null")
        + ',"endpoint":' + _j(event.endpoint)
        + ',"method":' + _j(event.method)
        + ',"params":' + params
        + ',"prev_hash":"'
    )  # fmt: skip
    middle = (
        '","resource":' + _j(event.resource)
        + ',"returned":' + _j(event.returned)
        + ',"role":' + _j(event.role)
        + ',"seq":'
    )  # fmt: skip
    tail = ',"status":' + _j(event.status) + ',"v":' + str(FORMAT_VERSION) + "}"
    return Serialised(
        head.encode("utf-8"), middle.encode("utf-8"), tail.encode("utf-8"), at, params,
        duration_text,
    )  # fmt: skip


def canonical(seq: int, event: Event, prev_hash: str) -> bytes:
    """The bytes that are hashed for a row: every column but ``hash``, as compact JSON with
    sorted keys (plus ``"v"``, the format's version)."""
    ser = serialise(event)
    return ser.head + prev_hash.encode("ascii") + ser.middle + b"%d" % seq + ser.tail


def hash_serialised(ser: Serialised, seq: int, prev_hash: str) -> str:
    """:func:`chain_hash` from an event serialised beforehand by :func:`serialise`."""
    data = ser.head + prev_hash.encode("ascii") + ser.middle + b"%d" % seq + ser.tail
    return hashlib.sha256(data).hexdigest()


def chain_hash(seq: int, event: Event, prev_hash: str) -> str:
    """SHA-256 (hex) of the row's canonical serialisation."""
    return hashlib.sha256(canonical(seq, event, prev_hash)).hexdigest()


# --- making an event storable ---------------------------------------------------------------


def _clean_text(value: str) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogates (each becomes U+FFFD or '?')."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _opt_text(value: Any) -> str | None:
    return None if value is None else _clean_text(str(value))


def _clamp_int(value: Any) -> int:
    return max(-_INT4 - 1, min(_INT4, int(value)))


def _clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value jsonb stores and gives back unchanged (strings for anything else)."""
    kind = type(value)
    if kind is str:
        return _clean_text(value)
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if depth > 32:
        return "(nested too deep)"
    if isinstance(value, Mapping):
        return {_clean_text(str(k)): _clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v, depth + 1) for v in value]
    if isinstance(value, bool | int):
        return bool(value) if isinstance(value, bool) else int(value)
    if isinstance(value, float):
        return _clean_json(float(value))
    return _clean_text(str(value))


def storable(event: Event) -> Event:
    """The event as the database will store and give it back.

    Refuses nothing a request could carry: NUL characters and lone surrogates are replaced,
    counts are clamped to the integer column's range, non-JSON values in ``params`` become
    strings, infinite or NaN durations become NULL.  (A refused event would lose its batch.)
    """
    duration = event.duration_ms
    if duration is not None:
        duration = float(duration)
        if not math.isfinite(duration) or abs(duration) > 3.0e38:
            duration = None
    return replace(
        event,
        at=event.at.astimezone(UTC),
        actor_key_id=_opt_text(event.actor_key_id),
        department=_opt_text(event.department),
        role=_clean_text(str(event.role)),
        action=_clean_text(str(event.action)),
        resource=_opt_text(event.resource),
        endpoint=_clean_text(str(event.endpoint)),
        method=_clean_text(str(event.method)),
        params=_clean_json(dict(event.params)),
        returned=None if event.returned is None else _clamp_int(event.returned),
        status=_clamp_int(event.status),
        duration_ms=float4(duration),
        client=_opt_text(event.client),
    )
