"""The resource catalogue as OGC API - Records: a pygeoapi record provider over PostgreSQL.

pygeoapi 0.21 has no PostgreSQL records provider; this one reads ``meta.catalogue_record``
(written by :mod:`spatialsvc.catalogue`).  Every value is bound as a parameter and every
identifier goes through :mod:`psycopg2.sql`.

pygeoapi builds a provider per request from its configuration file, which holds no database
URL: the settings (the database and the public URL) come from
:mod:`spatialsvc.providers.context`, bound by the app factory.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import psycopg2
from psycopg2 import sql
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)

from spatialsvc.errors import DatabaseUnavailable, SpatialsvcError
from spatialsvc.providers import context
from spatialsvc.settings import Settings

LOG = logging.getLogger(__name__)
TABLE = ("meta", "catalogue_record")
RECORD_CORE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"
THEME_SCHEME = "政务信息资源分类"


# Queryable text columns: filterable by equality (?category=空间地理) and sortable.
TEXT_FIELDS = (
    "identifier",
    "kind",
    "title",
    "description",
    "resource_code",
    "department_code",
    "department_name",
    "category",
    "sharing",
    "sharing_attribute",
    "open_attribute",
    "update_cycle",
)
FIELDS: dict[str, dict[str, Any]] = {
    **{name: {"type": "string"} for name in TEXT_FIELDS},
    "keywords": {"type": "array", "items": {"type": "string"}},
    "updated": {"type": "string", "format": "date-time"},
}
SORTABLE = (*TEXT_FIELDS, "updated")

_SELECT = sql.SQL(
    "SELECT identifier, kind, title, description, keywords, resource_code, department_code,"
    " department_name, category, sharing, sharing_attribute, open_attribute, update_cycle,"
    " fields, crs, links, updated, ST_AsGeoJSON(extent, 7, 0)::json AS geometry FROM {table}"
).format(table=sql.Identifier(*TABLE))

_FORMATS = {
    "layer": [
        {"name": "GeoJSON", "mediaType": "application/geo+json"},
        {"name": "Mapbox Vector Tiles", "mediaType": "application/vnd.mapbox-vector-tile"},
        {"name": "HTML", "mediaType": "text/html"},
    ],
    "basemap": [
        {"name": "PNG", "mediaType": "image/png"},
        {"name": "Mapbox Vector Tiles", "mediaType": "application/vnd.mapbox-vector-tile"},
    ],
    "service": [{"name": "JSON", "mediaType": "application/json"}],
}


def _settings() -> Settings:
    return context.current().settings


def escape_like(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere, with ``%``, ``_`` and ``\\`` taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _parse_instant(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ProviderInvalidQueryError(user_msg="datetime is not an RFC 3339 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Where:
    """The WHERE clause of a catalogue query, built from the request with bound values."""

    def __init__(self) -> None:
        self.parts: list[sql.Composable] = []
        self.params: list[Any] = []

    def add(self, clause: str | sql.Composable, *params: Any) -> None:
        """Add one condition (ANDed with the others)."""
        self.parts.append(sql.SQL(clause) if isinstance(clause, str) else clause)
        self.params.extend(params)

    def q(self, text: str | None) -> None:
        """Every whitespace-separated term must occur in anytext (case-insensitive)."""
        for term in (text or "").split():
            self.add("anytext ILIKE %s", escape_like(term))

    def bbox(self, bbox: list[float] | None) -> None:
        """The record's extent intersects the box (2D or 3D, CRS84 ~ CGCS2000)."""
        if not bbox:
            return
        if len(bbox) == 6:
            bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
        if len(bbox) != 4:
            raise ProviderInvalidQueryError(user_msg="bbox needs 4 or 6 numbers")
        lon1, lat1, lon2, lat2 = bbox
        if not (-180 <= min(lon1, lon2) <= max(lon1, lon2) <= 180) or not (
            -90 <= min(lat1, lat2) <= max(lat1, lat2) <= 90
        ):  # also refuses NaN; 1e308 would reach PostGIS
            raise ProviderInvalidQueryError(
                user_msg="bbox: longitudes in [-180, 180], latitudes in [-90, 90]"
            )
        self.add("ST_Intersects(extent, ST_MakeEnvelope(%s, %s, %s, %s, 4490))", *bbox)

    def datetime(self, value: str | None) -> None:
        """``updated`` at an instant or within an interval (open ends as ``..``)."""
        if not value:
            return
        if "/" not in value:
            self.add("updated = %s", _parse_instant(value))
            return
        start, end = value.split("/", 1)
        if start not in ("", ".."):
            self.add("updated >= %s", _parse_instant(start))
        if end not in ("", ".."):
            self.add("updated <= %s", _parse_instant(end))

    def properties(self, properties: list[tuple[str, Any]] | None) -> None:
        """Equality on text fields; ``keywords`` matches one keyword."""
        for name, value in properties or []:
            if name == "keywords":
                self.add("%s = ANY(keywords)", str(value))
            elif name in TEXT_FIELDS:
                self.add(sql.SQL("{} = %s").format(sql.Identifier(name)), str(value))
            else:
                raise ProviderInvalidQueryError(user_msg=f"cannot filter on {name}")

    def sql(self) -> sql.Composable:
        """``WHERE ...`` or nothing."""
        if not self.parts:
            return sql.SQL("")
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(self.parts)


def _order_by(sortby: list[dict[str, str]] | None) -> sql.Composable:
    keys: list[sql.Composable] = []
    for item in sortby or []:
        name = item.get("property", "")
        if name not in SORTABLE:
            raise ProviderInvalidQueryError(user_msg=f"cannot sort by {name}")
        direction = sql.SQL("DESC" if item.get("order") == "-" else "ASC")
        keys.append(sql.SQL("{} {}").format(sql.Identifier(name), direction))
    keys.append(sql.SQL("identifier ASC"))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)


def _absolute(links: list[dict[str, Any]], base_url: str) -> list[dict[str, Any]]:
    out = []
    for link in links:
        href = str(link.get("href", ""))
        if href.startswith("/"):
            href = base_url + href
        out.append({**link, "href": href})
    return out


def to_record(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One row of ``meta.catalogue_record`` as an OGC API - Records record (GeoJSON)."""
    kind = row["kind"]
    updated = row["updated"].astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    department = {"code": row["department_code"], "name": row["department_name"]}
    properties = {
        "type": "service" if kind == "service" else "dataset",
        "title": row["title"],
        "description": row["description"],
        "keywords": list(row["keywords"] or []),
        "themes": [{"concepts": [{"id": row["category"]}], "scheme": THEME_SCHEME}],
        "contacts": [
            {
                "organization": department["name"],
                "identifier": department["code"],
                "roles": ["publisher"],
            }
        ],
        "formats": _FORMATS.get(kind, []) if row["links"] else [],
        "rights": f"{row['sharing_attribute']}，{row['open_attribute']}",
        "language": {"code": "zh-CN"},
        "updated": updated,
        "kind": kind,
        "resource_code": row["resource_code"],
        "department_code": department["code"],
        "department_name": department["name"],
        "category": row["category"],
        "sharing": row["sharing"],
        "sharing_attribute": row["sharing_attribute"],
        "open_attribute": row["open_attribute"],
        "update_cycle": row["update_cycle"],
        "fields": row["fields"],
        "crs": list(row["crs"] or []),
    }
    return {
        "id": row["identifier"],
        "type": "Feature",
        "conformsTo": [RECORD_CORE],
        "time": {"timestamp": updated},
        "geometry": row["geometry"],
        "properties": properties,
        "links": _absolute(row["links"] or [], base_url),
    }


def _trim(
    record: dict[str, Any], select_properties: list[str] | None, skip_geometry: bool
) -> dict[str, Any]:
    if skip_geometry:
        record["geometry"] = None
    if select_properties:
        keep = set(select_properties)
        record["properties"] = {k: v for k, v in record["properties"].items() if k in keep}
    return record


class CatalogueProvider(BaseProvider):
    """pygeoapi record provider over ``meta.catalogue_record``."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        """Read the provider definition; no database work here."""
        super().__init__(provider_def)
        self.id_field = provider_def.get("id_field", "identifier")
        self.time_field = provider_def.get("time_field", "updated")
        self.title_field = provider_def.get("title_field", "title")
        self._fields = dict(FIELDS)

    def get_fields(self) -> dict[str, Any]:
        """Queryable fields of the records and their JSON types."""
        return dict(FIELDS)

    def _run(self, query: sql.Composable, params: list[Any]) -> list[dict[str, Any]]:
        from psycopg2.extras import RealDictCursor

        from spatialsvc.db.pool import connection

        try:
            with connection(_settings()) as conn, conn.cursor(cursor_factory=RealDictCursor) as cur:
                cur.execute(query, params)
                return [dict(r) for r in cur.fetchall()]
        except DatabaseUnavailable:
            raise  # past pygeoapi (which would make it a 500) to our handler: 503, Retry-After
        except SpatialsvcError as exc:
            raise ProviderConnectionError(user_msg="the catalogue is unavailable") from exc
        except psycopg2.Error as exc:
            LOG.error("catalogue query failed: %s", getattr(exc, "pgcode", type(exc).__name__))
            raise ProviderQueryError(user_msg="the catalogue query failed") from exc

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list[float] | None = None,
        datetime_: str | None = None,
        properties: list[tuple[str, Any]] | None = None,
        sortby: list[dict[str, str]] | None = None,
        select_properties: list[str] | None = None,
        skip_geometry: bool = False,
        q: str | None = None,
        filterq: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Records matching q (every term), bbox, datetime and properties, one page of them."""
        if filterq is not None:
            raise ProviderInvalidQueryError(user_msg="filter is not supported on the catalogue")
        where = Where()
        where.q(q)
        where.bbox(bbox)
        where.datetime(datetime_)
        where.properties(properties)
        count = self._run(
            sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(*TABLE)) + where.sql(),
            where.params,
        )
        matched = int(count[0]["n"])
        result: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": [],
            "numberMatched": matched,
            "numberReturned": 0,
        }
        if resulttype == "hits" or limit <= 0:
            return result
        rows = self._run(
            _SELECT + where.sql() + _order_by(sortby) + sql.SQL(" LIMIT %s OFFSET %s"),
            [*where.params, int(limit), int(offset)],
        )
        base_url = _settings().url
        result["features"] = [
            _trim(to_record(r, base_url), select_properties, skip_geometry) for r in rows
        ]
        result["numberReturned"] = len(rows)
        return result

    def get(self, identifier: str, **kwargs: Any) -> dict[str, Any]:
        """One record by identifier; ProviderItemNotFoundError (404) if there is none."""
        if "\x00" in str(identifier):  # PostgreSQL text cannot hold NUL: psycopg2 refuses it
            raise ProviderItemNotFoundError(user_msg="record not found")
        rows = self._run(_SELECT + sql.SQL(" WHERE identifier = %s"), [str(identifier)])
        if not rows:
            raise ProviderItemNotFoundError(user_msg="record not found")
        return to_record(rows[0], _settings().url)

    def __repr__(self) -> str:
        """Short description for pygeoapi's logs."""
        return "<CatalogueProvider> meta.catalogue_record"
