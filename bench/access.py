"""Access control and audit: items and tile throughput with them on, against them off.

Two services run side by side on the same database, each with its own SPATIALSVC_HOME (so its
own tile cache): one with ``SPATIALSVC_ACCESS_CONTROL=false``, one with ``true`` (rate limit
off, audit on: every request becomes a hash-chained ``audit.event`` row). Both get exactly the
same requests, carrying the same consumer key (``standard_address`` is ``unconditional``: with
access control on the key is needed; with it off the header is ignored). Closed loop: N clients
(default 8) send back to back for S seconds; off and on alternate in rounds (the order flips
every round) so a noisy shared machine moves both sides.

1. items: ``GET /collections/standard_address/items?bbox=121.53,29.86,121.56,29.88&limit=100``
2. cached tiles: standard_address z15 WebMercatorQuad tiles over the urban townships (every
   tile holding an address in a 街道), all rendered once on both sides beforehand, then picked
   at random by each client
3. uncached tiles: the same tiles, with the service's tile cache emptied before each round;
   every tile is requested once per round (a shared queue), so both sides render the same set

Goal (issue 6): on at most 10% slower, i.e. throughput on / off >= 0.90. The run also checks
that the 'on' service wrote one audit row per request it answered, and that ``spatialsvc audit
verify`` passes afterwards. It makes (once) the department ``bench-access`` and a consumer key
per run, revoked at the end. Needs the full demo district in the database in use.

    python bench/access.py [--seconds 5] [--rounds 4] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import morecantile
import service
from service import Sample

from spatialsvc.db.cluster import database_url
from spatialsvc.db.connect import connect
from spatialsvc.settings import get_settings

ITEMS = "/collections/standard_address/items?bbox=121.53,29.86,121.56,29.88&limit=100"
TILE = "/collections/standard_address/tiles/WebMercatorQuad/{z}/{row}/{col}"
DEPARTMENT = "bench-access"


def _tiles(z: int) -> list[str]:
    """Paths of every z tile holding a standard address in the urban townships (街道)."""
    tms = morecantile.tms.get("WebMercatorQuad")
    conn = connect(get_settings(), "bench-access")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT ST_X(geom), ST_Y(geom) FROM base.standard_address "
                "WHERE township LIKE %s ORDER BY address_id",
                ("%街道",),
            )
            points = cur.fetchall()
    finally:
        conn.close()
    seen: dict[tuple[int, int], None] = {}
    for lon, lat in points:
        t = tms.tile(lon, lat, z)
        seen.setdefault((t.y, t.x))
    return [TILE.format(z=z, row=row, col=col) for row, col in seen]


def _audit_rows() -> int:
    conn = connect(get_settings(), "bench-access")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM audit.event")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


async def _timed(http: httpx.AsyncClient, path: str, out: Sample) -> None:
    sent = time.perf_counter()
    r = await http.get(path)
    out.latencies.append((time.perf_counter() - sent) * 1000)
    if r.status_code not in (200, 204):
        out.errors += 1


async def _closed(
    url: str, headers: dict[str, str], paths: list[str], clients: int, seconds: float, out: Sample
) -> None:
    """``clients`` clients back to back for ``seconds``, each picking a path at random."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        await http.get("/conformance?f=json")  # a connection before the clock (not audited)
        end = time.perf_counter() + seconds

        async def client(k: int) -> None:
            rng = random.Random(k)
            while time.perf_counter() < end:
                await _timed(http, rng.choice(paths), out)

        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        out.seconds += time.perf_counter() - started


async def _once_each(
    url: str, headers: dict[str, str], paths: list[str], clients: int, out: Sample
) -> None:
    """Every path requested exactly once, by ``clients`` clients taking from a shared queue."""
    queue = list(reversed(paths))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        await http.get("/conformance?f=json")

        async def client() -> None:
            while queue:
                await _timed(http, queue.pop(), out)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        out.seconds += time.perf_counter() - started


def _row(name: str, off: Sample, on: Sample, ratios: list[float]) -> str:
    return (
        f"{name:<16} {off.rate:8.1f} {off.pct(50):7.1f} {off.pct(95):7.1f}   "
        f"{on.rate:8.1f} {on.pct(50):7.1f} {on.pct(95):7.1f}   {on.rate / off.rate:6.2f}  "
        f"{min(ratios):.2f}-{max(ratios):.2f}  {off.errors + on.errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per side, per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--zoom", type=int, default=15)
    args = parser.parse_args()

    settings = get_settings()
    base_env = {**os.environ, "DATABASE_URL": database_url(settings)}
    conn = connect(settings, "bench-access")
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM base.standard_address")
        n = cur.fetchone()[0]
    conn.close()
    if n < 180_000:
        raise SystemExit(f"only {n:,} standard addresses: load the demo first (make demo)")

    key = service.consumer_key(
        base_env, DEPARTMENT, "Benchmark (bench/access.py)", "bench/access.py"
    )
    headers = {"Authorization": f"Bearer {key}"}
    tiles = _tiles(args.zoom)
    homes = {
        side: Path(tempfile.mkdtemp(prefix=f"spatialsvc-bench-{side}-")) for side in ("off", "on")
    }
    urls: dict[str, str] = {}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    sent_on = 0
    results = {
        kind: {side: Sample() for side in ("off", "on")}
        for kind in ("items", "tiles cached", "tiles uncached")
    }
    ratios: dict[str, list[float]] = {kind: [] for kind in results}
    try:
        for side, flag in (("off", "false"), ("on", "true")):
            shutil.copytree(
                settings.home / "basemaps", homes[side] / "basemaps", dirs_exist_ok=True
            )
            env = {
                **base_env,
                "SPATIALSVC_HOME": str(homes[side]),
                "SPATIALSVC_ACCESS_CONTROL": flag,
                "SPATIALSVC_RATE_LIMIT_PER_MINUTE": "0",
            }
            procs[side], urls[side] = service.start(env)

        # access control really is on for one and off for the other
        assert httpx.get(urls["on"] + ITEMS, timeout=30).status_code == 401
        assert httpx.get(urls["off"] + ITEMS, timeout=30).status_code == 200
        time.sleep(2)  # the refusal's audit row is flushed within 0.5 s
        audit_before = _audit_rows()

        # warm both: pools, the items query, and every tile into each side's cache
        with httpx.Client(headers=headers, timeout=60) as http:
            for side in ("off", "on"):
                for path in [ITEMS] * 10 + tiles:
                    r = http.get(urls[side] + path)
                    if r.status_code not in (200, 204):
                        raise SystemExit(f"{side}: GET {path} answered {r.status_code}")
                    sent_on += side == "on"

        for rnd in range(args.rounds):
            order = ("off", "on") if rnd % 2 == 0 else ("on", "off")
            for kind in results:
                before = {side: len(results[kind][side].latencies) for side in order}
                took = {}
                for side in order:
                    sample = results[kind][side]
                    start_seconds = sample.seconds
                    if kind == "items":
                        coro = _closed(
                            urls[side], headers, [ITEMS], args.clients, args.seconds, sample
                        )
                    elif kind == "tiles cached":
                        coro = _closed(
                            urls[side], headers, tiles, args.clients, args.seconds, sample
                        )
                    else:
                        shutil.rmtree(homes[side] / "tiles", ignore_errors=True)
                        coro = _once_each(urls[side], headers, tiles, args.clients, sample)
                    asyncio.run(coro)
                    sent_on += (len(sample.latencies) - before[side]) * (side == "on")
                    took[side] = (len(sample.latencies) - before[side]) / (
                        sample.seconds - start_seconds
                    )
                ratios[kind].append(took["on"] / took["off"])
            print(
                f"round {rnd + 1}/{args.rounds}: on/off "
                + ", ".join(f"{k} {ratios[k][-1]:.2f}" for k in results),
                flush=True,
            )
    finally:
        for proc in procs.values():
            service.stop(proc)  # the 'on' service flushes its audit buffer on the way out
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)
    audit_after = _audit_rows()
    service.revoke(key, base_env)
    started = time.perf_counter()
    verify = service.cli("audit", "verify", env=base_env)
    verify_s = time.perf_counter() - started

    print()
    print(
        f"{args.clients} clients back to back, {args.rounds} rounds x {args.seconds:g} s per side "
        f"(order flips each round); {len(tiles)} z{args.zoom} tiles; {n:,} standard addresses"
    )
    print(f"{'':<16} {'access off':^25}   {'access + audit on':^25}   {'on/off':>6}")
    print(
        f"{'':<16} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7}   {'req/s':>8} {'p50 ms':>7} "
        f"{'p95 ms':>7}   {'req/s':>6}  rounds     errors"
    )
    for kind in results:
        print(_row(kind, results[kind]["off"], results[kind]["on"], ratios[kind]))
    print("goal: on/off req/s >= 0.90 (at most 10% slower)")
    written = audit_after - audit_before
    print(
        f"audit.event rows written during the run: {written:,} (requests to the 'on' service "
        f"after the first count: {sent_on:,})"
    )
    status = "passes" if verify.returncode == 0 else f"FAILS: {verify.stdout}{verify.stderr}"
    print(f"spatialsvc audit verify ({audit_after:,} rows, {verify_s:.1f} s): {status}")


if __name__ == "__main__":
    main()
