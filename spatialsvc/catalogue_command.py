"""The ``spatialsvc catalogue`` commands."""

from __future__ import annotations

from typing import Any

import click


@click.group("catalogue")
def catalogue() -> None:
    """The resource catalogue (政务信息资源目录) served as OGC API - Records."""


@catalogue.command("sync")
@click.pass_context
def catalogue_sync(ctx: click.Context) -> None:
    """Bring the catalogue in step with layers/*.yml, ingested data and basemaps, and
    register the departments that own layers (so that their keys can be made)."""
    from spatialsvc.catalogue import sync_catalogue
    from spatialsvc.db.connect import connect
    from spatialsvc.layers import load_layers
    from spatialsvc.settings import get_settings

    obj: dict[str, Any] = ctx.ensure_object(dict)
    settings = obj.get("settings") or get_settings()
    layers = load_layers(settings.layers_dir)
    conn = connect(settings, "spatialsvc-catalogue")
    try:
        result = sync_catalogue(conn, layers, settings)
    finally:
        conn.close()
    click.echo(result.summary())
    for identifier in result.deleted:
        click.echo(f"withdrawn: {identifier}")
