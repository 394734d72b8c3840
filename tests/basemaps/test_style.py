"""The vector style template, filled from the layer files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from spatialsvc.basemaps.glyphs import discover_fonts
from spatialsvc.basemaps.sprites import sprite_sheet
from spatialsvc.basemaps.style import (
    TEMPLATE,
    check_style,
    icon_names,
    load_template,
    render_style,
    text_fonts,
)
from spatialsvc.errors import ConfigError
from spatialsvc.layers import Layer, load_layers
from spatialsvc.settings import Settings

BASE = "http://maps.example.gov.cn/svc"


@pytest.fixture(scope="module")
def layers() -> dict[str, Layer]:
    return load_layers(Settings().layers_dir)


def _by_id(style: dict) -> dict:  # type: ignore[type-arg]
    return {layer["id"]: layer for layer in style["layers"]}


def test_template_is_the_checked_in_file() -> None:
    assert TEMPLATE.name == "vector-style.json" and TEMPLATE.parent.name == "basemaps"
    assert load_template()["version"] == 8


def test_rendered_style_is_sound(layers: dict[str, Layer]) -> None:
    style = render_style(load_template(), BASE + "/", layers)
    assert check_style(style, layers) == []
    assert style["glyphs"] == BASE + "/basemaps/fonts/{fontstack}/{range}.pbf"
    assert style["sprite"] == BASE + "/basemaps/sprites/basemap"
    for name, source in style["sources"].items():
        assert all(url.startswith(BASE + "/") for url in source["tiles"])
        if source["type"] == "vector":
            assert source["tiles"] == [
                f"{BASE}/collections/{name}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"
            ]
            assert source["minzoom"] == layers[name].minzoom
    assert style["sources"]["hillshade"]["type"] == "raster"
    wanted = {"admin_division", "road", "building", "poi", "compound", "grid"}
    assert wanted <= {layer.get("source-layer") for layer in style["layers"]}
    assert text_fonts(style) <= set(discover_fonts())
    assert icon_names(style) <= set(sprite_sheet(1)[1])


def test_colours_come_from_the_layer_files(layers: dict[str, Layer]) -> None:
    layer = _by_id(render_style(load_template(), BASE, layers))
    assert layer["road-arterial"]["paint"]["line-color"] == layers["road"].style.stroke
    assert layer["building-fill"]["paint"]["fill-color"] == layers["building"].style.fill
    assert layer["township-boundary"]["paint"]["line-color"] == (
        layers["admin_division"].style.stroke
    )
    assert layer["camera-point"]["paint"]["circle-radius"] == layers["camera"].style.radius


def test_chinese_labels_use_our_font(layers: dict[str, Layer]) -> None:
    layer = _by_id(render_style(load_template(), BASE, layers))
    for lid in ("road-label", "poi-label", "township-label", "community-label"):
        assert layer[lid]["layout"]["text-font"] == ["Noto Sans CJK SC Regular"]
        assert layer[lid]["layout"]["text-field"] == ["get", "name"]
    assert layer["road-label"]["layout"]["symbol-placement"] == "line"


def test_unpublished_layers_and_optional_underlay_are_left_out(
    layers: dict[str, Layer],
) -> None:
    fewer = {k: v for k, v in layers.items() if k != "camera"}
    style = render_style(load_template(), BASE, fewer, optional=frozenset())
    assert check_style(style, fewer) == []
    assert "camera" not in style["sources"] and "hillshade" not in style["sources"]
    assert not any(layer.get("source") in ("camera", "hillshade") for layer in style["layers"])


def test_problems_are_reported(layers: dict[str, Layer]) -> None:
    template = load_template()
    template["layers"].append(
        {
            "id": "x",
            "type": "fill",
            "source": "road",
            "source-layer": "nope",
            "paint": {"fill-color": "{road.fill}"},
        }
    )
    template["layers"].append({"id": "y", "type": "line", "source": "missing"})
    problems = check_style(render_style(template, BASE, layers), layers)
    assert any("source-layer" in p for p in problems)
    assert any("'missing'" in p for p in problems)
    template["layers"][-1] = {
        "id": "y",
        "type": "line",
        "source": "road",
        "source-layer": "road",
        "paint": {"line-color": "{gone.stroke}"},
    }
    with pytest.raises(ConfigError):
        render_style(template, BASE, layers)
    assert json.dumps(load_template())  # the template itself is untouched


VALIDATOR = Path(__file__).resolve().parents[2] / (
    "node_modules/@maplibre/maplibre-gl-style-spec/dist/gl-style-validate.mjs"
)


def _validate(style: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:  # type: ignore[type-arg]
    node = shutil.which("node")
    if node is None or not VALIDATOR.is_file():
        pytest.fail("MapLibre's style validator is missing: run `make vendor` (npm ci)")
    path = tmp_path / "style.json"
    path.write_text(json.dumps(style, ensure_ascii=False), encoding="utf-8")
    return subprocess.run(
        [node, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60
    )


def test_maplibre_validator_accepts_the_style(layers: dict[str, Layer], tmp_path: Path) -> None:
    style = render_style(load_template(), BASE, layers)
    result = _validate(style, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    style["layers"][-1]["paint"]["text-color"] = "not a colour"
    assert _validate(style, tmp_path).returncode != 0  # the validator does check
