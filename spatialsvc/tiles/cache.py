"""The tile cache: one file per tile under ``HOME/tiles``, keyed by layer, data version,
view (``all`` for whole tiles, else the :class:`~spatialsvc.tiles.mvt.TileView` key of what one
class of callers may see), matrix set and z/row/col.

A new data version is a new folder, so a change to the layer's data is never served from
the cache; when a version's folder is first made, the folders of the versions it supersedes
are removed (:meth:`TileCache.prune`). A request still rendering with an older version can
only remove versions older than its own, never a newer one. Files are written to a temporary
name in the same folder and renamed, so a reader never sees half a tile. An empty tile is
stored as an empty file.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from spatialsvc.fileio import write_atomic
from spatialsvc.tiles.matrixsets import TileAddress
from spatialsvc.tiles.mvt import FULL_VIEW_KEY
from spatialsvc.tiles.versions import is_superseded


def etag(data: bytes) -> str:
    """A strong ETag: a hash of the tile's bytes, quoted."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@dataclass
class TileCache:
    """Tiles on disk under ``root``."""

    root: Path

    def path(
        self, layer_id: str, version: str, address: TileAddress, view: str = FULL_VIEW_KEY
    ) -> Path:
        """Where one tile of one data version and view lives."""
        return (
            self.root
            / layer_id
            / version
            / view
            / address.matrix_set.id
            / str(address.z)
            / str(address.row)
            / f"{address.col}.mvt"
        )

    def get(
        self, layer_id: str, version: str, address: TileAddress, view: str = FULL_VIEW_KEY
    ) -> bytes | None:
        """The cached bytes, or None when the tile is not cached."""
        try:
            return self.path(layer_id, version, address, view).read_bytes()
        except FileNotFoundError:
            return None

    def put(
        self,
        layer_id: str,
        version: str,
        address: TileAddress,
        data: bytes,
        view: str = FULL_VIEW_KEY,
    ) -> bool:
        """Store a tile atomically (write a temporary file, then rename it).

        Returns False when the tile could not be stored because its version folder was
        pruned meanwhile (the tile is still good to serve, just not kept).
        """
        target = self.path(layer_id, version, address, view)
        version_dir = self.root / layer_id / version
        if not version_dir.is_dir():
            version_dir.mkdir(parents=True, exist_ok=True)
            self.prune(layer_id, version)
        try:
            write_atomic(target, data)
        except FileNotFoundError:  # the version folder was pruned meanwhile
            return False
        return True

    def prune(self, layer_id: str, current: str) -> int:
        """Delete a layer's cached versions that ``current`` supersedes; return how many."""
        folder = self.root / layer_id
        if not folder.is_dir():
            return 0
        removed = 0
        for child in folder.iterdir():
            if child.is_dir() and is_superseded(child.name, current):
                shutil.rmtree(child, ignore_errors=True)
                removed += 1
        return removed
