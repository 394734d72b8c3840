"""The ``spatialsvc`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from spatialsvc.cli_context import settings_of
from spatialsvc.errors import ConfigError, SpatialsvcError


def _echo(message: str) -> None:
    click.echo(message, err=False)


class _Group(click.Group):
    """A group that turns our errors into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpatialsvcError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="spatialsvc")
def main() -> None:
    """Spatial base library in PostGIS, published as map services.

    Settings come from the environment (SPATIALSVC_*, DATABASE_URL) or a .env file.
    """


@main.group(cls=_Group)
def db() -> None:
    """The database: local cluster, migrations, connection URL."""


@db.command("up")
@click.pass_context
def db_up(ctx: click.Context) -> None:
    """Install (if missing), start and prepare the project-local PostgreSQL + PostGIS.

    With DATABASE_URL set this only checks that the database answers.
    """
    from spatialsvc.db import cluster
    from spatialsvc.db.connect import connect

    settings = settings_of(ctx)
    if settings.database_url:
        connect(settings).close()
        _echo("DATABASE_URL is set: using it, no local cluster needed")
        return
    c = cluster.up(settings, echo=_echo)
    _echo(f"ready: {c.url()}")


@db.command("down")
@click.pass_context
def db_down(ctx: click.Context) -> None:
    """Stop the project-local cluster."""
    from spatialsvc.db import cluster

    cluster.down(settings_of(ctx), echo=_echo)


@db.command("url")
@click.pass_context
def db_url(ctx: click.Context) -> None:
    """Print the connection URL in use."""
    from spatialsvc.db.cluster import database_url

    click.echo(database_url(settings_of(ctx)))


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Apply pending migrations from sql/postgis/, in order."""
    from spatialsvc.db.connect import connect
    from spatialsvc.db.migrate import migrate

    conn = connect(settings_of(ctx), "spatialsvc-migrate")
    try:
        ran = migrate(conn, echo=_echo)
    finally:
        conn.close()
    _echo(f"{len(ran)} migration(s) applied" if ran else "schema is up to date")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """List applied and pending migrations."""
    from spatialsvc.db.connect import connect
    from spatialsvc.db.migrate import status

    conn = connect(settings_of(ctx), "spatialsvc-migrate")
    try:
        rows = status(conn)
    finally:
        conn.close()
    for mig, done in rows:
        click.echo(f"{'applied' if done else 'pending'}  {mig.path.name}")


@db.command("backup")
@click.option(
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="File to write (PostgreSQL custom format, compressed).",
)
@click.pass_context
def db_backup(ctx: click.Context, output: Path) -> None:
    """Back up the database in use with pg_dump (every schema, data and migrations)."""
    from spatialsvc.db.backup import backup

    backup(settings_of(ctx), output, echo=_echo)


@db.command("restore")
@click.argument("backup_file", type=click.Path(path_type=Path))
@click.option(
    "--database", default=None, help="Database to restore into (default: the one in use)."
)
@click.option("--yes", is_flag=True, help="Replace the database even if it is not empty.")
@click.pass_context
def db_restore(ctx: click.Context, backup_file: Path, database: str | None, yes: bool) -> None:
    """Restore a backup made by `db backup` (into a new database, then swapped in)."""
    from spatialsvc.db.backup import restore

    restore(settings_of(ctx), backup_file, database=database, replace=yes, echo=_echo)


@main.command("serve")
@click.option("--host", default=None, help="Address to bind (default SPATIALSVC_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default SPATIALSVC_PORT, 5000).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int) -> None:
    """Serve the published layers: OGC API (pygeoapi + our routes) with uvicorn."""
    import os

    import uvicorn

    settings = settings_of(ctx)
    if host:
        os.environ["SPATIALSVC_HOST"] = host
    if port:
        os.environ["SPATIALSVC_PORT"] = str(port)
    host = host or settings.host
    port = port or settings.port
    _echo(f"serving {len(list(settings.layers_dir.glob('*.yml')))} layers on http://{host}:{port}/")
    uvicorn.run(
        "spatialsvc.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


@main.group(cls=_Group)
def config() -> None:
    """pygeoapi's configuration, rendered from layers/*.yml and the settings."""


@config.command("render")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=Path("pygeoapi-config.yml"),
    show_default=True,
    help="File to write.",
)
@click.option(
    "--check", is_flag=True, help="Only check that the file is up to date (exit 1 if not)."
)
@click.pass_context
def config_render(ctx: click.Context, output: Path, check: bool) -> None:
    """Write pygeoapi-config.yml from layers/*.yml and the settings."""
    from spatialsvc import pygeoapi_config
    from spatialsvc.layers import load_layers

    settings = settings_of(ctx)
    layers = load_layers(settings.layers_dir)
    text = pygeoapi_config.to_yaml(pygeoapi_config.render(settings, layers, portable=True))
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            raise ConfigError(f"{output} is not up to date: run `spatialsvc config render`")
        _echo(f"{output} is up to date ({len(layers)} layers)")
        return
    output.write_text(text, encoding="utf-8")
    _echo(f"wrote {output} ({len(layers)} layers)")


# Subcommands that live beside the code they drive are registered here.
from spatialsvc.demo.command import demo  # noqa: E402

main.add_command(demo)
from spatialsvc.ingest.command import ingest  # noqa: E402

main.add_command(ingest)

from spatialsvc.catalogue_command import catalogue  # noqa: E402

main.add_command(catalogue)

from spatialsvc.address_command import address  # noqa: E402

main.add_command(address)

from spatialsvc.geocoding.command import geocode  # noqa: E402

main.add_command(geocode)

from spatialsvc.thematic.command import stats  # noqa: E402

main.add_command(stats)

from spatialsvc.auth.command import application, auth  # noqa: E402

main.add_command(auth)
main.add_command(application)

from spatialsvc.audit.command import audit  # noqa: E402
from spatialsvc.processes.command import jobs  # noqa: E402

main.add_command(audit)
main.add_command(jobs)
