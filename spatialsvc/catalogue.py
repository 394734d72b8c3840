"""The resource catalogue (政务信息资源目录), kept in step with what is published.

:func:`sync_catalogue` writes one row of ``meta.catalogue_record`` per published layer
(``layers/*.yml``), per layer ingested from a department's file (``meta.dataset``), per basemap
and one for the service itself, and deletes the rows of everything withdrawn.  It is
idempotent: a record whose content did not change keeps its ``updated`` time.

Links are stored with paths relative to the service root (``/collections/road/items``); the
records provider makes them absolute with the URL the service is reached at.

No web imports here: the app factory, ``spatialsvc ingest`` and ``spatialsvc catalogue sync``
all call this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import psycopg2
from psycopg2 import sql

from spatialsvc.errors import SpatialsvcError
from spatialsvc.geo.crs import PUBLISHED_CRS, STORAGE_CRS_URI
from spatialsvc.layers import SHARING_LABELS, Layer
from spatialsvc.settings import Settings

Bbox = tuple[float, float, float, float]
_LOCK = "spatialsvc-catalogue"
WEBMERCATOR_URI = "http://www.opengis.net/def/crs/EPSG/0/3857"
OWNER_CODE = "zrzy-hs"
OWNER_NAME = "宁波市自然资源和规划局海曙分局"
RASTER_BASEMAP_TILES = "/basemaps/raster/tiles/{z}/{x}/{y}.png"
RASTER_BASEMAP_TILEJSON = "/basemaps/raster/tilejson.json"
TERRAIN_COVERAGE = "/collections/terrain_dem"
VECTOR_BASEMAP_STYLE = "/basemaps/vector/style.json"


@dataclass(frozen=True)
class Record:
    """One catalogue record, as stored in ``meta.catalogue_record``."""

    identifier: str
    kind: str
    title: str
    description: str
    keywords: list[str]
    resource_code: str | None
    department_code: str
    department_name: str
    category: str
    sharing: str
    update_cycle: str
    fields: list[dict[str, str]] = field(default_factory=list)
    crs: list[str] = field(default_factory=list)
    extent: Bbox | None = None
    links: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sharing_attribute(self) -> str:
        """无条件共享 / 有条件共享 / 不予共享."""
        return SHARING_LABELS[self.sharing][0]

    @property
    def open_attribute(self) -> str:
        """开放 / 不开放."""
        return SHARING_LABELS[self.sharing][1]

    @property
    def anytext(self) -> str:
        """Everything ``q=`` searches, one line."""
        parts = [
            self.identifier,
            self.title,
            self.description,
            *self.keywords,
            self.resource_code or "",
            self.department_code,
            self.department_name,
            self.category,
            self.sharing_attribute,
            self.open_attribute,
            self.update_cycle,
            *(f["name"] for f in self.fields),
        ]
        return " ".join(p for p in parts if p)


@dataclass
class SyncResult:
    """What one sync did: identifiers inserted, updated, left as they were, deleted."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Records in the catalogue after the sync."""
        return len(self.inserted) + len(self.updated) + len(self.unchanged)

    def summary(self) -> str:
        """One line for a terminal or a log."""
        return (
            f"catalogue: {self.total} records ({len(self.inserted)} new, "
            f"{len(self.updated)} updated, {len(self.deleted)} deleted)"
        )


# --- what the database says about the source tables ---------------------------------------


def _table_fields(cur: Any, tables: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Columns and their types of several ``schema.table`` names, in column order."""
    wanted = sorted(set(tables))
    if not wanted:
        return {}
    cur.execute(
        """
        SELECT table_schema || '.' || table_name, column_name,
               CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END
        FROM information_schema.columns
        WHERE table_schema || '.' || table_name = ANY(%s)
        ORDER BY table_schema, table_name, ordinal_position
        """,
        (wanted,),
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, type_ in cur.fetchall():
        out.setdefault(table, []).append((column, type_))
    return out


def _table_extent(cur: Any, table: str, geometry_column: str) -> Bbox | None:
    """Bounds of a table's geometries in EPSG:4490, or None (no table, no rows)."""
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    if not cur.fetchone()[0]:
        return None
    schema, name = table.split(".")
    query = sql.SQL(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b), srid FROM ("
        " SELECT ST_Extent({g}) AS b, min(ST_SRID({g})) AS srid FROM {t}) AS e"
    ).format(g=sql.Identifier(geometry_column), t=sql.Identifier(schema, name))
    cur.execute("SAVEPOINT catalogue_extent")
    try:
        cur.execute(query)
        row = cur.fetchone()
    except psycopg2.Error:  # no such column, not a geometry: fall back to the default
        cur.execute("ROLLBACK TO SAVEPOINT catalogue_extent")
        return None
    cur.execute("RELEASE SAVEPOINT catalogue_extent")
    if row is None or row[0] is None:
        return None
    minx, miny, maxx, maxy, srid = row
    if srid and int(srid) != 4490:
        cur.execute(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ("
            " SELECT ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, %s), 4490) AS b) AS e",
            (minx, miny, maxx, maxy, int(srid)),
        )
        minx, miny, maxx, maxy = cur.fetchone()
    return (float(minx), float(miny), float(maxx), float(maxy))


# --- the records ---------------------------------------------------------------------------


def _link(href: str, rel: str, type_: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"href": href, "rel": rel, "type": type_, "title": title, **extra}


def layer_links(layer_id: str) -> list[dict[str, Any]]:
    """Endpoints of a published vector layer, relative to the service root."""
    base = f"/collections/{layer_id}"
    return [
        _link(f"{base}/items", "items", "application/geo+json", "要素 (OGC API - Features)"),
        _link(
            f"{base}/tiles",
            "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
            "application/json",
            "矢量瓦片 (OGC API - Tiles)",
        ),
        _link(
            f"{base}/queryables",
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "application/schema+json",
            "可查询属性",
        ),
        _link(f"{base}?f=html", "alternate", "text/html", "网页"),
    ]


def layer_record(
    layer: Layer,
    columns: list[tuple[str, str]],
    extent: Bbox | None,
) -> Record:
    """The record of one published layer; ``columns`` are the table's (name, type)."""
    types = dict(columns)
    return Record(
        identifier=layer.id,
        kind="layer",
        title=layer.title,
        description=layer.description,
        keywords=list(layer.keywords),
        resource_code=layer.resource_code,
        department_code=layer.department.code,
        department_name=layer.department.name,
        category=layer.category,
        sharing=layer.sharing,
        update_cycle=layer.update_cycle,
        fields=[{"name": f, "type": types.get(f, "unknown")} for f in layer.fields],
        crs=list(PUBLISHED_CRS),
        extent=extent,
        links=layer_links(layer.id),
    )


def dataset_record(row: dict[str, Any], columns: list[tuple[str, str]]) -> Record:
    """The record of a layer ingested from a file but not published by a layer file."""
    layer = row["layer"]
    source = PurePath(row["source_file"]).name
    kind = "栅格" if row["kind"] == "raster" else "矢量"
    fields = [{"name": n, "type": t} for n, t in columns if t not in ("geometry", "geography")]
    return Record(
        identifier=layer,
        kind="layer",
        title=layer,
        description=(
            f"{row['department']} 提交的{kind}数据（来源文件 {source}，第 {row['version']} 版），"
            "已入库，尚未发布。"
        ),
        keywords=[layer, row["department"], "入库数据"],
        resource_code=None,
        department_code=row["department"],
        department_name=row["department"],
        category="其他",
        sharing="none",
        update_cycle="不定期",
        fields=fields,
        crs=[STORAGE_CRS_URI],
        extent=row["extent"],
        links=[],
    )


def fixed_records(settings: Settings) -> list[Record]:
    """The two basemaps and the service itself."""
    return [
        Record(
            identifier="basemap_raster",
            kind="basemap",
            title="地形晕渲底图",
            description="覆盖海曙区的地形晕渲栅格底图（云优化 GeoTIFF），以 PNG/WebP 瓦片提供。",
            keywords=["底图", "地形", "晕渲", "栅格"],
            resource_code="330203-ZRZY-BM01",
            category="空间地理",
            sharing="open",
            update_cycle="不定期",
            crs=[WEBMERCATOR_URI],
            extent=settings.extent,
            links=[
                _link(RASTER_BASEMAP_TILES, "item", "image/png", "栅格瓦片", templated=True),
                _link(RASTER_BASEMAP_TILEJSON, "describedby", "application/json", "TileJSON"),
                _link(TERRAIN_COVERAGE, "data", "application/json", "高程 (OGC API - Coverages)"),
            ],
            department_code=OWNER_CODE,
            department_name=OWNER_NAME,
        ),
        Record(
            identifier="basemap_vector",
            kind="basemap",
            title="矢量底图",
            description="行政区划、道路、建筑和兴趣点组成的矢量底图（MapLibre 样式，矢量瓦片）。",
            keywords=["底图", "矢量瓦片", "MapLibre"],
            resource_code="330203-ZRZY-BM02",
            category="空间地理",
            sharing="open",
            update_cycle="每月",
            crs=[WEBMERCATOR_URI, STORAGE_CRS_URI],
            extent=settings.extent,
            links=[
                _link(
                    VECTOR_BASEMAP_STYLE,
                    "describedby",
                    "application/vnd.mapbox.style+json",
                    "MapLibre 样式",
                ),
            ],
            department_code=OWNER_CODE,
            department_name=OWNER_NAME,
        ),
        Record(
            identifier="service_ogcapi",
            kind="service",
            title=settings.title,
            description="空间地理库的 OGC API 服务：要素、瓦片、底图和政务信息资源目录。",
            keywords=["OGC API", "空间地理", "服务"],
            resource_code="330203-ZRZY-SV01",
            category="空间地理",
            sharing="unconditional",
            update_cycle="实时",
            crs=list(PUBLISHED_CRS),
            extent=settings.extent,
            links=[
                _link("/", "service", "application/json", "服务首页"),
                _link(
                    "/openapi?f=json",
                    "service-desc",
                    "application/vnd.oai.openapi+json;version=3.0",
                    "OpenAPI 文档",
                ),
                _link("/conformance", "conformance", "application/json", "符合性声明"),
                _link("/collections", "data", "application/json", "数据集合"),
            ],
            department_code=OWNER_CODE,
            department_name=OWNER_NAME,
        ),
    ]


def _datasets(cur: Any) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT layer, department, kind, version, table_name, source_file,"
        " ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent)"
        " FROM meta.dataset ORDER BY layer"
    )
    rows = []
    for layer, dept, kind, version, table, source, *box in cur.fetchall():
        extent = None if box[0] is None else (box[0], box[1], box[2], box[3])
        rows.append(
            {
                "layer": layer,
                "department": dept,
                "kind": kind,
                "version": version,
                "table_name": table,
                "source_file": source,
                "extent": extent,
            }
        )
    return rows


def build_records(cur: Any, layers: dict[str, Layer], settings: Settings) -> list[Record]:
    """Every record the catalogue should hold now."""
    datasets = [d for d in _datasets(cur) if d["layer"] not in layers]
    tables = [la.table for la in layers.values()]
    tables += [d["table_name"] for d in datasets if d["table_name"]]
    columns = _table_fields(cur, tables)
    extents: dict[tuple[str, str], Bbox | None] = {}
    records = []
    for layer in layers.values():
        key = (layer.table, layer.geometry_column)
        if key not in extents:
            extents[key] = _table_extent(cur, layer.table, layer.geometry_column)
        extent = extents[key] or settings.extent
        records.append(layer_record(layer, columns.get(layer.table, []), extent))
    for row in datasets:
        cols = columns.get(row["table_name"] or "", [])
        records.append(dataset_record(row, cols))
    records.extend(fixed_records(settings))
    return records


# --- writing -------------------------------------------------------------------------------

_COLUMNS = (
    "identifier",
    "kind",
    "title",
    "description",
    "keywords",
    "resource_code",
    "department_code",
    "department_name",
    "category",
    "sharing",
    "sharing_attribute",
    "open_attribute",
    "update_cycle",
    "fields",
    "crs",
    "extent",
    "links",
    "anytext",
)


def _upsert_sql() -> sql.Composed:
    cols = [sql.Identifier(c) for c in _COLUMNS]
    values: list[sql.Composable] = [sql.Placeholder() for _ in _COLUMNS]
    values[_COLUMNS.index("fields")] = sql.SQL("%s::jsonb")
    values[_COLUMNS.index("links")] = sql.SQL("%s::jsonb")
    values[_COLUMNS.index("extent")] = sql.SQL(
        "CASE WHEN %s::float8 IS NULL THEN NULL ELSE ST_MakeEnvelope(%s, %s, %s, %s, 4490) END"
    )
    changing = [c for c in cols if c.string != "identifier"]
    return sql.SQL(
        "INSERT INTO meta.catalogue_record AS r ({cols}, updated) VALUES ({values}, now())"
        " ON CONFLICT (identifier) DO UPDATE SET {sets}, updated = now()"
        " WHERE ({old}) IS DISTINCT FROM ({new})"
        " RETURNING (xmax = 0)"
    ).format(
        cols=sql.SQL(", ").join(cols),
        values=sql.SQL(", ").join(values),
        sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in changing),
        old=sql.SQL(", ").join(sql.SQL("r.{}").format(c) for c in changing),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(c) for c in changing),
    )


def _params(record: Record) -> list[Any]:
    extent: tuple[Any, ...] = record.extent or (None, None, None, None)
    values: dict[str, Any] = {
        "identifier": record.identifier,
        "kind": record.kind,
        "title": record.title,
        "description": record.description,
        "keywords": list(record.keywords),
        "resource_code": record.resource_code,
        "department_code": record.department_code,
        "department_name": record.department_name,
        "category": record.category,
        "sharing": record.sharing,
        "sharing_attribute": record.sharing_attribute,
        "open_attribute": record.open_attribute,
        "update_cycle": record.update_cycle,
        "fields": json.dumps(record.fields, ensure_ascii=False),
        "crs": list(record.crs),
        "links": json.dumps(record.links, ensure_ascii=False),
        "anytext": record.anytext,
    }
    params: list[Any] = []
    for column in _COLUMNS:
        if column == "extent":
            params.extend([extent[0], *extent])
        else:
            params.append(values[column])
    return params


def write_records(cur: Any, records: list[Record]) -> SyncResult:
    """Upsert the records and delete every other one."""
    result = SyncResult()
    upsert = _upsert_sql()
    for record in records:
        cur.execute(upsert, _params(record))
        row = cur.fetchone()
        if row is None:
            result.unchanged.append(record.identifier)
        elif row[0]:
            result.inserted.append(record.identifier)
        else:
            result.updated.append(record.identifier)
    cur.execute(
        "DELETE FROM meta.catalogue_record WHERE identifier <> ALL(%s) RETURNING identifier",
        ([r.identifier for r in records],),
    )
    result.deleted = sorted(r[0] for r in cur.fetchall())
    return result


def register_departments(cur: Any, layers: dict[str, Layer]) -> None:
    """Register the departments that own layers (``auth.department``), so that their keys can
    be made (``spatialsvc auth create-key --department CODE``); existing ones are kept."""
    owners = {layer.department.code: layer.department.name for layer in layers.values()}
    for code, name in sorted(owners.items()):
        cur.execute(
            "INSERT INTO auth.department (code, name) VALUES (%s, %s)"
            " ON CONFLICT (code) DO NOTHING",
            (code, name),
        )


def sync_catalogue(conn: Any, layers: dict[str, Layer], settings: Settings) -> SyncResult:
    """Bring ``meta.catalogue_record`` in step with the layers, ingested data and basemaps,
    and register the layers' owning departments.

    Runs in one transaction on ``conn`` (committed on success, rolled back on failure);
    concurrent syncs wait for each other.
    """
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('meta.catalogue_record') IS NOT NULL")
            if not cur.fetchone()[0]:
                raise SpatialsvcError(
                    "meta.catalogue_record does not exist: run `spatialsvc db migrate`"
                )
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
            register_departments(cur, layers)
            records = build_records(cur, layers, settings)
            return write_records(cur, records)
    except psycopg2.Error as exc:
        code = getattr(exc, "pgcode", None) or type(exc).__name__
        raise SpatialsvcError(
            f"syncing the catalogue failed in the database ({code}); nothing changed"
        ) from exc
