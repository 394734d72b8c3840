"""Load the generated demo district into PostGIS in one transaction.

The previous demo data stays in place until the new one is complete: any error rolls the whole
load back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from psycopg2 import sql

from spatialsvc.db.copy import copy_frame

Echo = Callable[[str], None]

# (schema, table) in load order: parents before children.
TABLES: list[tuple[str, str]] = [
    ("base", "admin_division"),
    ("base", "grid"),
    ("base", "road"),
    ("base", "compound"),
    ("base", "building"),
    ("base", "standard_address"),
    ("base", "poi"),
    ("registry", "industry"),
    ("registry", "person"),
    ("registry", "legal_entity"),
    ("registry", "camera"),
    ("registry", "macro_indicator"),
]


def _table_columns(cur: Any, schema: str, table: str) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    )
    return [r[0] for r in cur.fetchall()]


def _aligned(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The frame's columns that the table has, in the table's order (geometry as ``geom``)."""
    frame = pd.DataFrame(frame)
    return frame[[c for c in columns if c in frame.columns]]


def load_frames(
    conn: Any,
    frames: dict[tuple[str, str], pd.DataFrame],
    meta: dict[str, Any],
    echo: Echo = print,
) -> dict[str, int]:
    """Replace the demo tables' contents with ``frames`` in one transaction; return row counts."""
    counts: dict[str, int] = {}
    with conn:
        with conn.cursor() as cur:
            # Readers hold the tables; wait for them a while, not forever.
            cur.execute("SET LOCAL lock_timeout = '120s'")
            names = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in TABLES)
            cur.execute(sql.SQL("TRUNCATE {} CASCADE").format(names))
            for schema, table in TABLES:
                frame = frames.get((schema, table))
                if frame is None:
                    continue
                started = time.perf_counter()
                aligned = _aligned(frame, _table_columns(cur, schema, table))
                n = copy_frame(cur, schema, table, aligned)
                took = time.perf_counter() - started
                rate = n / took if took > 0 else float("inf")
                name = f"{schema}.{table}"
                echo(f"  loaded {name:<26} {n:>9,} rows  {took:6.1f} s  ({rate:,.0f} rows/s)")
                counts[f"{schema}.{table}"] = n
            echo("  analysing tables ...")
            for schema, table in TABLES:
                cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
            cur.execute(
                "INSERT INTO meta.demo_run (seed, scale, counts) VALUES (%s, %s, %s)",
                (meta["seed"], meta["scale"], json.dumps(counts)),
            )
    return counts
