"""Geocoding benchmarks: batch throughput against cpca, /geocode latency under 50 clients.

Each figure comes with an anchor measured in the same run:

1. end to end, ``spatialsvc geocode batch`` (CSV in, CSV out, both cores) on clerk-written
   register addresses, against cpca 0.5.5 reading the same texts down to the county only
   (``cpca.transform``, in this process, one core). Goal: >= 10,000 addresses/s. The same
   command on a Dask cluster (``--scheduler local``, as many workers) against the local run.
2. ``GET /geocode`` on a service with 2 workers, 50 concurrent clients in an open loop (each
   client sends at a fixed rate; latency is measured from the time a request was due, so a
   slow answer cannot hide the queue behind it), against ``GET /conformance`` (a route that does
   no work) under the same load. Goal: p95 < 20 ms. The same 50 clients sending back to back
   (closed loop) give the saturated throughput.

Needs the full demo district in the database in use (``make demo``) and cpca in the venv
(``make bench`` installs the ``bench`` extra).

    python bench/geocoding.py [--n 100000] [--rate 300] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import service

from spatialsvc.db.connect import connect
from spatialsvc.settings import get_settings

CLI = service.CLI


def _texts(n: int) -> list[str]:
    """Register addresses as clerks wrote them (persons and legal entities), n of them."""
    conn = connect(get_settings(), "bench-geocoding")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT setseed(0.2026)")
            cur.execute(
                "SELECT household_address FROM registry.person "
                "UNION ALL SELECT registered_address FROM registry.legal_entity"
            )
            texts = [r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    random.Random(20261122).shuffle(texts)
    return (texts * (n // len(texts) + 1))[:n]


def _batch(texts: list[str], workers: int, scheduler: str | None = None) -> tuple[float, float]:
    """Seconds for ``geocode batch`` on the texts, and for the same command on one row (start-up:
    the workers building their index); on a Dask cluster with ``scheduler``."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds = []
        for rows in (texts[:1], texts):
            src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
            with open(src, "w", encoding="utf-8", newline="") as handle:
                w = csv.writer(handle)
                w.writerow(["id", "address"])
                w.writerows(enumerate(rows))
            out.unlink(missing_ok=True)
            started = time.perf_counter()
            subprocess.run(
                [*CLI, "geocode", "batch", "--input", str(src), "--column", "address"]
                + ["--output", str(out), "--workers", str(workers)]
                + (["--scheduler", scheduler] if scheduler else []),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            seconds.append(time.perf_counter() - started)
            with open(out, encoding="utf-8") as handle:
                assert sum(1 for _ in handle) == len(rows) + 1, "batch lost rows"
    return seconds[1], seconds[0]


def _cpca(texts: list[str]) -> float | None:
    try:
        import cpca  # type: ignore[import-untyped]
    except ImportError:
        return None
    cpca.transform(texts[:100])  # load its tables
    started = time.perf_counter()
    cpca.transform(texts)
    return time.perf_counter() - started


async def _open_loop(
    url: str, paths: list[str], clients: int, rate: float, seconds: float
) -> tuple[list[float], int]:
    """Latencies (ms, from the time each request was due) of ``clients`` clients that together
    send ``rate`` requests/s for ``seconds``; and the count of non-200 answers."""
    latencies: list[float] = []
    errors = 0
    interval = clients / rate
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:

        async def client(k: int) -> None:
            nonlocal errors
            rng = random.Random(k)
            start = time.perf_counter() + interval * k / clients
            due = start
            while due - start < seconds:
                pause = due - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
                response = await http.get(rng.choice(paths))
                latencies.append((time.perf_counter() - due) * 1000)
                errors += response.status_code != 200
                due += interval

        await asyncio.gather(*(client(k) for k in range(clients)))
    return latencies, errors


async def _closed_loop(
    url: str, paths: list[str], clients: int, seconds: float
) -> tuple[list[float], float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        end = time.perf_counter() + seconds

        async def client(k: int) -> None:
            rng = random.Random(k)
            while time.perf_counter() < end:
                sent = time.perf_counter()
                await http.get(rng.choice(paths))
                latencies.append((time.perf_counter() - sent) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, len(latencies) / elapsed


def _pct(values: list[float]) -> str:
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="addresses for the batch")
    parser.add_argument("--rate", type=float, default=300.0, help="open loop requests/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    texts = _texts(args.n)
    print(f"{len(texts):,} register addresses (persons and legal entities, clerk-written)")

    ours, startup = _batch(texts, args.workers)
    rate = len(texts) / ours
    steady = len(texts) / max(ours - startup, 1e-9)
    print(
        f"geocode batch, {args.workers} workers: {ours:.1f} s = {rate:,.0f} addresses/s end to end "
        f"(start-up {startup:.1f} s; {steady:,.0f}/s after it)  goal >= 10,000/s"
    )
    theirs = _cpca(texts)
    if theirs is None:
        print("cpca is not installed (pip install '.[bench]'): no anchor")
    else:
        print(
            f"cpca.transform, parse to county only, 1 core: {theirs:.1f} s = "
            f"{len(texts) / theirs:,.0f}/s; ours end to end / cpca parse-only rate = "
            f"{rate / (len(texts) / theirs):.2f}x"
        )

    dask, dask_startup = _batch(texts, args.workers, scheduler="local")
    print(
        f"geocode batch on Dask (--scheduler local, {args.workers} workers): {dask:.1f} s = "
        f"{len(texts) / dask:,.0f}/s (start-up {dask_startup:.1f} s); Dask / local time = "
        f"{dask / ours:.2f}x"
    )

    # the geocoder's own speed (and /conformance, the anchor); bench/access.py measures access
    # control on and off
    env = {**os.environ, "SPATIALSVC_ACCESS_CONTROL": "false"}
    proc, url = service.start(env, workers=args.workers)
    try:
        sample = random.Random(7).sample(texts, 2000)
        geocode = [str(httpx.URL("/geocode", params={"q": t})) for t in sample]
        for path in geocode[:200]:  # every worker builds its index on its first request
            httpx.get(url + path, timeout=60)
        anchor = ["/conformance?f=json"]
        for name, paths in (("/conformance (anchor)", anchor), ("/geocode", geocode)):
            lat, errors = asyncio.run(_open_loop(url, paths, args.clients, args.rate, args.seconds))
            print(
                f"{name:<22} {args.clients} clients, open loop {args.rate:.0f} req/s: "
                f"{_pct(lat)}  errors {errors}" + ("  goal p95 < 20 ms" if "geo" in name else "")
            )
        lat, throughput = asyncio.run(_closed_loop(url, geocode, args.clients, args.seconds))
        print(
            f"/geocode, {args.clients} clients back to back (saturated): "
            f"{throughput:,.0f} req/s  {_pct(lat)}"
        )
    finally:
        service.stop(proc)


if __name__ == "__main__":
    main()
