"""Shapes drawn by the analysis tests."""

from __future__ import annotations

import math
from typing import Any


def pentagon(lon: float, lat: float, r: float) -> dict[str, Any]:
    """A closed GeoJSON pentagon of radius ``r`` degrees around a point (not axis-aligned)."""
    ring = [
        [
            lon + r * math.cos(math.radians(18 + 72 * k)),
            lat + r * 0.9 * math.sin(math.radians(18 + 72 * k)),
        ]
        for k in range(5)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
