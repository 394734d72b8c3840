"""Serve a layer's tile: data version, then the cache, then ST_AsMVT on a miss."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from spatialsvc.db.pool import connection
from spatialsvc.errors import NotFound
from spatialsvc.layers import Layer
from spatialsvc.settings import Settings
from spatialsvc.tiles import mvt
from spatialsvc.tiles.cache import TileCache, etag
from spatialsvc.tiles.matrixsets import TileAddress, tile_address
from spatialsvc.tiles.versions import data_version


@dataclass(frozen=True)
class TileResult:
    """A tile's bytes (empty: no feature) with its ETag and whether it came from the cache."""

    data: bytes
    etag: str
    cached: bool
    version: str


@dataclass
class TileService:
    """Tiles of the published layers, cached under ``settings.home / 'tiles'``."""

    settings: Settings
    layers: dict[str, Layer]
    renders: int = 0  # tiles rendered with SQL (cache misses), for tests and benchmarks
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cache(self) -> TileCache:
        """The on-disk tile cache."""
        return TileCache(self.settings.home / "tiles")

    def layer(self, layer_id: str) -> Layer:
        """A published layer by id; unknown is :class:`NotFound`."""
        try:
            return self.layers[layer_id]
        except KeyError:
            raise NotFound(f"collection {layer_id!r} does not exist") from None

    def address(self, layer: Layer, matrix_set_id: str, z: str, row: str, col: str) -> TileAddress:
        """A checked tile address inside the layer's zoom range."""
        address = tile_address(matrix_set_id, z, row, col)
        if not layer.minzoom <= address.z <= layer.maxzoom:
            raise NotFound(
                f"layer {layer.id!r} has tiles at tileMatrix {layer.minzoom}-{layer.maxzoom}"
            )
        return address

    def tile(
        self,
        layer_id: str,
        matrix_set_id: str,
        z: str,
        row: str,
        col: str,
        view: mvt.TileView | None = None,
    ) -> TileResult:
        """One tile (narrowed to ``view`` if given), from the cache when its data version has not
        changed. Each view has its own cache entries: a tile is only served to callers of the
        view it was rendered for."""
        layer = self.layer(layer_id)
        address = self.address(layer, matrix_set_id, z, row, col)
        key = view.key if view is not None else mvt.FULL_VIEW_KEY
        with connection(self.settings) as conn:
            version = data_version(conn, layer)
            cached = self.cache.get(layer.id, version, address, key)
            if cached is not None:
                return TileResult(cached, etag(cached), True, version)
            data = mvt.render(conn, layer, address, view)
        with self._lock:
            self.renders += 1
        self.cache.put(layer.id, version, address, data, key)
        return TileResult(data, etag(data), False, version)


_CURRENT: dict[str, TileService] = {}


def install(service: TileService) -> None:
    """Make ``service`` the one the pygeoapi provider delegates to (the app factory's)."""
    _CURRENT["service"] = service


def current() -> TileService:
    """The installed service; the provider cannot serve tiles before an app is made."""
    try:
        return _CURRENT["service"]
    except KeyError:
        raise NotFound("tiles are not available: no application has been created") from None
