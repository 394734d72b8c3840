"""zonal-stats on a 3.9 km² polygon over the full demo, against one hand-written SQL query.

The polygon is a square of 3.9 km² (±2 %, printed) laid in EPSG:4549 around the median
residence of Haishu's urban townships (the 街道), given in EPSG:4490. Three ways of computing
the same statistic, interleaved (the order rotates every repetition), each timed end to end:

1. anchor: one SQL statement written by hand (residents by sex, age band and household;
   entities by industry section with their capital, employees, revenue and tax), on an open
   connection, rows fetched;
2. function: :func:`spatialsvc.analysis.zonal_stats` on the same connection (input checks,
   suppression, result dataclass);
3. HTTP: ``POST /processes/zonal-stats/execution`` to the application in process (Starlette's
   TestClient over ASGI, access control off: the access middleware is measured by
   bench/access.py), JSON decoded.

Goal (issue 5): function and HTTP at most 1.5x the anchor. Needs the full demo district
(``make demo``) in the database in use.

    python bench/zonal_stats.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg2
import shapely
import shapely.geometry

from spatialsvc import analysis
from spatialsvc.analysis.inputs import geodesic_area_km2
from spatialsvc.db.cluster import database_url
from spatialsvc.geo.crs import transformer
from spatialsvc.settings import get_settings

TARGET_KM2 = 3.9

CENTRE_SQL = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_X(g.geom)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Y(g.geom))
  FROM registry.person_geocode g
  JOIN base.admin_division t ON t.code = g.township_code
 WHERE t.level = 'township' AND t.name LIKE '%%街道'"""

# The anchor: the same statistic, by hand, in one statement.
ANCHOR_SQL = """
WITH poly AS MATERIALIZED (SELECT ST_SetSRID(ST_GeomFromGeoJSON(%(poly)s), 4490) AS g),
people AS (
  SELECT count(*) AS total,
         count(*) FILTER (WHERE p.sex = '男') AS male,
         count(*) FILTER (WHERE p.sex = '女') AS female,
         count(*) FILTER (WHERE p.birth_date > (current_date - interval '15 years')::date) AS a0,
         count(*) FILTER (WHERE p.birth_date <= (current_date - interval '15 years')::date
                            AND p.birth_date > (current_date - interval '60 years')::date) AS a15,
         count(*) FILTER (WHERE p.birth_date <= (current_date - interval '60 years')::date) AS a60,
         count(DISTINCT p.household_id) AS households
    FROM registry.person_geocode g JOIN registry.person p USING (person_id), poly
   WHERE ST_Intersects(poly.g, g.geom)),
firms AS (
  SELECT e.industry_section, count(*) AS n, sum(e.registered_capital) AS capital,
         sum(e.employees) AS employees, sum(e.revenue) AS revenue, sum(e.tax) AS tax
    FROM registry.legal_entity_geocode g JOIN registry.legal_entity e USING (entity_id), poly
   WHERE ST_Intersects(poly.g, g.geom)
   GROUP BY 1)
SELECT people.*, (SELECT json_agg(firms ORDER BY industry_section) FROM firms) FROM people"""


def square(conn: Any, km2: float) -> tuple[dict[str, Any], float]:
    """A square of ``km2`` (±2 %) in EPSG:4549 around the urban median residence, in 4490."""
    with conn.cursor() as cur:
        cur.execute(CENTRE_SQL)
        lon, lat = cur.fetchone()
    to_metric = transformer("EPSG:4490", "EPSG:4549")
    back = transformer("EPSG:4549", "EPSG:4490")
    x, y = to_metric.transform(lon, lat)
    side = math.sqrt(km2 * 1e6)
    for _ in range(5):
        box = shapely.box(x - side / 2, y - side / 2, x + side / 2, y + side / 2).segmentize(50)
        geom = shapely.transform(box, lambda c: np.column_stack(back.transform(c[:, 0], c[:, 1])))
        area = geodesic_area_km2(geom)
        side *= math.sqrt(km2 / area)
    assert abs(area / km2 - 1) <= 0.02, area
    return dict(shapely.geometry.mapping(geom)), area


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = func()
    return (time.perf_counter() - start) * 1000, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="repetitions of each (15)")
    args = parser.parse_args()

    import json

    from starlette.testclient import TestClient

    from spatialsvc.web.app import create_app

    settings = get_settings().model_copy(update={"access_control": False})
    conn = psycopg2.connect(database_url(settings))
    conn.autocommit = True
    polygon, area = square(conn, TARGET_KM2)
    text = json.dumps(polygon)
    print(f"polygon: square in EPSG:4549, {area:.3f} km² (target {TARGET_KM2} ±2 %)")

    def anchor() -> Any:
        with conn.cursor() as cur:
            cur.execute(ANCHOR_SQL, {"poly": text})
            return cur.fetchone()

    def function() -> Any:
        return analysis.zonal_stats(conn, polygon)

    with TestClient(create_app(settings), raise_server_exceptions=True) as client:
        jobs: list[str] = []

        def http() -> Any:
            r = client.post(
                "/processes/zonal-stats/execution", json={"inputs": {"geometry": polygon}}
            )
            r.raise_for_status()
            jobs.append(r.headers.get("location", ""))
            return r.json()

        ways: dict[str, Callable[[], Any]] = {"anchor": anchor, "function": function, "http": http}
        answers = {name: way() for name, way in ways.items()}  # warm up, and compare
        row, stats, body = answers["anchor"], answers["function"], answers["http"]
        assert stats.residents["total"] == row[0] == body["residents"]["total"], "totals differ"
        assert stats.entities["total"] == sum(f["n"] for f in row[7] or []), "entities differ"
        print(
            f"inside: {row[0]:,} residents, {stats.residents['households']:,} households, "
            f"{stats.entities['total']:,} legal entities"
        )
        times: dict[str, list[float]] = {name: [] for name in ways}
        names = list(ways)
        for i in range(args.repeat):
            order = names[i % 3 :] + names[: i % 3]
            for name in order:
                ms, _ = timed(ways[name])
                times[name].append(ms)
        # pygeoapi records every execution, synchronous ones too, as a job (a row in
        # meta.process_job and a result file): remove this run's
        for location in jobs:
            if location:
                client.delete("/jobs/" + location.rstrip("/").rsplit("/", 1)[-1])
    conn.close()

    med = {name: statistics.median(ms) for name, ms in times.items()}
    print(f"median of {args.repeat} interleaved runs:")
    print(f"  anchor (one hand-written SQL query)  {med['anchor']:8.1f} ms")
    for name, label in (("function", "analysis.zonal_stats"), ("http", "POST zonal-stats")):
        ratio = med[name] / med["anchor"]
        verdict = "ok" if ratio <= 1.5 else "over the 1.5x goal"
        print(f"  {label:<36} {med[name]:8.1f} ms = {ratio:.2f}x the anchor ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
