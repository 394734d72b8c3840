"""pygeoapi's tile provider for our layers: tile-set metadata and links, tiles from our core.

pygeoapi builds this provider for ``/collections/{id}/tiles`` and
``/collections/{id}/tiles/{tileMatrixSetId}``; tiles themselves are answered by our own route
(``spatialsvc.web.tiles``, matched first), and :meth:`get_tiles` delegates to the same core
(:class:`spatialsvc.tiles.TileService`) should pygeoapi's route ever be reached.
"""

from __future__ import annotations

from typing import Any

from pygeoapi.models.provider.base import TileMatrixSetEnumType
from pygeoapi.provider.base_mvt import BaseMVTProvider
from pygeoapi.provider.tile import ProviderTileNotFoundError, ProviderTilesetIdNotFoundError

from spatialsvc.errors import InvalidInput, NotFound
from spatialsvc.tiles.matrixsets import MatrixSet, matrix_sets
from spatialsvc.tiles.service import current

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
TILING_SCHEME_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
DIMENSIONS = {"Point": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2, "MultiPolygon": 2}


def scheme(matrix_set: MatrixSet) -> TileMatrixSetEnumType:
    """A matrix set in the shape pygeoapi's tile API expects."""
    document = matrix_set.tms.model_dump(mode="json", exclude_none=True)
    return TileMatrixSetEnumType(
        tileMatrixSet=matrix_set.id,
        tileMatrixSetURI=matrix_set.uri,
        crs=matrix_set.crs_uri,
        title=matrix_set.tms.title or matrix_set.id,
        orderedAxes=matrix_set.ordered_axes,
        wellKnownScaleSet="",
        tileMatrices=document["tileMatrices"],
    )


class PostGISTileProvider(BaseMVTProvider):
    """Mapbox Vector Tiles of one layer, in WebMercatorQuad and CGCS2000Quad."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.layer_id: str = provider_def["data"]["layer"]
        self.options = provider_def.get("options") or {}
        self.options.setdefault("zoom", {"min": 0, "max": 18})
        self.options.setdefault("schemes", list(matrix_sets()))
        self._service_url = ""
        self._service_metadata_url = ""

    def __repr__(self) -> str:
        return f"<PostGISTileProvider> {self.layer_id}"

    def get_layer(self) -> str:
        """The MVT layer name: the layer id."""
        return self.layer_id

    def get_fields(self) -> dict[str, Any]:
        """Tile attributes are the layer's published fields (all text or numbers)."""
        return {}

    def _matrix_sets(self) -> list[MatrixSet]:
        offered = matrix_sets()
        return [offered[name] for name in self.options["schemes"] if name in offered]

    def get_tiling_schemes(self) -> list[TileMatrixSetEnumType]:
        """The matrix sets this layer is tiled in."""
        return [scheme(ms) for ms in self._matrix_sets()]

    def get_tiles_service(
        self,
        baseurl: str | None = None,
        servicepath: str | None = None,
        dirpath: str | None = None,
        tile_type: str | None = None,
    ) -> dict[str, Any]:
        """Links to the tiles (a URI template) for ``/collections/{id}/tiles``."""
        template = (servicepath or "").split("?")[0]
        self._service_url = template
        return {
            "links": [
                {
                    "type": MVT_MEDIA_TYPE,
                    "rel": "item",
                    "title": f"{self.layer_id} vector tiles",
                    "href": template,
                    "templated": True,
                }
            ]
        }

    def get_tiles(
        self,
        layer: str | None = None,
        tileset: str | None = None,
        z: Any = None,
        y: Any = None,
        x: Any = None,
        format_: str | None = None,
    ) -> bytes | None:
        """One tile from our core (None when empty: pygeoapi answers 204)."""
        try:
            result = current().tile(self.layer_id, str(tileset), str(z), str(y), str(x))
        except (NotFound, InvalidInput) as exc:
            raise ProviderTileNotFoundError(exc.message) from exc
        return result.data or None

    def _limits(self, matrix_set: MatrixSet) -> list[dict[str, Any]]:
        """Rows and columns that hold the service's extent, at each zoom of the layer."""
        try:
            west, south, east, north = current().settings.extent
        except NotFound:
            return []
        zooms = range(self.options["zoom"]["min"], self.options["zoom"]["max"] + 1)
        limits = []
        for z in zooms:
            upper_left = matrix_set.tms.tile(west, north, z)
            lower_right = matrix_set.tms.tile(east, south, z)
            limits.append(
                {
                    "tileMatrix": str(z),
                    "minTileRow": upper_left.y,
                    "maxTileRow": lower_right.y,
                    "minTileCol": upper_left.x,
                    "maxTileCol": lower_right.x,
                }
            )
        return limits

    def _matrix_set(self, tileset: str | None) -> MatrixSet:
        for ms in self._matrix_sets():
            if ms.id == tileset:
                return ms
        raise ProviderTilesetIdNotFoundError(f"tile matrix set {tileset!r} is not offered")

    def get_default_metadata(
        self,
        dataset: str,
        server_url: str,
        layer: str,
        tileset: str,
        title: str,
        description: str,
        keywords: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The OGC API - Tiles tileset metadata of one layer in one matrix set."""
        ms = self._matrix_set(tileset)
        base = f"{server_url.rstrip('/')}/collections/{dataset}/tiles/{ms.id}"
        zoom = self.options["zoom"]
        tms_url = f"{server_url.rstrip('/')}/TileMatrixSets/{ms.id}"
        return {
            "title": title,
            "description": description,
            "dataType": "vector",
            "crs": ms.crs_uri,
            "tileMatrixSetURI": ms.uri,
            "tileMatrixSetLimits": self._limits(ms),
            "layers": [
                {
                    "id": self.layer_id,
                    "dataType": "vector",
                    "minTileMatrix": str(zoom["min"]),
                    "maxTileMatrix": str(zoom["max"]),
                }
            ],
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}?f=json"},
                {"rel": TILING_SCHEME_REL, "type": "application/json", "href": tms_url},
                {
                    "rel": "item",
                    "type": MVT_MEDIA_TYPE,
                    "title": f"{self.layer_id} vector tiles in {ms.id}",
                    "href": f"{base}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
                    "templated": True,
                },
            ],
        }

    def get_vendor_metadata(
        self,
        dataset: str,
        server_url: str,
        layer: str,
        tileset: str,
        title: str,
        description: str,
        keywords: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """TileJSON 3.0 (WebMercatorQuad only, as TileJSON assumes)."""
        ms = self._matrix_set(tileset)
        base = f"{server_url.rstrip('/')}/collections/{dataset}/tiles/{ms.id}"
        zoom = self.options["zoom"]
        return {
            "tilejson": "3.0.0",
            "name": title,
            "description": description,
            "scheme": "xyz",
            "tiles": [f"{base}/{{z}}/{{y}}/{{x}}"],
            "minzoom": zoom["min"],
            "maxzoom": zoom["max"],
            "vector_layers": [
                {"id": self.layer_id, "minzoom": zoom["min"], "maxzoom": zoom["max"]}
            ],
        }

    def get_html_metadata(
        self,
        dataset: str,
        server_url: str,
        layer: str,
        tileset: str,
        title: str,
        description: str,
        keywords: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """What pygeoapi's tiles metadata HTML template reads."""
        ms = self._matrix_set(tileset)
        base = f"{server_url.rstrip('/')}/collections/{dataset}/tiles/{ms.id}"
        return {
            "id": dataset,
            "title": title,
            "tileset": ms.id,
            "collections_path": f"{base}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
            "json_url": f"{base}?f=json",
        }
