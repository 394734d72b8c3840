"""Generate the demo district and load it: the work behind ``spatialsvc demo generate``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psycopg2
import psycopg2.errors

from spatialsvc.db.connect import connect, database_failure
from spatialsvc.errors import DatabaseUnavailable
from spatialsvc.settings import Settings

Echo = Callable[[str], None]


@dataclass
class DemoTimings:
    """Seconds spent in each stage, and the rows each produced."""

    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def generate_frames(
    settings: Settings,
    seed: int,
    scale: float,
    echo: Echo = print,
    timings: DemoTimings | None = None,
) -> dict[tuple[str, str], pd.DataFrame]:
    """Generate every demo table as a frame keyed by (schema, table)."""
    from spatialsvc.demo.geography import generate_geography
    from spatialsvc.demo.registers import generate_registers

    timings = timings if timings is not None else DemoTimings()
    started = time.perf_counter()
    echo(f"generating the geography of Haishu (seed {seed}) ...")
    geo = generate_geography(settings.reference_dir, seed, echo=echo)
    timings.seconds["geography"] = time.perf_counter() - started

    started = time.perf_counter()
    echo(f"generating the registers (scale {scale:g}) ...")
    townships = geo.divisions.loc[geo.divisions["level"] == "township", ["code", "name"]]
    regs = generate_registers(
        geo.addresses, geo.roads, pd.DataFrame(townships), seed, scale=scale, echo=echo
    )
    timings.seconds["registers"] = time.perf_counter() - started

    frames: dict[tuple[str, str], Any] = {
        ("base", "admin_division"): geo.divisions,
        ("base", "grid"): geo.grids,
        ("base", "road"): geo.roads,
        ("base", "compound"): geo.compounds,
        ("base", "building"): geo.buildings,
        ("base", "standard_address"): geo.addresses,
        ("base", "poi"): geo.pois,
        ("registry", "industry"): regs.industries,
        ("registry", "person"): regs.persons,
        ("registry", "legal_entity"): regs.legal_entities,
        ("registry", "camera"): regs.cameras,
        ("registry", "macro_indicator"): regs.macro_indicators,
    }
    timings.rows.update({f"{s}.{t}": len(f) for (s, t), f in frames.items()})
    return frames


def generate_and_load(
    settings: Settings,
    seed: int,
    scale: float,
    echo: Echo = print,
    timings: DemoTimings | None = None,
) -> dict[str, int]:
    """Generate the demo district and replace the demo tables with it, in one transaction."""
    from spatialsvc.basemaps.terrain import build_terrain
    from spatialsvc.demo.load import load_frames

    timings = timings if timings is not None else DemoTimings()
    frames = generate_frames(settings, seed, scale, echo=echo, timings=timings)
    echo("loading into PostGIS (one transaction: the previous data stays until it commits) ...")
    started = time.perf_counter()
    conn = connect(settings, "spatialsvc-demo")
    try:
        counts = load_frames(conn, frames, {"seed": seed, "scale": scale}, echo=echo)
    except psycopg2.errors.LockNotAvailable as exc:
        raise DatabaseUnavailable(
            "the demo tables stayed in use by other sessions for 2 minutes; nothing changed"
        ) from exc
    except psycopg2.Error as exc:
        raise database_failure(exc, "loading the demo") from exc
    finally:
        conn.close()
    timings.seconds["load"] = time.perf_counter() - started
    started = time.perf_counter()
    build_terrain(settings.home / "basemaps", seed, echo=echo)
    timings.seconds["terrain"] = time.perf_counter() - started
    return counts
