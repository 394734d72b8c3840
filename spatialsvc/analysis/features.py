"""Results made of features (nearby entities, density cells): kept in EPSG:4490, given back
as a GeoJSON FeatureCollection or a GeoDataFrame in the caller's CRS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shapely.geometry.base import BaseGeometry

from spatialsvc.analysis.inputs import as_geojson, from_storage
from spatialsvc.geocoder_service import PointCRS

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass
class FeatureSet:
    """Features with EPSG:4490 geometries, to be given in ``crs`` (x/y order)."""

    crs: PointCRS
    ids: list[Any] = field(default_factory=list)
    geometries: list[BaseGeometry] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)

    def add(self, fid: Any, geometry: BaseGeometry, properties: dict[str, Any]) -> None:
        """Append one feature (geometry in EPSG:4490)."""
        self.ids.append(fid)
        self.geometries.append(geometry)
        self.properties.append(properties)

    def __len__(self) -> int:
        return len(self.ids)

    def members(self) -> dict[str, Any]:
        """Foreign members of the FeatureCollection (subclasses add theirs)."""
        return {}

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON FeatureCollection, coordinates in ``crs`` (longitude / easting first)."""
        features = [
            {
                "type": "Feature",
                "id": fid,
                "geometry": as_geojson(from_storage(geom, self.crs), self.crs),
                "properties": props,
            }
            for fid, geom, props in zip(self.ids, self.geometries, self.properties, strict=True)
        ]
        return {
            "type": "FeatureCollection",
            "crs": self.crs.label,
            **self.members(),
            "numberReturned": len(features),
            "features": features,
        }

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """The features as a GeoDataFrame in EPSG:4490 (reproject with ``to_crs``)."""
        import geopandas as gpd

        return gpd.GeoDataFrame(
            self.properties, geometry=list(self.geometries), index=self.ids, crs="EPSG:4490"
        )
