"""Load test: 100 concurrent clients (locust) mixing items, tiles, geocode and catalogue search.

Starts the real service (access control and audit on, as deployed; ``--workers`` processes) on
the database in use, warms it, then runs locust headless on loopback for ``--seconds`` with
``--users`` clients (``bench/locustfile.py``: items 3, tiles 4, geocode 2, catalogue 1, each
client thinking ``--wait`` seconds between requests) and prints, per kind and in all:

- requests, requests per second, failures (any answer but 200/204, or a wrong content type);
- p50 / p95 / p99 latency (locust's percentiles: ms, rounded to 2 significant digits);
- memory: the resident size of the service's processes sampled every second; "flat" means the
  last tenth of the run holds no more than ``--flat`` (default 5%) above the first tenth.

The anchor measured in the same run is ``/conformance`` (a route that does no work) sent by the
same clients (1 request in 11): its latency is what the machine adds by itself.
Exits 1 when a request failed or memory grew past ``--flat``. The figures go to
docs/benchmarks.md.

    python bench/load.py [--users 100] [--seconds 60] [--workers 2] [--wait 0.5,1.5]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import morecantile
import service

from spatialsvc.db.cluster import database_url
from spatialsvc.db.connect import connect
from spatialsvc.settings import get_settings

HERE = Path(__file__).resolve().parent
LOCUST = str(Path(sys.executable).with_name("locust"))
DEPARTMENT = "bench-load"
KINDS = ("items", "tile", "geocode", "catalogue", "conformance")


def _material(limit: int = 2_000) -> dict[str, object]:
    """What the clients ask for: the addresses' extent, tiles over them, texts, words."""
    conn = connect(get_settings(), "bench-load")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
                " FROM (SELECT ST_Extent(geom) AS e FROM base.standard_address) s"
            )
            bbox = cur.fetchone()
            if bbox is None or bbox[0] is None:
                raise SystemExit("no standard addresses: load the demo district first (make demo)")
            cur.execute(
                "SELECT full_address, ST_X(geom), ST_Y(geom) FROM base.standard_address"
                " ORDER BY md5(address_id) LIMIT %s",
                (limit,),
            )
            rows = cur.fetchall()
            cur.execute("SELECT title FROM meta.catalogue_record ORDER BY identifier")
            titles = [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()
    if not titles:
        raise SystemExit("the catalogue is empty: run `spatialsvc catalogue sync` first")
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles: dict[str, None] = {}
    for _text, lon, lat in rows:
        for z in (14, 15, 16):
            t = tms.tile(lon, lat, z)
            tiles.setdefault(f"/collections/standard_address/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}")
    texts = [t.rsplit("号", 1)[0] + "号" if "号" in t else t for t, _x, _y in rows]
    words = sorted({t[i : i + 2] for t in titles for i in range(0, max(1, len(t) - 1), 2)})
    return {"bbox": list(bbox), "tiles": list(tiles), "addresses": texts, "words": words}


class MemoryWatch(threading.Thread):
    """Samples the resident size of a process and its children once a second."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.samples: list[tuple[float, int]] = []  # (seconds since start, bytes)
        self.done = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.done.wait(1.0):
            pids = service.descendants(self.root)
            self.samples.append((time.monotonic() - t0, sum(service.rss_bytes(p) for p in pids)))

    def growth(self) -> tuple[float, float, float]:
        """Mean MB of the first and last tenth of the samples, and last / first - 1."""
        n = max(1, len(self.samples) // 10)
        first = statistics.mean(b for _t, b in self.samples[:n]) / 2**20
        last = statistics.mean(b for _t, b in self.samples[-n:]) / 2**20
        return first, last, last / first - 1.0


def _locust(url: str, env: dict[str, str], users: int, seconds: float, csv_prefix: Path) -> None:
    cmd = [
        LOCUST, "-f", str(HERE / "locustfile.py"), "--headless", "--only-summary",
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds:.0f}s",
        "--host", url, "--csv", str(csv_prefix), "--loglevel", "WARNING",
        "--stop-timeout", "30",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: some requests failed (reported below)
        raise SystemExit(f"locust failed ({done.returncode}): {done.stderr[-1500:]}")


def _read_stats(csv_prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{csv_prefix}_stats.csv", encoding="utf-8", newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def _read_failures(csv_prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured run")
    parser.add_argument("--warmup", type=float, default=20.0, help="unmeasured run before it")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes")
    parser.add_argument("--wait", default="0.5,1.5", help="think time LOW,HIGH s (0,0: none)")
    parser.add_argument("--flat", type=float, default=0.05, help="allowed memory growth")
    args = parser.parse_args()

    settings = get_settings()
    base_env = {**os.environ, "DATABASE_URL": database_url(settings)}
    home = Path(tempfile.mkdtemp(prefix="spatialsvc-bench-load-"))
    work = Path(tempfile.mkdtemp(prefix="spatialsvc-bench-load-csv-"))
    env = {
        **base_env,
        "SPATIALSVC_HOME": str(home),
        "SPATIALSVC_ACCESS_CONTROL": "true",
        "SPATIALSVC_RATE_LIMIT_PER_MINUTE": "0",
    }
    key = service.consumer_key(env, DEPARTMENT, "Benchmark (bench/load.py)", "bench/load.py")
    material = _material()
    (work / "material.json").write_text(json.dumps(material, ensure_ascii=False), "utf-8")
    client_env = {
        **base_env,
        "SPATIALSVC_LOAD_DATA": str(work / "material.json"),
        "SPATIALSVC_LOAD_KEY": key,
        "SPATIALSVC_LOAD_WAIT": args.wait,
    }
    if (settings.home / "basemaps").is_dir():
        shutil.copytree(settings.home / "basemaps", home / "basemaps", dirs_exist_ok=True)
    print(
        f"{os.cpu_count()} cores; {args.users} clients, think time {args.wait} s; "
        f"{args.workers} service worker(s); {len(material['tiles']):,} tiles, "  # type: ignore[arg-type]
        f"{len(material['addresses']):,} addresses, {len(material['words']):,} words",  # type: ignore[arg-type]
        flush=True,
    )
    proc, url = service.start(env, workers=args.workers)
    watch = MemoryWatch(proc.pid)
    try:
        service.settle(proc)
        print(f"warm-up: {args.warmup:.0f} s (not measured)", flush=True)
        _locust(url, client_env, args.users, args.warmup, work / "warmup")
        print(f"measured run: {args.seconds:.0f} s", flush=True)
        watch.start()
        _locust(url, client_env, args.users, args.seconds, work / "run")
        watch.done.set()
        watch.join()
        stats = _read_stats(work / "run")
        failures = _read_failures(work / "run")
    finally:
        service.stop(proc)
        service.revoke(key, base_env)
        shutil.rmtree(home, ignore_errors=True)

    print()
    print(f"{'kind':<12} {'requests':>9} {'req/s':>7} {'failed':>7} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")  # fmt: skip
    total_failed = 0
    for name in (*KINDS, "Aggregated"):
        row = stats.get(name)
        if row is None:
            continue
        failed = int(row["Failure Count"])
        total_failed += failed if name != "Aggregated" else 0
        label = "all" if name == "Aggregated" else name
        print(
            f"{label:<12} {int(row['Request Count']):>9,} {float(row['Requests/s']):>7.1f} "
            f"{failed:>7} {row['50%']:>7} {row['95%']:>7} {row['99%']:>7} "
            f"{float(row['Max Response Time']):>7.0f}"
        )
    for failure in failures[:10]:
        print(f"  failed {failure['Occurrences']}x {failure['Name']}: {failure['Error'][:160]}")
    first, last, grew = watch.growth()
    peak = max(b for _t, b in watch.samples) / 2**20
    print(
        f"service memory (RSS, {len(watch.samples)} samples): first tenth {first:.0f} MB, "
        f"last tenth {last:.0f} MB ({grew:+.1%}), peak {peak:.0f} MB"
    )
    flat = grew <= args.flat
    print(f"errors: {total_failed}; memory flat (<= {args.flat:+.0%}): {'yes' if flat else 'NO'}")
    shutil.rmtree(work, ignore_errors=True)
    if total_failed or not flat:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
