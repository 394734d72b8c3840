"""The acceptance screenshot: a thematic map from the client, opened in headless Chromium
(Debian's /usr/bin/chromium, driven by Playwright; no browser download), is drawn (class
colours counted in the screenshot, the legend in the page), with no request leaving the machine
and no console error. The page and the screenshot are kept in test-artifacts/client/."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import psycopg2
import pytest

from spatialsvc.client import Client, external_urls, thematic_map
from spatialsvc.client.maps import LEAFLET_CSS, LEAFLET_JS
from tests import browser
from tests.browser import pixels

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1200, 800
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})  # the map is a saved file


def is_local(url: str) -> bool:
    """file:, data:, blob: and loopback http(s) stay on the machine."""
    return browser.is_local(url, LOCAL_SCHEMES)


def colour_counts(image: np.ndarray, colours: list[str], tolerance: int = 3) -> dict[str, int]:
    """How many pixels have each colour (within ``tolerance`` per channel)."""
    out = {}
    for colour in colours:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        out[colour] = int((np.abs(image - rgb) <= tolerance).all(axis=2).sum())
    return out


@pytest.fixture(scope="module")
def grid_map(service: Client, db_url: str, artifacts: Path) -> tuple[Path, object, int]:
    """The grid layer coloured by area (km², quantiles), saved as a page; with its legend."""
    response = httpx.get(service.asset_url(LEAFLET_JS), timeout=10)
    assert response.status_code == 200, "Leaflet is not vendored: run `make vendor`"
    assert httpx.get(service.asset_url(LEAFLET_CSS), timeout=10).status_code == 200
    grid = service.read("grid", crs="EPSG:4549")
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute("SELECT count(*) FROM base.grid")
        (count,) = cur.fetchone()  # type: ignore[misc]
    assert len(grid) == count
    grid = grid.assign(area_km2=grid.area / 1e6)
    fmap = thematic_map(
        grid,
        "area_km2",
        scheme="quantiles",
        k=5,
        title="网格面积（km²）",
        basemap=service,
        tooltip={"name": "网格", "area_km2": "面积（km²）"},
        fill_opacity=1.0,  # class colours exactly as in the legend, to count them
    )
    assert external_urls(fmap) == []
    page = artifacts / "thematic_map_grid.html"
    fmap.save(str(page))
    return page, fmap.thematic_legend, len(grid)


def test_thematic_map_is_drawn_offline_in_chromium(
    grid_map: tuple[Path, object, int], artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        "Chromium is missing: `make system` installs Debian's chromium"
    )
    page_file, legend, features = grid_map
    requests: list[str] = []
    blocked: list[str] = []
    bad_answers: list[str] = []
    console_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})

            def guard(route) -> None:  # type: ignore[no-untyped-def]
                if is_local(route.request.url):
                    route.continue_()
                else:  # never let it out, and fail below
                    blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on(
                "response",
                lambda r: bad_answers.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            page.on(
                "console",
                lambda m: console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.goto(page_file.as_uri(), wait_until="networkidle", timeout=60_000)
            page.wait_for_function(
                "n => document.querySelectorAll('path.leaflet-interactive').length >= n",
                arg=features,
                timeout=30_000,
            )
            page.wait_for_function(
                "() => { const t = [...document.querySelectorAll('img.leaflet-tile')];"
                " return t.length > 0 && t.every(i => i.complete && i.naturalWidth > 0); }",
                timeout=30_000,
            )
            legend_text = page.locator(".spatialsvc-legend").inner_text()
            title_text = page.locator(".spatialsvc-title").inner_text()
            controls = [
                page.locator(selector).bounding_box()
                for selector in (".spatialsvc-legend", ".spatialsvc-title")
            ]
            shot = artifacts / "thematic_map_grid.png"
            png = page.screenshot(path=str(shot))
            (tmp_path / shot.name).write_bytes(png)
            print(f"\nscreenshot: {shot}\npage: {page_file}")
        finally:
            browser.close()

    # nothing left the machine, nothing failed
    assert blocked == [], f"requests leaving the machine: {blocked[:5]}"
    assert all(is_local(u) for u in requests)
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in requests)
    assert any("/basemaps/raster/tiles/" in u for u in requests)
    assert bad_answers == [], bad_answers[:5]
    assert console_errors == [], console_errors[:5]

    # the legend is in the page, and the classes are on the screen
    assert "网格面积（km²）" in legend_text and "网格面积（km²）" in title_text
    for c in legend.classes:  # type: ignore[attr-defined]
        assert c.label in legend_text
        assert f"({c.count:,})" in legend_text
    image = pixels(png)
    assert image.shape[:2] == (HEIGHT, WIDTH)
    for box in controls:  # the legend's swatches must not count as drawn features
        assert box is not None
        x0, y0 = int(box["x"]), int(box["y"])
        image[y0 : y0 + int(box["height"]) + 2, x0 : x0 + int(box["width"]) + 2] = -1
    counts = colour_counts(image, [c.color for c in legend.classes])  # type: ignore[attr-defined]
    print("class colour pixels:", counts)
    assert all(n >= 50 for n in counts.values()), counts
    assert sum(counts.values()) >= 0.05 * WIDTH * HEIGHT, counts
    # and the basemap is drawn too (not a uniform background around the features)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 1000
