"""A Python client for analysts: the service's layers, catalogue and processes in (Geo)DataFrames.

>>> from spatialsvc.client import connect, thematic_map
>>> client = connect("http://127.0.0.1:5000", key="ssk_...")
>>> grid = client.read("grid", crs="EPSG:4549")
>>> thematic_map(grid.assign(km2=grid.area / 1e6), "km2", basemap=client)

It talks HTTP only (httpx) and imports nothing of the server; see docs/client.md.
"""

from spatialsvc.client.client import Client, connect
from spatialsvc.client.errors import (
    BadRequest,
    ClientError,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from spatialsvc.client.maps import Legend, LegendClass, classify, external_urls, thematic_map

__all__ = [
    "BadRequest",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "Forbidden",
    "Legend",
    "LegendClass",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "classify",
    "connect",
    "external_urls",
    "thematic_map",
]
