"""spatialsvc: a city's spatial base library in PostGIS, published as map services."""

__version__ = "0.1.0"
