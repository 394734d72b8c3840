"""Helpers of the browser tests (tests/client, tests/portal): whether a URL stays on the
machine, and a screenshot as pixels."""

from __future__ import annotations

import warnings
from urllib.parse import urlsplit

import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def is_local(url: str, schemes: frozenset[str] = frozenset({"data", "blob", "about"})) -> bool:
    """Whether a page's request stays on the machine: one of ``schemes`` (no host), or
    http(s)/ws(s) to the loopback."""
    parts = urlsplit(url)
    if parts.scheme in schemes:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


def pixels(png: bytes) -> np.ndarray:
    """A screenshot as a (height, width, 3) array of RGB."""
    with warnings.catch_warnings():  # a PNG has no georeferencing, and needs none
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(png) as memory, memory.open() as image:
            data = image.read()
    return np.transpose(data[:3], (1, 2, 0)).astype(int)
