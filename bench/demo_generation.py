"""Generation and load rates of the full demo district, into a scratch database.

Prints rows/s for generation and for the load, and the total against the 5-minute goal. The
load's anchor, measured in the same run, is a bare COPY of the same standard addresses into an
unindexed copy of the table: the ratio says what the indexes, checks and keys cost.

    python bench/demo_generation.py [--seed N] [--scale F] [--keep]
"""

from __future__ import annotations

import argparse
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from spatialsvc.db.cluster import database_url
from spatialsvc.db.copy import copy_frame
from spatialsvc.db.migrate import migrate
from spatialsvc.demo.build import DemoTimings, generate_frames
from spatialsvc.demo.load import load_frames
from spatialsvc.settings import Settings, get_settings

GOAL_SECONDS = 300.0


def _scratch(url: str) -> str:
    name = f"spatialsvc_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _drop(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    url = _scratch(database_url(get_settings()))
    settings = Settings(database_url=url)
    try:
        conn = psycopg2.connect(url)
        migrate(conn, echo=lambda _m: None)
        timings = DemoTimings()
        quiet = lambda _m: None  # noqa: E731
        frames = generate_frames(settings, args.seed, args.scale, echo=quiet, timings=timings)
        started = time.perf_counter()
        counts = load_frames(conn, frames, {"seed": args.seed, "scale": args.scale}, echo=quiet)
        load_s = time.perf_counter() - started

        addresses = frames[("base", "standard_address")]
        with conn, conn.cursor() as cur:
            cur.execute("CREATE UNLOGGED TABLE public.anchor (LIKE base.standard_address)")
            started = time.perf_counter()
            copy_frame(cur, "public", "anchor", addresses)
            anchor_s = time.perf_counter() - started
            cur.execute("DROP TABLE public.anchor")
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE base.standard_address CASCADE")
        with conn, conn.cursor() as cur:
            started = time.perf_counter()
            copy_frame(cur, "base", "standard_address", addresses)
            ours_s = time.perf_counter() - started
        conn.close()
    finally:
        if not args.keep:
            _drop(url)

    rows = sum(counts.values())
    gen_s = timings.seconds["geography"] + timings.seconds["registers"]
    total = gen_s + load_s
    print(f"demo district, seed {args.seed}, scale {args.scale:g}: {rows:,} rows")
    for table, n in counts.items():
        print(f"  {table:<28} {n:>9,}")
    print(
        f"generation: geography {timings.seconds['geography']:.1f} s, registers "
        f"{timings.seconds['registers']:.1f} s, {rows / gen_s:,.0f} rows/s"
    )
    print(f"load (one transaction, indexed tables): {load_s:.1f} s, {rows / load_s:,.0f} rows/s")
    print(
        f"standard_address load vs bare COPY into an unindexed table: {ours_s:.2f} s / "
        f"{anchor_s:.2f} s = {ours_s / anchor_s:.2f}x"
    )
    print(
        f"total generate + load: {total:.0f} s = {total / GOAL_SECONDS:.2f} of the 5-minute goal "
        f"({'met' if total <= GOAL_SECONDS else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
