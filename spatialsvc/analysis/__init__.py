"""Spatial analysis over the population and legal-entity registers, as plain functions.

Each function takes a psycopg2 connection and returns a dataclass (``to_dict()``) or a
:class:`~spatialsvc.analysis.features.FeatureSet` (``to_geojson()``, ``to_geodataframe()``);
no web framework is imported. The OGC API - Processes of the same names are in
:mod:`spatialsvc.processes.analysis`.

- :func:`zonal_stats`: residents (by sex, age band, households) and legal entities (by
  industry section, capital, employees, revenue, tax) inside a polygon;
- :func:`nearby_entities`: entities of one industry within a radius of a point, nearest first;
- :func:`buffer_count`: residents, households and entities within a distance of a geometry;
- :func:`density`: counts on a hexagon or square grid.

Inputs are checked in :mod:`~spatialsvc.analysis.inputs` (bad ones raise
:class:`~spatialsvc.errors.InvalidInput`); small counts are suppressed by
:mod:`~spatialsvc.analysis.suppress` for every caller.
"""

from spatialsvc.analysis.grid import Density, density
from spatialsvc.analysis.nearby import Nearby, nearby_entities
from spatialsvc.analysis.stats import BufferCount, ZonalStats, buffer_count, zonal_stats

__all__ = [
    "BufferCount",
    "Density",
    "Nearby",
    "ZonalStats",
    "buffer_count",
    "density",
    "nearby_entities",
    "zonal_stats",
]
