"""Make an OpenAPI document self-contained.

pygeoapi's OpenAPI document refers to OGC schemas on outside hosts
(``https://schemas.opengis.net/...#/components/responses/NotFound``,
``.../openapi/parameters/sortby.yaml``), which an OpenAPI tool on a network without internet
cannot resolve.  :func:`bundle` replaces every such ``$ref`` with a local
``#/components/<kind>/<name>`` and copies the component from our own definitions in
``spatialsvc/data/openapi/ogc-schemas.yml`` (with whatever they refer to in turn).  A component
the document already has under that name is used as it is.  An outside reference we have no
definition for gets a permissive stand-in and a warning in the log, never a dangling reference.

No web framework here: a dict in, a dict out.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

LOG = logging.getLogger(__name__)

KINDS = ("schemas", "responses", "parameters")
LOCAL_PREFIX = "#/components/"
_NAME_OK = re.compile(r"[^A-Za-z0-9._-]")
_SUFFIXES = (".yaml", ".yml", ".json")

Ref = tuple[str, str]
"""A component as (kind, name), e.g. ("responses", "NotFound")."""


@cache
def library() -> dict[str, Any]:
    """Our definitions of the outside OGC components (read once from the package data)."""
    text = (
        resources.files("spatialsvc")
        .joinpath("data/openapi/ogc-schemas.yml")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def is_external(ref: str) -> bool:
    """Whether a ``$ref`` points at another document on a host (http or https)."""
    return ref.startswith(("http://", "https://"))


def parse_external(ref: str) -> Ref:
    """The component an outside ``$ref`` names, as (kind, name).

    ``...ogcapi-features-1.yaml#/components/responses/NotFound`` gives
    ("responses", "NotFound"); ``.../openapi/parameters/sortby.yaml`` gives
    ("parameters", "sortby"); anything else is taken as a schema named after its last part.
    """
    parts = urlsplit(ref)
    if parts.fragment:
        segments = [s for s in parts.fragment.split("/") if s]
        if len(segments) >= 3 and segments[0] == "components" and segments[1] in KINDS:
            return segments[1], segments[-1]
        return "schemas", segments[-1] if segments else _file_stem(parts.path)
    segments = [s for s in parts.path.split("/") if s]
    file_name = segments[-1] if segments else "external"
    kind = segments[-2] if len(segments) >= 2 and segments[-2] in KINDS else "schemas"
    aliases = library().get("aliases", {}).get(kind) or {}
    if file_name in aliases:
        return kind, str(aliases[file_name])
    return kind, _file_stem(file_name)


def _file_stem(file_name: str) -> str:
    for suffix in _SUFFIXES:
        if file_name.endswith(suffix):
            return file_name[: -len(suffix)]
    return file_name


def local_name(name: str) -> str:
    """A component key OpenAPI accepts (letters, digits, '.', '-', '_')."""
    return _NAME_OK.sub("_", name) or "external"


def _stand_in(kind: str, name: str, ref: str) -> dict[str, Any]:
    """A permissive component for an outside reference we have no definition of."""
    LOG.warning("OpenAPI: no local definition for %s; using a permissive stand-in", ref)
    note = f"Stand-in for an outside definition ({name}) not bundled with this service."
    if kind == "parameters":
        schema = {"type": "string"}
        return {
            "name": name,
            "in": "query",
            "required": False,
            "description": note,
            "schema": schema,
        }
    if kind == "responses":
        return {"description": note}
    return {"description": note, "type": "object"}


def _walk_refs(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in ``node`` (recursively) that has a string ``$ref``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("$ref"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _local_target(ref: str) -> Ref | None:
    if not ref.startswith(LOCAL_PREFIX):
        return None
    segments = ref[len(LOCAL_PREFIX) :].split("/")
    if len(segments) == 2 and segments[0] in KINDS:
        return segments[0], segments[1]
    return None


def bundle(document: dict[str, Any], *, in_place: bool = False) -> dict[str, Any]:
    """``document`` (a copy, unless ``in_place``) in which no ``$ref`` points outside it.

    Outside references become ``#/components/<kind>/<name>``; the components they need are
    added from our definitions, and so, in turn, are the local components those refer to.
    A document of a thousand collections is large: the app factory bundles in place.
    """
    doc = document if in_place else copy.deepcopy(document)
    components: dict[str, Any] = doc.setdefault("components", {})
    ours = library()
    pending: list[tuple[str, str, str]] = []  # (kind, name, original ref) still to add

    for holder in list(_walk_refs(doc)):
        ref = holder["$ref"]
        if not is_external(ref):
            continue
        kind, name = parse_external(ref)
        name = local_name(name)
        holder["$ref"] = f"{LOCAL_PREFIX}{kind}/{name}"
        pending.append((kind, name, ref))

    while pending:
        kind, name, ref = pending.pop()
        section = components.setdefault(kind, {})
        if name in section:
            continue
        definition = ours.get(kind, {}).get(name)
        section[name] = (
            copy.deepcopy(definition) if definition is not None else _stand_in(kind, name, ref)
        )
        for holder in _walk_refs(section[name]):
            target = _local_target(holder["$ref"])
            if target is not None and target[1] not in components.get(target[0], {}):
                pending.append((target[0], target[1], holder["$ref"]))
    return doc


def external_refs(document: Any) -> list[str]:
    """Every ``$ref`` in the document that points at another host (empty once bundled)."""
    return sorted({h["$ref"] for h in _walk_refs(document) if is_external(h["$ref"])})


FILTER_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "filter",
        "in": "query",
        "required": False,
        "description": "CQL2 filter (OGC API - Features - Part 3), text or JSON per filter-lang.",
        "schema": {"type": "string"},
    },
    {
        "name": "filter-lang",
        "in": "query",
        "required": False,
        "description": "Language of the filter.",
        "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
    },
    {
        "name": "filter-crs",
        "in": "query",
        "required": False,
        "description": "CRS of the geometries in the filter (default CRS84).",
        "schema": {"type": "string", "format": "uri"},
    },
]


def add_filter_parameters(document: dict[str, Any], collections: Iterable[str]) -> dict[str, Any]:
    """Declare Part 3's filter parameters on the items operation of each collection given.

    Changes ``document`` in place and returns it.
    """
    out = document
    for collection in collections:
        operation = out.get("paths", {}).get(f"/collections/{collection}/items", {}).get("get")
        if operation is None:
            continue
        params = operation.setdefault("parameters", [])
        present = {p.get("name") for p in params if isinstance(p, dict)}
        params.extend(copy.deepcopy(p) for p in FILTER_PARAMETERS if p["name"] not in present)
    return out
