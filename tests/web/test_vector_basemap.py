"""The vector basemap through the running application: style, glyphs, sprites."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import numpy as np
import pytest

from spatialsvc.basemaps.pbf import decode_glyphs
from spatialsvc.basemaps.style import check_style

FONT = "Noto Sans CJK SC Regular"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture(scope="module")
def style(client):  # type: ignore[no-untyped-def]
    r = client.get("/basemaps/vector/style.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    return r.json()


def test_style_is_sound_and_points_at_us(client, app, style) -> None:  # type: ignore[no-untyped-def]
    state = app.state.spatialsvc
    base = state.settings.url
    assert check_style(style, state.layers) == []
    assert style["glyphs"].startswith(base + "/basemaps/fonts/")
    assert style["sprite"] == base + "/basemaps/sprites/basemap"
    for source in style["sources"].values():
        assert all(url.startswith(base + "/") for url in source["tiles"])
    no_shade = client.get("/basemaps/vector/style.json?hillshade=false").json()
    assert "hillshade" not in no_shade["sources"] and "hillshade" in style["sources"]
    assert client.get("/basemaps/vector/style.json?hillshade=maybe").status_code == 400


def test_glyphs_and_sprites_named_by_the_style_are_served(client, style) -> None:  # type: ignore[no-untyped-def]
    glyphs = (
        _path(style["glyphs"]).replace("{fontstack}", quote(FONT)).replace("{range}", "27904-28159")
    )
    r = client.get(glyphs)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    [(name, rng, entries)] = decode_glyphs(r.content)
    assert name == FONT and rng == "27904-28159" and 0 < len(entries) <= 256
    sea = next(g for g in entries if g.id == 0x6D77)  # 海
    sdf = np.frombuffer(sea.bitmap, dtype=np.uint8)
    assert sdf.size == (sea.width + 6) * (sea.height + 6) and sdf.max() > 192 > sdf.min()
    again = client.get(glyphs, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    sprite = _path(style["sprite"])
    for suffix, ratio in (("", 1), ("@2x", 2)):
        index = client.get(f"{sprite}{suffix}.json")
        png = client.get(f"{sprite}{suffix}.png")
        assert index.status_code == 200 and png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        width = int.from_bytes(png.content[16:20], "big")
        height = int.from_bytes(png.content[20:24], "big")
        for entry in index.json().values():
            assert entry["pixelRatio"] == ratio
            assert entry["x"] + entry["width"] <= width and entry["y"] + entry["height"] <= height


def test_style_tile_urls_serve_the_source_layers(client, style) -> None:  # type: ignore[no-untyped-def]
    """The style's tile URL template reaches a tile whose MVT layer is the style's source-layer."""
    import mapbox_vector_tile
    import morecantile

    tile = morecantile.tms.get("WebMercatorQuad").tile(121.55, 29.87, 14)
    for name, fields in (("road", {"name", "road_class"}), ("admin_division", {"name", "level"})):
        url = _path(style["sources"][name]["tiles"][0]).format(z=tile.z, x=tile.x, y=tile.y)
        r = client.get(url)
        assert r.status_code == 200, url
        decoded = mapbox_vector_tile.decode(r.content)
        assert name in decoded and decoded[name]["features"]
        assert fields <= set(decoded[name]["features"][0]["properties"])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/basemaps/fonts/{quote('Comic Sans MS Regular')}/0-255.pbf", 404),
        (f"/basemaps/fonts/{quote(FONT)}/1-256.pbf", 400),
        (f"/basemaps/fonts/{quote(FONT)}/0-511.pbf", 400),
        (f"/basemaps/fonts/{quote(FONT)}/65536-65791.pbf", 400),
        ("/basemaps/sprites/other.png", 404),
        ("/basemaps/sprites/basemap.gif", 404),
    ],
)
def test_bad_requests_are_4xx_json(client, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path)
    assert r.status_code == status
    body = r.json()
    assert body["code"] in ("NotFound", "InvalidParameterValue") and body["description"]


def test_font_list(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/basemaps/fonts.json")
    assert r.status_code == 200 and FONT in r.json()
