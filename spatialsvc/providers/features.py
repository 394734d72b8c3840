"""pygeoapi feature provider over PostGIS, on the core in :mod:`spatialsvc.features`.

The service answers ``/collections/{id}/items`` itself (:mod:`spatialsvc.web.features`); this
provider is what pygeoapi sees: collection metadata, ``/queryables`` and the OpenAPI document
call :meth:`PostGISFeatureProvider.get_fields`; :meth:`query` and :meth:`get` serve whatever
other pygeoapi path asks for features.

pygeoapi builds providers from its configuration, which holds no database URL: the settings
and layers come from :mod:`spatialsvc.providers.context`, bound by the app factory.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pygeoapi.provider.base import (
    BaseProvider,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)

from spatialsvc.db.cluster import database_url
from spatialsvc.db.pool import connection
from spatialsvc.errors import InvalidInput, NotFound, SpatialsvcError
from spatialsvc.features import cql
from spatialsvc.features import query as fq
from spatialsvc.features.crs import resolve
from spatialsvc.layers import Layer
from spatialsvc.providers import context
from spatialsvc.settings import Settings

LOG = logging.getLogger(__name__)


def _context() -> tuple[Settings, dict[str, Layer]]:
    ctx = context.current()
    return ctx.settings, ctx.layers


def kinds_for(settings: Settings, layer: Layer) -> dict[str, str]:
    """The JSON-schema kinds of a layer's fields (from the database, cached)."""
    with connection(settings) as conn:
        return fq.column_kinds(conn, layer, database_url(settings))


def json_schema(kind: str) -> dict[str, str]:
    """A JSON-schema fragment for a column kind."""
    if kind in ("date", "date-time"):
        return {"type": "string", "format": kind}
    return {"type": kind}


class PostGISFeatureProvider(BaseProvider):
    """A published layer as a pygeoapi feature provider."""

    _fields: dict[str, Any]

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        settings, layers = _context()
        layer_id = provider_def["data"]["layer"]
        if layer_id not in layers:
            raise ProviderQueryError(f"unknown layer {layer_id}")
        self.settings = settings
        self.layer = layers[layer_id]
        self.id_field = self.layer.id_column
        self.geom_field = self.layer.geometry_column
        self.get_fields()

    def get_fields(self) -> dict[str, Any]:
        """The layer's fields with JSON-schema types from the database columns."""
        if not self._fields:
            try:
                kinds = kinds_for(self.settings, self.layer)
            except SpatialsvcError:
                LOG.warning("cannot read column types of %s; using strings", self.layer.id)
                kinds = dict.fromkeys(self.layer.fields, "string")
            self._fields = {name: json_schema(kinds[name]) for name in self.layer.fields}
        return self._fields

    def query(  # noqa: PLR0913 - pygeoapi's signature
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list[float] | None = None,
        datetime_: str | None = None,
        properties: list[tuple[str, str]] | None = None,
        sortby: list[dict[str, str]] | None = None,
        select_properties: list[str] | None = None,
        skip_geometry: bool = False,
        q: str | None = None,
        filterq: Any = None,
        crs_transform_spec: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Features as a GeoJSON FeatureCollection (bbox in CRS84, filters as pygeofilter ASTs)."""
        params: dict[str, str] = {"limit": str(limit), "offset": str(offset)}
        if bbox:
            params["bbox"] = ",".join(str(v) for v in bbox)
        if select_properties:
            params["properties"] = ",".join(select_properties)
        if sortby:
            params["sortby"] = ",".join(
                ("-" if s.get("order") == "-" else "") + s["property"] for s in sortby
            )
        for name, value in properties or []:
            params[name] = str(value)
        if skip_geometry:
            params["skipGeometry"] = "true"
        try:
            kinds = kinds_for(self.settings, self.layer)
            items = fq.parse_items_query(
                params, self.layer, limit, max(limit, self.settings.max_limit), kinds
            )
            with connection(self.settings) as conn:
                page = self._run(conn, items, kinds, filterq)
        except InvalidInput as exc:
            raise ProviderInvalidQueryError(user_msg=exc.message) from exc
        except SpatialsvcError as exc:
            raise ProviderQueryError(user_msg="query failed") from exc
        features = json.loads(page.features_json)
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": page.number_returned,
        }

    def _run(self, conn: Any, items: fq.ItemsQuery, kinds: dict[str, str], filterq: Any) -> Any:
        if filterq is None:
            return fq.fetch_items(conn, items, kinds)
        condition = cql.translate_tree(filterq, kinds, self.layer.geometry_column, resolve(None))
        return fq.fetch_items_where(conn, items, kinds, condition)

    def get(self, identifier: str, **kwargs: Any) -> dict[str, Any]:
        """One feature by id (CRS84)."""
        try:
            kinds = kinds_for(self.settings, self.layer)
            with connection(self.settings) as conn:
                text = fq.fetch_item(conn, self.layer, str(identifier), resolve(None), kinds)
        except NotFound as exc:
            raise ProviderItemNotFoundError(user_msg=exc.message) from exc
        except SpatialsvcError as exc:
            raise ProviderQueryError(user_msg="query failed") from exc
        feature: dict[str, Any] = json.loads(text)
        return feature

    def __repr__(self) -> str:
        return f"<PostGISFeatureProvider {self.layer.id}>"
