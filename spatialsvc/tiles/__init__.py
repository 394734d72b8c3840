"""Vector tiles: tile matrix sets, ST_AsMVT rendering, layer data versions and the tile cache.

This core knows nothing about the web or pygeoapi: the routes (``spatialsvc.web.tiles``) and
the pygeoapi provider (``spatialsvc.providers.tiles``) both call :class:`TileService`.
"""

from spatialsvc.tiles.service import TileResult, TileService

__all__ = ["TileResult", "TileService"]
