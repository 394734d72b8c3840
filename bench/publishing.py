"""Publishing benchmarks: items against tipg, reprojection, tiles against raw SQL, start-up.

Every figure is a ratio against an anchor measured in the same run, on the same table and
request, so a noisy shared machine moves both sides:

1. items (bbox + limit=100 on base.standard_address): our service / tipg 1.6 (goal <= 1.0)
2. the same request with crs=EPSG:4549 / with CRS84 (goal <= 1.3)
3. an uncached vector tile from the service / the same ST_AsMVT query run directly (goal <= 1.5)
4. a cached tile / an uncached one
5. start-up of the application with 1,000 generated layers (goal < 10 s; anchor: 8 layers)

Needs the full demo district in the database in use (`make demo` or `spatialsvc demo
generate`) and tipg in .venv-bench (`make bench` installs it).

    python bench/publishing.py [--rounds N] [--tipg PATH-TO-UVICORN]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import morecantile
import yaml

from spatialsvc.db.cluster import database_url
from spatialsvc.db.connect import connect
from spatialsvc.layers import load_layers
from spatialsvc.settings import get_settings
from spatialsvc.tiles.matrixsets import tile_address
from spatialsvc.tiles.mvt import render

ROOT = Path(__file__).resolve().parent.parent
BBOX = "121.53,29.86,121.56,29.88"
ITEMS = f"/collections/standard_address/items?bbox={BBOX}&limit=100"
TIPG_ITEMS = f"/collections/base.standard_address/items?bbox={BBOX}&limit=100"
CRS_4549 = "&crs=http://www.opengis.net/def/crs/EPSG/0/4549"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    err = proc.stderr.read().decode() if proc.stderr else ""
    raise SystemExit(f"{cmd[0]} did not start: {err[-500:]}")


def _median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _interleaved(
    a: Callable[[], object], b: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Medians of a and b, measured in alternation so drift hits both."""
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(_median_ms(a, 1))
        tb.append(_median_ms(b, 1))
    return statistics.median(ta), statistics.median(tb)


def _get(client: httpx.Client, url: str) -> Callable[[], object]:
    def call() -> object:
        r = client.get(url)
        if r.status_code != 200:
            raise SystemExit(f"GET {url} answered {r.status_code}: {r.text[:200]}")
        return r.content

    return call


def _tiles(conn: object, z: int, n: int) -> list[tuple[int, int, int]]:
    """n distinct WebMercatorQuad tiles holding standard addresses in the urban townships."""
    tms = morecantile.tms.get("WebMercatorQuad")
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM base.standard_address "
            "WHERE township LIKE %s ORDER BY address_id",
            ("%街道",),
        )
        points = cur.fetchall()
    out: list[tuple[int, int, int]] = []
    for lon, lat in points:
        t = tms.tile(lon, lat, z)
        if (z, t.y, t.x) not in out:
            out.append((z, t.y, t.x))
        if len(out) == n:
            break
    return out


def _startup_seconds(layers: int) -> float:
    """Seconds for a fresh process to import and build the app with N generated layers."""
    folder = Path(tempfile.mkdtemp(prefix="spatialsvc-layers-"))
    home = Path(tempfile.mkdtemp(prefix="spatialsvc-home-"))
    sources = sorted((ROOT / "layers").glob("*.yml"))
    for i in range(layers):
        data = yaml.safe_load(sources[i % len(sources)].read_text(encoding="utf-8"))
        data["id"] = f"{data['id'][:40]}_{i:04d}"
        data["resource_code"] = f"BENCH-{i:04d}"
        (folder / f"{data['id']}.yml").write_text(yaml.safe_dump(data, allow_unicode=True))
    env = {**os.environ, "SPATIALSVC_LAYERS_DIR": str(folder), "SPATIALSVC_HOME": str(home)}
    shutil.copytree(get_settings().home / "basemaps", home / "basemaps", dirs_exist_ok=True)
    code = "from spatialsvc.web.app import create_app; create_app()"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    took = time.perf_counter() - started
    shutil.rmtree(folder)
    shutil.rmtree(home)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--tipg", default=str(ROOT / ".venv-bench" / "bin" / "uvicorn"))
    args = parser.parse_args()

    settings = get_settings()
    url = database_url(settings)
    conn = connect(settings, "spatialsvc-bench")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM base.standard_address")
        n = cur.fetchone()[0]
    if n < 180_000:
        raise SystemExit(f"only {n:,} standard addresses: load the demo first (make demo)")

    ours_port, tipg_port = _free_port(), _free_port()
    ours_url, tipg_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{tipg_port}"
    home = Path(tempfile.mkdtemp(prefix="spatialsvc-bench-home-"))
    shutil.copytree(settings.home / "basemaps", home / "basemaps", dirs_exist_ok=True)
    # Publishing speed without access control (tipg has none); bench/access.py measures what
    # access control and the audit add, on and off in one run.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SPATIALSVC_HOME": str(home),
        "SPATIALSVC_ACCESS_CONTROL": "false",
    }
    ours = _start(
        [str(ROOT / ".venv/bin/spatialsvc"), "serve", "--port", str(ours_port)], env, ours_url
    )
    tipg_env = {**env, "TIPG_DB_SCHEMAS": '["base"]'}
    tipg = _start([args.tipg, "tipg.main:app", "--port", str(tipg_port)], tipg_env, tipg_url)
    try:
        with httpx.Client(timeout=30) as client:
            for warm in (ours_url + ITEMS, tipg_url + TIPG_ITEMS, ours_url + ITEMS + CRS_4549):
                for _ in range(5):
                    _get(client, warm)()
            ours_ms, tipg_ms = _interleaved(
                _get(client, ours_url + ITEMS), _get(client, tipg_url + TIPG_ITEMS), args.rounds
            )
            crs_ms, crs84_ms = _interleaved(
                _get(client, ours_url + ITEMS + CRS_4549),
                _get(client, ours_url + ITEMS),
                args.rounds,
            )

            layer = load_layers(settings.layers_dir)["standard_address"]
            tiles = _tiles(conn, 15, args.rounds)
            raw, uncached, cached = [], [], []
            for z, row, col in tiles:
                address = tile_address("WebMercatorQuad", str(z), str(row), str(col))
                path = f"/collections/standard_address/tiles/WebMercatorQuad/{z}/{row}/{col}"
                raw.append(_median_ms(partial(render, conn, layer, address), 1))
                uncached.append(_median_ms(_get_any(client, ours_url + path), 1))
                cached.append(_median_ms(_get_any(client, ours_url + path), 1))
    finally:
        for proc in (ours, tipg):
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)
    conn.close()

    raw_ms, uncached_ms, cached_ms = (statistics.median(v) for v in (raw, uncached, cached))
    startup_big = _startup_seconds(1000)
    startup_small = _startup_seconds(8)

    print(f"items, bbox + limit=100 on base.standard_address ({n:,} rows), {args.rounds} rounds:")
    print(
        f"  ours {ours_ms:.1f} ms / tipg {tipg_ms:.1f} ms = {ours_ms / tipg_ms:.2f}x (goal <= 1.0)"
    )
    print(
        f"  crs=EPSG:4549 {crs_ms:.1f} ms / CRS84 {crs84_ms:.1f} ms = {crs_ms / crs84_ms:.2f}x "
        "(goal <= 1.3)"
    )
    print(f"vector tiles, standard_address z15 in the urban townships, {len(tiles)} tiles:")
    print(
        f"  uncached {uncached_ms:.1f} ms / raw ST_AsMVT {raw_ms:.1f} ms = "
        f"{uncached_ms / raw_ms:.2f}x (goal <= 1.5)"
    )
    print(
        f"  cached {cached_ms:.1f} ms / uncached {uncached_ms:.1f} ms = "
        f"{cached_ms / uncached_ms:.2f}x"
    )
    print(
        f"start-up: 1,000 layers {startup_big:.1f} s (goal < 10 s); 8 layers {startup_small:.1f} s "
        f"= {startup_big / startup_small:.1f}x"
    )


def _get_any(client: httpx.Client, url: str) -> Callable[[], object]:
    def call() -> object:
        r = client.get(url)
        if r.status_code not in (200, 204):
            raise SystemExit(f"GET {url} answered {r.status_code}")
        return r.content

    return call


if __name__ == "__main__":
    main()
