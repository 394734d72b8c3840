"""What our pygeoapi providers need from the running application.

pygeoapi builds a provider from its configuration on every request, and that configuration
holds no database URL. The app factory binds its settings and layers here once; providers read
them back. Outside an application (a script using a provider directly) the settings come from
the environment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from spatialsvc.layers import Layer, load_layers
from spatialsvc.settings import Settings, get_settings


@dataclass(frozen=True)
class ProviderContext:
    """The settings and published layers of the running application."""

    settings: Settings
    layers: dict[str, Layer]


_LOCK = threading.Lock()
_CURRENT: list[ProviderContext] = []


def bind(settings: Settings, layers: dict[str, Layer]) -> None:
    """Make the providers use these settings and layers (called by the app factory)."""
    with _LOCK:
        _CURRENT[:] = [ProviderContext(settings, layers)]


def current() -> ProviderContext:
    """The bound context, or one built from the environment."""
    with _LOCK:
        if not _CURRENT:
            settings = get_settings()
            _CURRENT.append(ProviderContext(settings, load_layers(settings.layers_dir)))
        return _CURRENT[0]
