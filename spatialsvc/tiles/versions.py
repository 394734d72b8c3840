"""The data version of a layer: what the tile cache keys its entries with.

Three parts, so that any of them changing retires every cached tile of the layer:

- ``meta.layer_version.version`` of the source table, bumped by a statement-level trigger
  after every INSERT, UPDATE, DELETE or TRUNCATE (migration 0005);
- ``meta.dataset.version`` of the layer, bumped when ingest swaps a new table into ``data``
  (a swapped-in table is a new table: triggers on the old one do not carry over);
- a hash of what the layer publishes (table, geometry, fields) and of the tile SQL's own
  version, so editing ``layers/*.yml`` or the renderer also starts afresh.
"""

from __future__ import annotations

import hashlib
from typing import Any

from spatialsvc.layers import Layer

RENDERER_VERSION = "1"

_VERSION_SQL = """
SELECT coalesce((SELECT version FROM meta.layer_version WHERE table_name = %(table)s), 0),
       coalesce((SELECT version FROM meta.dataset WHERE layer = %(layer)s), 0)
"""


def definition_hash(layer: Layer) -> str:
    """A short hash of what a layer's tiles are made from."""
    text = "|".join(
        [RENDERER_VERSION, layer.table, layer.geometry_column, layer.geometry_type, *layer.fields]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def data_version(conn: Any, layer: Layer) -> str:
    """The layer's current version key, e.g. ``'7.0.1a2b3c4d5e6f'``."""
    with conn.cursor() as cur:
        cur.execute(_VERSION_SQL, {"table": layer.table, "layer": layer.id})
        row = cur.fetchone()
    table_version, dataset_version = (int(row[0]), int(row[1])) if row else (0, 0)
    return f"{table_version}.{dataset_version}.{definition_hash(layer)}"


def version_order(key: str) -> tuple[int, int] | None:
    """The (table, dataset) numbers of a version key, to tell older keys from newer ones."""
    parts = key.split(".")
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return (int(parts[0]), int(parts[1]))


def is_superseded(old: str, new: str) -> bool:
    """Whether ``old`` is a version key that ``new`` replaces (never ``new`` itself)."""
    if old == new:
        return False
    old_order, new_order = version_order(old), version_order(new)
    if old_order is None or new_order is None:
        return old_order is None and new_order is not None
    return old_order < new_order or (old_order == new_order and old != new)
