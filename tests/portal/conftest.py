"""Fixtures of the portal's browser tests: the real service with access control on, one
headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no browser download) for
the module, and ``test-artifacts/portal/`` for the screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spatialsvc.settings import Settings
from tests.conftest import serve

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def portal_server(
    access_settings: Settings, demo: dict[str, int], callers: dict[str, object]
) -> Iterator[str]:
    """The service as deployed (access control on; the callers' keys exist; the geocoder's
    index built in the background at start, as ``SPATIALSVC_GEOCODER_PRELOAD`` does by
    default); yields its URL."""
    yield from serve(access_settings.model_copy(update={"geocoder_preload": True}))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        "Chromium is missing: `make system` installs Debian's chromium"
    )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def portal_artifacts() -> Path:
    """``test-artifacts/portal/`` (``SPATIALSVC_TEST_ARTIFACTS`` overrides the root; ignored
    by git): the screenshots a person may want to look at."""
    root = Path(os.environ.get("SPATIALSVC_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder = root / "portal"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
