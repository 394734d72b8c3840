"""The map portal (/map/) in headless Chromium, against the real service with access control on.

Every page records every request (any host but the loopback fails the test, and is never let
out), every answer of 400 and above, and every console error. Screenshots of the laptop and
phone layouts are kept in test-artifacts/portal/. Expected values come from the database or
the API itself, never written into the test."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import psycopg2
import pytest

from spatialsvc.auth.mask import mask_value
from spatialsvc.geo.gcj02 import wgs84_to_gcj02
from tests.browser import is_local, pixels
from tests.conftest import Caller

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
WAIT = 30_000


@dataclass
class Recorder:
    """What one page asked for and what went wrong."""

    requests: list[Any] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    bad_answers: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)

    def urls(self, part: str) -> list[str]:
        return [r.url for r in self.requests if part in r.url]

    def assert_clean(self) -> None:
        assert self.blocked == [], f"requests leaving the machine: {self.blocked[:5]}"
        assert all(is_local(r.url) for r in self.requests)
        assert self.bad_answers == [], self.bad_answers[:5]
        assert self.console_errors == [], self.console_errors[:5]


@dataclass
class Portal:
    """A page of the portal and its recorder."""

    page: Any
    rec: Recorder
    url: str

    def layer_ids(self) -> list[str]:
        return list(
            self.page.eval_on_selector_all(
                "#layer-list li[data-layer]", "els => els.map(e => e.dataset.layer)"
            )
        )

    def sign_in(self, caller: Caller) -> None:
        assert caller.key
        self.page.fill("#api-key", caller.key)
        self.page.click("#signin-form button")
        self.page.wait_for_selector("#signed-in:not([hidden])", timeout=WAIT)
        self.page.wait_for_function(
            "() => window.spatialsvcPortal.state.session.signed_in === true", timeout=WAIT
        )
        self.wait_tiles()  # the map is redrawn with the key: let it settle

    def sign_out(self) -> None:
        self.page.click("#signout")
        self.page.wait_for_selector("#signed-out:not([hidden])", timeout=WAIT)
        self.page.wait_for_function(
            "() => window.spatialsvcPortal.state.session.signed_in === false", timeout=WAIT
        )
        self.wait_tiles()

    def wait_tiles(self) -> None:
        self.page.wait_for_function(
            "() => { const m = window.spatialsvcPortal.map();"
            " return m && m.loaded() && m.areTilesLoaded() && !m.isMoving(); }",
            timeout=WAIT,
        )


@pytest.fixture()
def open_portal(browser: Any, portal_server: str) -> Iterator[Any]:
    """Open /map/ in a fresh context (own sessionStorage) at a viewport; closed afterwards."""
    contexts: list[Any] = []

    def opener(viewport: dict[str, int] = LAPTOP) -> Portal:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        rec = Recorder()

        def guard(route: Any) -> None:
            if is_local(route.request.url):
                route.continue_()
            else:  # never let it out, and fail in assert_clean
                rec.blocked.append(route.request.url)
                route.abort()

        def answered(r: Any) -> None:
            rec.answers[r.url] = r.status
            if r.status >= 400:
                rec.bad_answers.append(f"{r.status} {r.url}")

        context.route("**/*", guard)
        page = context.new_page()
        page.on("request", lambda r: rec.requests.append(r))
        page.on("response", answered)
        page.on(
            "console", lambda m: rec.console_errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda e: rec.console_errors.append(str(e)))
        page.goto(portal_server + "/map/", wait_until="load", timeout=WAIT)
        page.wait_for_function(
            "() => window.spatialsvcPortal && window.spatialsvcPortal.state.ready", timeout=WAIT
        )
        return Portal(page, rec, portal_server)

    yield opener
    for context in contexts:
        context.close()


def map_pixels(portal: Portal, png: bytes) -> np.ndarray:
    """The map's part of a screenshot."""
    box = portal.page.locator("#map").bounding_box()
    assert box is not None
    image = pixels(png)
    x0, y0 = int(box["x"]), int(box["y"])
    return image[y0 : y0 + int(box["height"]), x0 : x0 + int(box["width"])]


def session_layers(url: str, caller: Caller) -> dict[str, bool]:
    answer = httpx.get(url + "/map/api/session", headers=caller.headers, timeout=10)
    assert answer.status_code == 200
    return {entry["id"]: entry["readable"] for entry in answer.json()["layers"]}


# -- the tests --------------------------------------------------------------------------------


def test_public_page_is_offline_drawn_with_layers_basemaps_and_coordinates(
    open_portal: Any, portal_artifacts: Path
) -> None:
    portal = open_portal(LAPTOP)
    page, rec = portal.page, portal.rec
    portal.wait_tiles()
    png = page.screenshot(path=str(portal_artifacts / "portal-laptop.png"))
    assert rec.urls("/static/vendor/maplibre-gl/maplibre-gl.js")
    assert rec.urls("/basemaps/vector/style.json")
    assert rec.urls("/tiles/WebMercatorQuad/"), "no vector tile was asked"
    # the canvas is drawn: many colours, and most pixels differ from the background colour
    flat = map_pixels(portal, png).reshape(-1, 3)
    background = np.array([0xF8, 0xF4, 0xF0])
    drawn = int((np.abs(flat - background).sum(axis=1) > 12).sum())
    print(f"\nlaptop screenshot: {portal_artifacts / 'portal-laptop.png'}; drawn pixels {drawn}")
    assert len(np.unique(flat, axis=0)) > 500
    assert drawn > 0.3 * len(flat)
    assert float(flat.std()) > 10
    # the panel is open on a laptop, and the page is in Chinese
    assert page.locator("#panel").is_visible()
    assert "资源目录" in page.inner_text("#panel")
    assert page.get_attribute("html", "lang") == "zh-CN"

    # toggling a layer asks its tiles and shows its legend; off again removes it
    before = len(rec.urls("/collections/grid/tiles/"))
    page.check("#layer-grid")
    portal.wait_tiles()
    assert "ov-grid" in page.evaluate("() => window.spatialsvcPortal.map().getStyle().sources")
    assert len(rec.urls("/collections/grid/tiles/")) > before
    assert page.locator(".legend[data-layer=grid]").is_visible()
    page.uncheck("#layer-grid")
    assert "ov-grid" not in page.evaluate("() => window.spatialsvcPortal.map().getStyle().sources")

    # the GCJ-02 port gives what the Python gives; the cursor's coordinates are shown in both
    points = [(121.55, 29.87), (121.14, 29.70), (121.4321, 29.9012), (2.35, 48.85)]
    got = page.evaluate(
        "pts => pts.map(p => window.spatialsvcGcj02.wgs84ToGcj02(p[0], p[1]))", points
    )
    lon, lat = wgs84_to_gcj02([p[0] for p in points], [p[1] for p in points])
    for (glon, glat), elon, elat in zip(got, lon, lat, strict=True):
        assert abs(glon - elon) < 1e-9 and abs(glat - elat) < 1e-9
    assert got[3] == [2.35, 48.85]  # outside China: unchanged, as in the Python
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 150)
    x, y = (float(v) for v in page.inner_text("#coord-cgcs").split(","))
    under = page.evaluate("([x, y]) => window.spatialsvcPortal.map().unproject([x, y])", [200, 150])
    assert abs(under["lng"] - x) < 1e-6 and abs(under["lat"] - y) < 1e-6
    glon, glat = wgs84_to_gcj02(x, y)
    assert page.inner_text("#coord-gcj") == f"{float(glon):.6f}, {float(glat):.6f}"
    assert "WGS84" in (page.get_attribute("#coords", "title") or "")

    # the public is asked to sign in for address search, and no /geocode is asked
    page.fill("#geocode-q", "海曙区")
    page.click("#geocode-form button")
    assert "请先用部门 API 密钥登录" in page.inner_text("#geocode-result")
    assert not rec.urls("/geocode")

    # the raster basemap
    page.check("input[name=basemap][value=raster]")
    portal.wait_tiles()
    assert rec.urls("/basemaps/raster/tiles/")
    sources = page.evaluate("() => window.spatialsvcPortal.map().getStyle().sources")
    assert "relief" in sources and "road" not in sources
    rec.assert_clean()


def test_signed_in_catalogue_conditional_layer_identify_and_address_search(
    open_portal: Any,
    callers: dict[str, Caller],
    portal_server: str,
    db_url: str,
    portal_artifacts: Path,
) -> None:
    for who in ("public", "stranger", "grantee"):  # what the service itself says
        readable = session_layers(portal_server, callers[who])
        assert readable.get("camera", False) is (who == "grantee")
    listed = httpx.get(
        portal_server + "/collections?f=json", headers=callers["stranger"].headers, timeout=10
    ).json()
    assert "camera" in {c["id"] for c in listed["collections"]}  # listed, so that it can apply

    portal = open_portal(LAPTOP)
    page, rec = portal.page, portal.rec
    public = portal.layer_ids()
    assert public and "camera" not in public and "grid" in public
    assert "standard_address" not in public  # unconditional: departments only

    portal.sign_in(callers["stranger"])
    stranger = portal.layer_ids()
    assert "camera" not in stranger and "standard_address" in stranger
    assert "需经申请" in page.inner_text("#catalogue-list li[data-record=camera]")
    _catalogue(portal, callers["stranger"])
    portal.sign_out()
    assert portal.layer_ids() == public

    portal.sign_in(callers["grantee"])
    assert "camera" in portal.layer_ids()
    stored = page.evaluate("() => sessionStorage.getItem('spatialsvc.portal.key')")
    assert stored == callers["grantee"].key
    _camera(portal, callers["grantee"], db_url, portal_artifacts)
    _address(portal, callers["grantee"], db_url)
    rec.assert_clean()


def _catalogue(portal: Portal, caller: Caller) -> None:
    """Search and filters give the records the Records API gives the same caller."""
    page = portal.page

    def shown(expected: list[str]) -> list[str]:
        page.wait_for_function(
            "n => !document.querySelector('#catalogue-count').textContent.includes('正在')"
            " && document.querySelectorAll('#catalogue-list li[data-record]').length === n",
            arg=len(expected),
            timeout=WAIT,
        )
        return list(
            page.eval_on_selector_all(
                "#catalogue-list li[data-record]", "els => els.map(e => e.dataset.record)"
            )
        )

    def api(**params: str) -> list[str]:
        doc = httpx.get(
            portal.url + "/collections/catalogue/items",
            params={"f": "json", "limit": "200", **params},
            headers=caller.headers,
            timeout=10,
        ).json()
        return [f["id"] for f in doc["features"]]

    everything = api()
    assert "camera" in everything
    assert sorted(shown(everything)) == sorted(everything)
    found = api(q="网格")
    assert found and len(found) < len(everything)
    page.fill("#catalogue-q", "网格")
    page.click("#catalogue-form button")
    assert sorted(shown(found)) == sorted(found)
    page.fill("#catalogue-q", "")
    options = page.eval_on_selector_all(
        "#catalogue-category option", "els => els.map(e => e.value).filter(Boolean)"
    )
    assert len(options) >= 2
    expected = api(category=options[-1])
    page.select_option("#catalogue-category", options[-1])
    assert sorted(shown(expected)) == sorted(expected) and len(expected) < len(everything)
    page.select_option("#catalogue-category", "")
    expected = api(department_code="ga-hs")
    page.select_option("#catalogue-department", "ga-hs")
    assert sorted(shown(expected)) == sorted(expected) and "camera" in expected
    page.select_option("#catalogue-department", "")
    shown(everything)


def _camera(portal: Portal, caller: Caller, db_url: str, artifacts: Path) -> None:
    """The granted layer's tiles go out with the key; a click shows its name masked."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT camera_id::text, name, ST_X(geom), ST_Y(geom) FROM registry.camera"
            " ORDER BY camera_id LIMIT 1"
        )
        _clicked, name, lon, lat = cur.fetchone()  # type: ignore[misc]
    page, rec = portal.page, portal.rec
    page.check("#layer-camera")
    portal.wait_tiles()  # settle before moving: cancelled tiles still hold server connections
    page.evaluate(
        "([lon, lat]) => window.spatialsvcPortal.map().jumpTo({center: [lon, lat], zoom: 15})",
        [lon, lat],
    )
    portal.wait_tiles()
    tiles = rec.urls("/collections/camera/tiles/WebMercatorQuad/")
    assert tiles
    sent = [r for r in rec.requests if "/collections/camera/tiles/" in r.url]
    assert all(r.headers.get("authorization") == f"Bearer {caller.key}" for r in sent)
    assert {rec.answers.get(u) for u in tiles} <= {200, 204, 304}
    assert page.locator(".legend[data-layer=camera]").is_visible()
    point = page.evaluate(
        "([lon, lat]) => window.spatialsvcPortal.map().project([lon, lat])", [lon, lat]
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    popup = page.wait_for_selector(".identify", timeout=WAIT).inner_text()
    assert "视频监控点位" in popup
    # the features under the cursor: the clicked camera, or others drawn on top of it
    shown = re.findall(r"camera_id\t(\S+)", popup)
    assert shown, popup
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT camera_id::text, name FROM registry.camera WHERE camera_id = ANY(%s)",
            (shown,),
        )
        names = dict(cur.fetchall())
    assert set(shown) <= set(names)
    for real in names.values():
        masked = mask_value("name", real)
        assert masked and masked in popup and real not in popup
    assert name not in popup
    page.screenshot(path=str(artifacts / "portal-identify.png"))


def _address(portal: Portal, caller: Caller, db_url: str) -> None:
    """A door plate of the demo is found, shown with its level and score, and flown to."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT full_address, ST_X(geom), ST_Y(geom) FROM base.standard_address"
            " WHERE level = 'door' ORDER BY address_id LIMIT 1 OFFSET 7"
        )
        address, lon, lat = cur.fetchone()  # type: ignore[misc]
    page, rec = portal.page, portal.rec
    page.fill("#geocode-q", address)
    page.click("#geocode-form button")
    level = page.wait_for_selector("#geocode-result .level", timeout=WAIT)
    for _ in range(3):  # the reference answer, asked as an app would (503: retry after)
        reply = httpx.get(
            portal.url + "/geocode",
            params={"q": address, "crs": "EPSG:4490"},
            headers=caller.headers,
            timeout=30,
        )
        if reply.status_code != 503:
            break
        time.sleep(float(reply.headers.get("retry-after", "1")))
    assert reply.status_code == 200, reply.text
    expected = reply.json()
    assert expected["full_address"] == address
    assert level.get_attribute("data-level") == expected["match_level"]
    shown = page.inner_text("#geocode-result")
    assert address in shown and "匹配级别" in shown
    assert f"{expected['score']:.2f}" in shown
    portal.wait_tiles()  # after the flight
    center = page.evaluate("() => window.spatialsvcPortal.map().getCenter()")
    assert abs(center["lng"] - lon) < 1e-5 and abs(center["lat"] - lat) < 1e-5
    asked = rec.urls("/geocode?")
    assert len(asked) == 1 and parse_qs(urlsplit(asked[0]).query)["crs"] == ["EPSG:4490"]


def test_phone_width_starts_with_the_panel_collapsed(
    open_portal: Any, portal_artifacts: Path
) -> None:
    portal = open_portal(PHONE)
    portal.wait_tiles()
    assert not portal.page.locator("#panel").is_visible()
    assert portal.page.locator("#panel-toggle").is_visible()
    assert portal.page.locator("#geocode-q").is_visible()
    box = portal.page.locator("#map").bounding_box()
    assert box is not None and box["width"] >= PHONE["width"] - 2
    png = portal.page.screenshot(path=str(portal_artifacts / "portal-phone.png"))
    image = map_pixels(portal, png).reshape(-1, 3)
    assert len(np.unique(image, axis=0)) > 200
    portal.page.click("#panel-toggle")
    assert portal.page.locator("#panel").is_visible()
    assert portal.page.locator("#layer-list li[data-layer]").count() > 0
    panel = portal.page.locator("#panel").bounding_box()
    assert panel is not None and panel["width"] <= PHONE["width"]
    portal.page.screenshot(path=str(portal_artifacts / "portal-phone-panel.png"))
    print(f"\nphone screenshots: {portal_artifacts}/portal-phone*.png")
    portal.rec.assert_clean()
