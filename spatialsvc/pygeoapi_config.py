"""Render pygeoapi's configuration from ``layers/*.yml`` and the settings.

The database URL never goes into the file: our providers take it from the settings when they
are built. ``spatialsvc config render`` writes the result; the checked-in
``pygeoapi-config.yml`` is the rendering for the default settings, and a test keeps it so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from spatialsvc.fileio import write_atomic
from spatialsvc.geo.crs import CRS84_URI, PUBLISHED_CRS, STORAGE_CRS_URI
from spatialsvc.layers import Layer
from spatialsvc.settings import Settings

FEATURES_PROVIDER = "spatialsvc.providers.features.PostGISFeatureProvider"
TILES_PROVIDER = "spatialsvc.providers.tiles.PostGISTileProvider"
RECORDS_PROVIDER = "spatialsvc.providers.records.CatalogueProvider"
CATALOGUE_ID = "catalogue"
JOB_MANAGER = "spatialsvc.processes.manager.JobManager"
# OGC API - Processes: id → processor (spatialsvc.processes.geocode and .analysis).
PROCESSES = {
    "geocode": "spatialsvc.processes.geocode.GeocodeProcessor",
    "reverse-geocode": "spatialsvc.processes.geocode.ReverseGeocodeProcessor",
    "geocode-batch": "spatialsvc.processes.geocode.GeocodeBatchProcessor",
    "zonal-stats": "spatialsvc.processes.analysis.ZonalStatsProcessor",
    "nearby-entities": "spatialsvc.processes.analysis.NearbyEntitiesProcessor",
    "buffer-count": "spatialsvc.processes.analysis.BufferCountProcessor",
    "density": "spatialsvc.processes.analysis.DensityProcessor",
}
TERRAIN_ID = "terrain_dem"
HEADER = (
    "# Rendered by `spatialsvc config render` from layers/*.yml and the settings.\n"
    "# Do not edit: edit the layer files and render again.\n"
)


def _metadata(settings: Settings) -> dict[str, Any]:
    return {
        "identification": {
            "title": settings.title,
            "description": "空间地理库的 OGC API 服务：要素、瓦片、底图和政务信息资源目录。",
            "keywords": ["空间地理", "OGC API", "政务信息资源共享"],
            "keywords_type": "theme",
            "terms_of_service": f"{settings.url}/terms",
            "url": settings.url,
        },
        "license": {"name": "政务信息资源共享管理办法", "url": f"{settings.url}/terms"},
        "provider": {"name": "宁波市自然资源和规划局海曙分局", "url": settings.url},
        "contact": {
            "name": "空间地理库管理员",
            "position": "管理员",
            "address": "海曙区",
            "city": "宁波市",
            "stateorprovince": "浙江省",
            "postalcode": "315000",
            "country": "中国",
            "phone": "0574-00000000",
            "fax": "0574-00000000",
            "email": "gis@example.invalid",
            "url": settings.url,
            "hours": "工作日 9:00-17:00",
            "instructions": "工作时间联系",
            "role": "pointOfContact",
        },
    }


def _extents(settings: Settings) -> dict[str, Any]:
    return {"spatial": {"bbox": list(settings.extent), "crs": CRS84_URI}}


def _thematic_links(layer: Layer, settings: Settings) -> list[dict[str, Any]]:
    """Links to a thematic layer's legend and its styles (spatialsvc.web.legend)."""
    base = f"{settings.url}/collections/{layer.id}"
    links: list[dict[str, Any]] = []
    for i, style in enumerate(layer.thematic):
        style_id = "default" if i == 0 else style.id
        links.append(
            {
                "type": "application/json",
                "rel": "describedby",
                "title": f"图例 legend: {style.title}",
                "href": f"{base}/legend" + ("" if i == 0 else f"?field={style.field}"),
            }
        )
        links.append(
            {
                "type": "application/vnd.mapbox.style+json",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/stylesheet",
                "title": f"MapLibre style: {style.title}",
                "href": f"{base}/styles/{style_id}",
            }
        )
    return links


def layer_resource(layer: Layer, settings: Settings) -> dict[str, Any]:
    """The pygeoapi resource of one layer: a feature provider and a tile provider."""
    return {
        "type": "collection",
        "title": layer.title,
        "description": layer.description,
        "keywords": layer.keywords,
        "links": _thematic_links(layer, settings),
        "extents": _extents(settings),
        "providers": [
            {
                "type": "feature",
                "name": FEATURES_PROVIDER,
                "data": {"table": layer.table, "layer": layer.id},
                "id_field": layer.id_column,
                "geom_field": layer.geometry_column,
                "properties": layer.fields,
                "storage_crs": STORAGE_CRS_URI,
                "crs": list(PUBLISHED_CRS),
            },
            {
                "type": "tile",
                "name": TILES_PROVIDER,
                "data": {"layer": layer.id},
                "options": {
                    "zoom": {"min": layer.minzoom, "max": layer.maxzoom},
                    "schemes": ["WebMercatorQuad", "CGCS2000Quad"],
                },
                "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
            },
        ],
    }


def catalogue_resource(settings: Settings) -> dict[str, Any]:
    """The resource catalogue (政务信息资源目录) as an OGC API - Records collection."""
    return {
        "type": "collection",
        "title": "政务信息资源目录",
        "description": "已发布图层、底图和服务的目录，含共享属性、开放属性和更新周期。",
        "keywords": ["资源目录", "元数据", "政务信息资源"],
        "links": [],
        "extents": _extents(settings),
        "providers": [
            {
                "type": "record",
                "name": RECORDS_PROVIDER,
                "data": {"table": "meta.catalogue_record"},
                "id_field": "identifier",
                "time_field": "updated",
                "title_field": "title",
            }
        ],
    }


WEB_DIR = Path(__file__).resolve().parent / "web"
PROJECT_DIR = Path(__file__).resolve().parent.parent


def terrain_resource(settings: Settings, portable: bool) -> dict[str, Any]:
    """The demo's generated DEM as an OGC API - Coverages collection (pygeoapi's rasterio)."""
    from spatialsvc.basemaps.terrain import terrain_files

    dem = terrain_files(settings.home / "basemaps").dem
    if portable and dem.is_relative_to(PROJECT_DIR):
        dem = dem.relative_to(PROJECT_DIR)
    return {
        "type": "collection",
        "title": "地形高程（示范）",
        "description": "海曙区示范地形高程（生成数据，非测绘成果），约 20 米格网，CGCS2000。",
        "keywords": ["地形", "高程", "DEM", "底图"],
        "links": [],
        "extents": _extents(settings),
        "providers": [
            {
                "type": "coverage",
                "name": "rasterio",
                "data": str(dem),
                "options": {"DATA_ENCODING": "COMPRESSED=YES"},
                "format": {"name": "GTiff", "mimetype": "application/tiff"},
            }
        ],
    }


def process_resources() -> dict[str, Any]:
    """The geocoder's processes, as pygeoapi resources."""
    return {
        pid: {"type": "process", "processor": {"name": name}} for pid, name in PROCESSES.items()
    }


def job_manager(settings: Settings, portable: bool) -> dict[str, Any]:
    """pygeoapi's job manager: ours, on the service's database (no URL in the file)."""
    jobs = settings.home / "jobs"
    if portable and jobs.is_relative_to(PROJECT_DIR):
        jobs = jobs.relative_to(PROJECT_DIR)
    return {"name": JOB_MANAGER, "connection": "spatialsvc", "output_dir": str(jobs)}


def render(settings: Settings, layers: dict[str, Layer], portable: bool = False) -> dict[str, Any]:
    """pygeoapi's configuration as a dict.

    ``portable`` writes the template folders relative to the checkout (for the checked-in
    file); otherwise they are absolute, as the running service needs them.
    """
    resources: dict[str, Any] = {CATALOGUE_ID: catalogue_resource(settings)}
    for layer in layers.values():
        resources[layer.id] = layer_resource(layer, settings)
    resources[TERRAIN_ID] = terrain_resource(settings, portable)
    resources.update(process_resources())
    web = WEB_DIR.relative_to(PROJECT_DIR) if portable else WEB_DIR
    return {
        "server": {
            "bind": {"host": settings.host, "port": settings.port},
            "url": settings.url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["zh-CN", "en-US"],
            "cors": True,
            "pretty_print": False,
            "limits": {
                "default_items": settings.default_limit,
                "max_items": settings.max_limit,
                "on_exceed": "error",
            },
            "map": {
                "url": settings.url + "/basemaps/raster/tiles/{z}/{x}/{y}.png",
                "attribution": "天地图 行政区划 | © OpenStreetMap contributors",
            },
            "templates": {"path": str(web / "templates"), "static": str(web / "static")},
            "manager": job_manager(settings, portable),
        },
        "logging": {"level": "ERROR"},
        "metadata": _metadata(settings),
        "resources": resources,
    }


def to_yaml(config: dict[str, Any]) -> str:
    """The configuration as YAML text, with its header."""
    body = yaml.dump(
        config, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False, width=100
    )
    return HEADER + body


def write(config: dict[str, Any], path: Path) -> None:
    """Write the configuration atomically."""
    write_atomic(path, to_yaml(config).encode("utf-8"))
