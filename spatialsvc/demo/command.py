"""``spatialsvc demo``: the Haishu demo district."""

from __future__ import annotations

import time

import click


@click.group("demo")
def demo() -> None:
    """The Haishu demo district: real divisions and boundaries, generated everything else."""


@demo.command("generate")
@click.option("--seed", type=int, default=None, help="Random seed (default: SPATIALSVC_DEMO_SEED).")
@click.option(
    "--scale",
    type=click.FloatRange(min=0.001, max=100),
    default=None,
    help="Size of the registers relative to Haishu's real scale (1 = 413,000 residents, "
    "104,000 legal entities); 10 for load tests. The geography is always full size.",
)
@click.pass_context
def generate(ctx: click.Context, seed: int | None, scale: float | None) -> None:
    """Generate the demo district and load it into the database in use.

    The same seed always gives the same data. The load is one transaction: if anything fails,
    the data already loaded stays as it was.
    """
    from spatialsvc.demo.build import DemoTimings, generate_and_load
    from spatialsvc.settings import get_settings

    settings = ctx.ensure_object(dict).get("settings") or get_settings()
    seed = settings.demo_seed if seed is None else seed
    scale = settings.demo_scale if scale is None else scale
    started = time.perf_counter()
    timings = DemoTimings()
    counts = generate_and_load(settings, seed, scale, echo=click.echo, timings=timings)
    total = time.perf_counter() - started
    click.echo(
        f"\nloaded the Haishu demo district (seed {seed}, scale {scale:g}) in {total:.0f} s:"
    )
    for table, n in counts.items():
        click.echo(f"  {table:<28} {n:>9,}")
