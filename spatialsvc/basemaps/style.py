"""The vector basemap's MapLibre style: a template in ``basemaps/`` filled in at serve time.

In the template, ``{base}`` inside any string becomes the service's URL, and a string that is
exactly ``"{layer.key}"`` becomes that published layer's value (``key`` one of the layer's
style fields: fill, stroke, width, radius, opacity; or minzoom / maxzoom), so colours live in
``layers/*.yml`` only.  A vector source is named after the layer it shows; sources of layers
that are not published, and the style layers drawing them, are left out.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from spatialsvc.errors import ConfigError
from spatialsvc.layers import Layer

TEMPLATE = Path(__file__).resolve().parents[2] / "basemaps" / "vector-style.json"
OPTIONAL_KEY = "spatialsvc:optional"
TEMPLATE_NOTE = "spatialsvc:template"  # the template's own documentation, not served
_VALUE = re.compile(r"^\{([a-z][a-z0-9_]*)\.(fill|stroke|width|radius|opacity|minzoom|maxzoom)\}$")
_LEFTOVER = re.compile(r"\{[a-z_]+\.[a-z_]+\}|\{base\}")


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Read a style template."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the vector style template {path.name}: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path.name}: a style is a JSON object")
    return document


def _layer_value(layer: Layer, key: str) -> Any:
    if key in ("minzoom", "maxzoom"):
        return getattr(layer, key)
    return getattr(layer.style, key)


def _fill(value: Any, base: str, layers: dict[str, Layer]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, base, layers) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, base, layers) for v in value]
    if isinstance(value, str):
        match = _VALUE.match(value)
        if match:
            layer = layers.get(match.group(1))
            if layer is None:
                raise ConfigError(f"vector style refers to unpublished layer {match.group(1)!r}")
            return _layer_value(layer, match.group(2))
        return value.replace("{base}", base)
    return value


def render_style(
    template: dict[str, Any],
    base: str,
    layers: dict[str, Layer],
    *,
    optional: frozenset[str] = frozenset({"hillshade"}),
) -> dict[str, Any]:
    """The style for clients: placeholders filled, unpublished layers left out.

    ``optional`` names the optional style layers kept (marked ``spatialsvc:optional`` in
    their metadata); the others are dropped, with sources no longer used.
    """
    style = copy.deepcopy(template)
    style.get("metadata", {}).pop(TEMPLATE_NOTE, None)
    sources: dict[str, Any] = style.get("sources", {})
    dropped = {
        name
        for name, source in sources.items()
        if source.get("type") == "vector" and name not in layers
    }
    kept = []
    for layer in style.get("layers", []):
        if layer.get("source") in dropped:
            continue
        marker = (layer.get("metadata") or {}).get(OPTIONAL_KEY)
        if marker is not None and marker not in optional:
            continue
        kept.append(layer)
    used = {layer["source"] for layer in kept if "source" in layer}
    style["sources"] = {name: s for name, s in sources.items() if name in used}
    style["layers"] = kept
    filled: dict[str, Any] = _fill(style, base.rstrip("/"), layers)
    return filled


def check_style(style: dict[str, Any], layers: dict[str, Layer]) -> list[str]:
    """Structural problems of a rendered style (empty when it is sound)."""
    problems = []
    if style.get("version") != 8:
        problems.append("version must be 8")
    sources = style.get("sources")
    if not isinstance(sources, dict):
        return [*problems, "sources must be an object"]
    ids = [layer.get("id") for layer in style.get("layers", [])]
    if len(ids) != len(set(ids)):
        problems.append("layer ids repeat")
    for layer in style.get("layers", []):
        lid, kind = layer.get("id"), layer.get("type")
        if kind == "background":
            continue
        source = sources.get(layer.get("source"))
        if source is None:
            problems.append(f"layer {lid}: source {layer.get('source')!r} is not defined")
            continue
        if source.get("type") == "vector":
            if layer.get("source-layer") not in layers:
                problems.append(f"layer {lid}: source-layer is not a published layer")
        elif "source-layer" in layer:
            problems.append(f"layer {lid}: source-layer on a {source.get('type')} source")
        if kind == "symbol" and "text-field" in layer.get("layout", {}) and "glyphs" not in style:
            problems.append(f"layer {lid}: text without a glyphs URL")
    leftover = _LEFTOVER.search(json.dumps(style, ensure_ascii=False))
    if leftover:
        problems.append(f"placeholder {leftover.group(0)} left unfilled")
    return problems


def text_fonts(style: dict[str, Any]) -> set[str]:
    """Every font name a style's symbol layers ask for (literal ``text-font`` arrays only)."""
    fonts: set[str] = set()
    for layer in style.get("layers", []):
        value = layer.get("layout", {}).get("text-font")
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            fonts.update(value)
    return fonts


def icon_names(style: dict[str, Any]) -> set[str]:
    """Every sprite name a style's ``icon-image`` values can produce (literals and matches)."""
    names: set[str] = set()

    def collect(value: Any, in_match_output: bool) -> None:
        if isinstance(value, str):
            if in_match_output:
                names.add(value)
        elif isinstance(value, list) and value and value[0] == "match":
            outputs = value[3:-1:2] + [value[-1]]
            for item in outputs:
                collect(item, True)

    for layer in style.get("layers", []):
        collect(layer.get("layout", {}).get("icon-image"), True)
    return names
