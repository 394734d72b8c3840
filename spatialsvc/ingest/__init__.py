"""Loading departments' files (vector and raster) into the spatial base library."""
