"""Fixtures for the ingest tests."""

from __future__ import annotations

import geopandas as gpd
import pytest

from tests.ingest.helpers import points


@pytest.fixture()
def pts() -> gpd.GeoDataFrame:
    """Five points with Chinese names."""
    return points()
