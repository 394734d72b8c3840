"""``spatialsvc geocode registry person|legal_entity``: put a register on the map.

Each distinct address text of the register is geocoded once (persons of a household share
one), on every core.  Answers go to ``registry.<register>_geocode`` (one row per record) and,
below the minimum score or without a match, to ``registry.geocode_review`` with the reason.
Every chunk is committed with its review rows, so a run killed half way keeps what it did; the
next run geocodes only the records without an answer, or whose address text changed since.
A run that wrote answers ends by recomputing the thematic layers (``spatialsvc stats refresh``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql

from spatialsvc.errors import InvalidInput, SpatialsvcError
from spatialsvc.geocoding.pool import APPLICATION_NAME, Answer, GeocodePool, answer_texts
from spatialsvc.geocoding.progress import Progress
from spatialsvc.settings import Settings

CHUNK = 2_000  # distinct addresses per task and per committed transaction
LOCK_KEY = 7_202_612  # advisory lock (LOCK_KEY, register number): one run per register

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Register:
    """Where a register keeps its records, their address and their geocodes."""

    number: int
    table: str
    id_column: str
    address_column: str

    @property
    def geocode_table(self) -> str:
        """The side table holding one geocode per record (sql/postgis/0007_geocoding.sql)."""
        return f"{self.table}_geocode"


REGISTERS = {
    "person": Register(1, "person", "person_id", "household_address"),
    "legal_entity": Register(2, "legal_entity", "entity_id", "registered_address"),
}


@dataclass
class RegistryReport:
    """What a registry run did, and the state of the register's geocodes after it."""

    register: str
    min_score: float
    addresses: int = 0  # distinct texts geocoded by this run
    records: int = 0  # records written by this run
    seconds: float = 0.0  # geocoding and writing, index build included
    ready_seconds: float = 0.0  # of which building the address index
    total: int = 0  # records in the register
    levels: dict[str, tuple[int, int]] = field(default_factory=dict)  # level: (records, >= min)
    review: int = 0

    def lines(self) -> list[str]:
        """The match report."""
        rate = self.addresses / self.seconds if self.seconds > 0 else 0.0
        after = self.seconds - self.ready_seconds
        steady = self.addresses / after if after > 0 else 0.0
        if not self.addresses:
            head = "nothing to geocode: every record has an answer for its current address"
        else:
            head = (
                f"geocoded {self.records:,} {self.register} records ({self.addresses:,} distinct "
                f"addresses) in {self.seconds:.1f} s: {rate:,.0f} addresses/s end to end; "
                f"index built in {self.ready_seconds:.1f} s, then {steady:,.0f} addresses/s"
            )
        out = [
            head,
            f"match report for registry.{self.register} ({self.total:,} records):",
        ]
        geocoded = sum(n for n, _ in self.levels.values())
        passing = sum(p for _, p in self.levels.values())
        for level, (n, _) in self.levels.items():
            share = 100.0 * n / self.total if self.total else 0.0
            out.append(f"  {level:<13} {n:>10,}  {share:5.1f}%")
        missing = self.total - geocoded
        if missing:
            out.append(f"  {'not yet run':<13} {missing:>10,}")
        share = 100.0 * passing / self.total if self.total else 0.0
        out.append(f"  score >= {self.min_score:g}: {passing:,} ({share:.1f}%)")
        out.append(f"  to review (registry.geocode_review): {self.review:,}")
        return out


def _ident(reg: Register) -> dict[str, sql.Composable]:
    return {
        "table": sql.Identifier("registry", reg.table),
        "gtable": sql.Identifier("registry", reg.geocode_table),
        "id": sql.Identifier(reg.id_column),
        "addr": sql.Identifier(reg.address_column),
    }


PENDING = """
SELECT r.{addr}, array_agg(r.{id} ORDER BY r.{id})
FROM {table} r LEFT JOIN {gtable} g ON g.{id} = r.{id}
WHERE %(redo)s OR g.{id} IS NULL OR g.address_text IS DISTINCT FROM r.{addr}
GROUP BY r.{addr}
ORDER BY r.{addr}
"""

STAGE = """
CREATE TEMP TABLE IF NOT EXISTS geocode_stage (
    record_id bigint, address_text text, address_id text, full_address text, match_level text,
    score double precision, lon double precision, lat double precision, county_code text,
    township_code text, community_code text, grid_code text
) ON COMMIT DELETE ROWS
"""
STAGE_COPY = "COPY pg_temp.geocode_stage FROM STDIN"

UPSERT = """
INSERT INTO {gtable} ({id}, address_text, address_id, full_address, match_level, score, geom,
                      county_code, township_code, community_code, grid_code, geocoded_at)
SELECT record_id, address_text, address_id, full_address, match_level, score,
       ST_SetSRID(ST_MakePoint(lon, lat), 4490), county_code, township_code, community_code,
       grid_code, now()
FROM pg_temp.geocode_stage
ON CONFLICT ({id}) DO UPDATE SET
    address_text = EXCLUDED.address_text, address_id = EXCLUDED.address_id,
    full_address = EXCLUDED.full_address, match_level = EXCLUDED.match_level,
    score = EXCLUDED.score, geom = EXCLUDED.geom, county_code = EXCLUDED.county_code,
    township_code = EXCLUDED.township_code, community_code = EXCLUDED.community_code,
    grid_code = EXCLUDED.grid_code, geocoded_at = EXCLUDED.geocoded_at
"""

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(values: tuple[Any, ...]) -> str:
    """One line of COPY's text format: NULL as \\N, backslash and control characters escaped."""
    out = []
    for v in values:
        if v is None:
            out.append("\\N")
        elif isinstance(v, str):
            out.append(v.translate(_ESCAPES))
        elif isinstance(v, int):
            out.append(str(v))
        else:
            out.append(repr(float(v)))
    return "\t".join(out) + "\n"


REVIEW = """
INSERT INTO registry.geocode_review ({id}, address_text, candidate_address_id,
                                     candidate_full_address, match_level, score, reason)
VALUES %s
ON CONFLICT ({id}) DO UPDATE SET
    address_text = EXCLUDED.address_text, candidate_address_id = EXCLUDED.candidate_address_id,
    candidate_full_address = EXCLUDED.candidate_full_address,
    match_level = EXCLUDED.match_level, score = EXCLUDED.score, reason = EXCLUDED.reason
"""
CLEARED = "DELETE FROM registry.geocode_review WHERE {id} = ANY(%s)"

LEVELS = """
SELECT coalesce(match_level, ''), count(*), count(*) FILTER (WHERE score >= %s)
FROM {gtable} GROUP BY 1
"""


def review_reason(a: Answer, min_score: float) -> str | None:
    """Why a record needs a look by hand, or None when its answer is good enough."""
    if a.match_level is None:
        why = "no match"
    elif a.score < min_score:
        why = f"score {a.score:.2f} below {min_score:g} (matched to {a.match_level})"
    else:
        return None
    return f"{why}: {a.reasons}" if a.reasons else why


def _write_chunk(
    conn: Any,
    reg: Register,
    texts: list[str],
    ids: list[list[int]],
    answers: list[Answer],
    min_score: float,
) -> int:
    """Write one chunk's geocodes and review rows in one transaction; return records written."""
    from psycopg2.extras import execute_values

    names = _ident(reg)
    rows, review, cleared = [], [], []
    for text, record_ids, a in zip(texts, ids, answers, strict=True):
        reason = review_reason(a, min_score)
        for rid in record_ids:
            rows.append(
                (rid, text, a.address_id, a.full_address, a.match_level, a.score, a.lon, a.lat)
                + (a.county_code, a.township_code, a.community_code, a.grid_code)
            )
            if reason is None:
                cleared.append(rid)
            else:
                review.append(
                    (rid, text, a.address_id, a.full_address, a.match_level, a.score, reason)
                )
    with conn, conn.cursor() as cur:
        cur.execute(STAGE)
        cur.copy_expert(STAGE_COPY, io.StringIO("".join(copy_text(r) for r in rows)))
        cur.execute(sql.SQL(UPSERT).format(**names))
        if review:
            execute_values(cur, sql.SQL(REVIEW).format(**names), review, page_size=5000)
        if cleared:
            cur.execute(sql.SQL(CLEARED).format(**names), (cleared,))
    return len(rows)


def _pending(conn: Any, reg: Register, redo: bool) -> list[tuple[str, list[int]]]:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(PENDING).format(**_ident(reg)), {"redo": redo})
        return [(text, list(ids)) for text, ids in cur.fetchall()]


def _summarise(conn: Any, reg: Register, report: RegistryReport) -> None:
    from addressing.result import MATCH_LEVELS

    names = _ident(reg)
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {table}").format(**names))
        report.total = int(cur.fetchone()[0])
        cur.execute(sql.SQL(LEVELS).format(**names), (report.min_score,))
        found = {level: (int(n), int(p)) for level, n, p in cur.fetchall()}
        cur.execute(
            sql.SQL("SELECT count(*) FROM registry.geocode_review WHERE {id} IS NOT NULL").format(
                **names
            )
        )
        report.review = int(cur.fetchone()[0])
    for level in MATCH_LEVELS:
        if level in found:
            report.levels[level] = found[level]
    if "" in found:
        report.levels["no match"] = found[""]


def _geocode_pending(
    settings: Settings,
    conn: Any,
    reg: Register,
    pending: list[tuple[str, list[int]]],
    report: RegistryReport,
    workers: int | None,
    chunk: int,
) -> None:
    """Geocode ``pending`` on the pool; commit each chunk as its answers arrive, in order."""
    import time

    t0 = time.perf_counter()
    spans = range(0, len(pending), chunk)
    jobs = ([text for text, _ in pending[i : i + chunk]] for i in spans)
    with GeocodePool(settings, workers or os.cpu_count() or 1) as pool:
        report.ready_seconds = pool.ready_seconds
        progress = Progress("addresses", len(pending))
        for start, answers in zip(spans, pool.map(answer_texts, jobs), strict=True):
            part = pending[start : start + chunk]
            texts = [t for t, _ in part]
            ids = [i for _, i in part]
            report.records += _write_chunk(conn, reg, texts, ids, answers, report.min_score)
            report.addresses += len(part)
            progress.advance(len(part))
        progress.finish()
    report.seconds = time.perf_counter() - t0


def _lock(conn: Any, reg: Register, name: str) -> None:
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_KEY, reg.number))
        if not cur.fetchone()[0]:
            raise InvalidInput(f"another `spatialsvc geocode registry {name}` is running")
    conn.autocommit = False


def run_registry(
    settings: Settings,
    name: str,
    min_score: float = 0.8,
    workers: int | None = None,
    redo: bool = False,
    chunk: int = CHUNK,
    echo: Echo | None = None,
) -> RegistryReport:
    """Geocode the pending records of register ``name``; return the match report."""
    import psycopg2

    try:
        return _run(settings, name, min_score, workers, redo, chunk, echo)
    except psycopg2.Error as exc:
        code = getattr(exc, "pgcode", None) or type(exc).__name__
        if code == "42P01":  # undefined_table
            raise SpatialsvcError(
                "the geocode tables are missing: run `spatialsvc db migrate`"
            ) from exc
        raise SpatialsvcError(
            f"geocoding registry.{name} failed in the database ({code}); the chunks committed "
            "before are kept, run the command again to continue"
        ) from exc


def _run(
    settings: Settings,
    name: str,
    min_score: float,
    workers: int | None,
    redo: bool,
    chunk: int,
    echo: Echo | None,
) -> RegistryReport:
    from spatialsvc.db.connect import connect

    reg = REGISTERS.get(name)
    if reg is None:
        raise InvalidInput(f"unknown register {name!r}: use one of {', '.join(REGISTERS)}")
    if not 0.0 <= min_score <= 1.0:
        raise InvalidInput("--min-score must be between 0 and 1")
    report = RegistryReport(register=name, min_score=min_score)
    conn = connect(settings, APPLICATION_NAME)
    try:
        _lock(conn, reg, name)
        pending = _pending(conn, reg, redo)
        records = sum(len(ids) for _, ids in pending)
        if echo:
            echo(f"{records:,} {name} records to geocode ({len(pending):,} distinct addresses)")
        if pending:
            _geocode_pending(settings, conn, reg, pending, report, workers, chunk)
        _summarise(conn, reg, report)
        _summarise(conn, reg, report)
    finally:
        conn.close()
    if report.records:
        from spatialsvc.thematic.refresh import refresh_after

        refresh_after(settings, f"geocode registry {name}", echo or (lambda _m: None))
    return report
