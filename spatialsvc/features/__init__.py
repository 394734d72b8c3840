"""OGC API - Features core: query parameters to SQL, CQL2 to SQL, CRS and bbox handling.

Knows nothing about the web: the routes (:mod:`spatialsvc.web.features`) and the pygeoapi
provider (:mod:`spatialsvc.providers.features`) both call it.
"""
