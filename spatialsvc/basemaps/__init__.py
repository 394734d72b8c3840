"""Basemaps: the raster terrain basemap (a generated DEM and its hillshade, as COGs)."""
