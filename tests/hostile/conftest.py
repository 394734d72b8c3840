"""Fixtures of the hostile-input tests: the real service (uvicorn) with access control on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spatialsvc.settings import Settings
from tests.conftest import serve


@pytest.fixture(scope="package")
def hostile_url(access_settings: Settings, demo: dict[str, int]) -> Iterator[str]:
    """The service with access control on, served by uvicorn on a loopback port."""
    yield from serve(access_settings)
