"""Helpers for the ingest tests: run the CLI, snapshot the database, make fixtures."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import psycopg2
import shapely
from click.testing import CliRunner, Result
from psycopg2 import sql

from spatialsvc.cli import main
from spatialsvc.settings import Settings

NAMES = ["海曙区", "鼓楼街道", "南门街道", "西门街道", "月湖街道"]


def run_cli(settings: Settings, *args: str) -> Result:
    """Invoke `spatialsvc ingest ...` in-process with the test settings."""
    return CliRunner().invoke(main, ["ingest", *args], obj={"settings": settings})


def snapshot(db_url: str) -> dict[str, Any]:
    """Tables in schema data with row counts, and meta.dataset rows."""
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'data' "
                "ORDER BY 1"
            )
            tables = [r[0] for r in cur.fetchall()]
            counts = {}
            for t in tables:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("data", t)))
                counts[t] = cur.fetchone()[0]
            cur.execute(
                "SELECT layer, version, features, kind, source_crs FROM meta.dataset ORDER BY 1"
            )
            meta = cur.fetchall()
    finally:
        conn.close()
    return {"tables": tables, "counts": counts, "meta": meta}


def query(db_url: str, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one query and return all rows."""
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(text, params or None)
            return cur.fetchall()
    finally:
        conn.close()


def points(n: int = 5, seed: int = 1) -> gpd.GeoDataFrame:
    """Points around Ningbo in EPSG:4490 with Chinese names and numbers."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(121.2, 121.6, n)
    lat = rng.uniform(29.7, 30.0, n)
    return gpd.GeoDataFrame(
        {
            "名称": [NAMES[i % len(NAMES)] for i in range(n)],
            "Count": np.arange(n),
            "Area": np.linspace(0.5, 2.5, n),
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4490",
    )
