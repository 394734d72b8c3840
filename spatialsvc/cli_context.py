"""What every ``spatialsvc`` subcommand takes from the click context: the settings, read once."""

from __future__ import annotations

import click

from spatialsvc.settings import Settings, get_settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings of this command line run (read from the environment on first use)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = get_settings()
    settings: Settings = obj["settings"]
    return settings
