"""Throughput of `spatialsvc serve --workers 2` against `--workers 1`, in the same run.

Starts the real service (access control on, as deployed) on the database in use, once with one
worker process and once with two, alternating over the rounds, and drives each for a few
seconds with concurrent keep-alive clients doing one kind of request at a time:

- items: ``/collections/standard_address/items`` with a random small bbox and limit=100;
- geocode: ``/geocode?q=`` with a random standard address (with its room number stripped, so
  that the answer is not a plain lookup).

Prints requests per second for 1 and 2 workers, the ratio 2/1 (the anchor is the 1-worker run
of the same round), and p50/p95 latency.  The load generator runs on the same machine (an
asyncio client in this process): on a 2-core machine it takes a core from the service, so the
ratio there is a floor, not what two cores behind a load balancer give.

Needs the demo district in the database in use (`make demo`). Makes (once) the department
``bench-scaling`` and, each run, a consumer key labelled ``bench/scaling.py``.

    python bench/scaling.py [--seconds 8] [--rounds 2] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import service
from service import Sample

from spatialsvc.db.connect import connect
from spatialsvc.settings import get_settings

DEPARTMENT = "bench-scaling"
WEST, SOUTH, EAST, NORTH = 121.45, 29.82, 121.58, 29.92  # the urban townships


def _addresses(n: int = 2_000) -> list[str]:
    conn = connect(get_settings(), "bench-scaling")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT full_address FROM base.standard_address WHERE level = 'room'"
                " ORDER BY md5(address_id) LIMIT %s",
                (n,),
            )
            texts = [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()
    if not texts:
        raise SystemExit("no standard addresses: load the demo district first (make demo)")
    return [t.rsplit("号", 1)[0] + "号" if "号" in t else t for t in texts]


def _items_path(rng: random.Random) -> str:
    x, y = rng.uniform(WEST, EAST - 0.01), rng.uniform(SOUTH, NORTH - 0.01)
    bbox = f"{x:.4f},{y:.4f},{x + 0.01:.4f},{y + 0.01:.4f}"
    return f"/collections/standard_address/items?bbox={bbox}&limit=100"


async def _drive(
    url: str, key: str, kind: str, texts: list[str], seconds: float, clients: int
) -> Sample:
    sample = Sample()
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    end = time.perf_counter() + seconds

    async def client(k: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(k)
        while time.perf_counter() < end:
            if kind == "items":
                path, params = _items_path(rng), None
            else:
                path, params = "/geocode", {"q": rng.choice(texts)}
            t0 = time.perf_counter()
            try:
                r = await http.get(path, params=params)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                sample.latencies.append((time.perf_counter() - t0) * 1000)
            else:
                sample.errors += 1

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(k, http) for k in range(clients)))
        sample.seconds = time.perf_counter() - t0
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per kind, worker count, round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="spatialsvc-bench-scaling-"))
    env = {**os.environ, "SPATIALSVC_HOME": str(home), "SPATIALSVC_ACCESS_CONTROL": "true"}
    key = service.consumer_key(env, DEPARTMENT, "Benchmark (scaling)", "bench/scaling.py")
    texts = _addresses()
    kinds = ("items", "geocode")
    results: dict[tuple[str, int], list[Sample]] = {(k, n): [] for k in kinds for n in (1, 2)}
    print(f"{os.cpu_count()} cores; {args.clients} clients; {args.seconds:.0f} s per measure")
    try:
        for rnd in range(args.rounds):
            for workers in (1, 2) if rnd % 2 == 0 else (2, 1):
                proc, url = service.start(env, workers)
                try:
                    service.settle(proc)
                    for kind in kinds:  # warm every worker: index built, pages cached
                        asyncio.run(_drive(url, key, kind, texts, 3.0, args.clients))
                    for kind in kinds:
                        s = asyncio.run(_drive(url, key, kind, texts, args.seconds, args.clients))
                        results[(kind, workers)].append(s)
                        print(
                            f"  round {rnd + 1}, {workers} worker(s), {kind:<7}:"
                            f" {s.rate:7.1f} req/s"
                            f"  p50 {s.pct(50):6.1f} ms  p95 {s.pct(95):6.1f} ms"
                            f"  errors {s.errors}"
                        )
                finally:
                    service.stop(proc)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print("requests per second (median of the rounds), and 2 workers / 1 worker:")
    for kind in kinds:
        one = statistics.median(s.rate for s in results[(kind, 1)])
        two = statistics.median(s.rate for s in results[(kind, 2)])
        errors = sum(s.errors for n in (1, 2) for s in results[(kind, n)])
        print(f"  {kind:<7}  1 worker {one:7.1f}   2 workers {two:7.1f}   ratio {two / one:4.2f}"
              f"   errors {errors}")  # fmt: skip


if __name__ == "__main__":
    main()
