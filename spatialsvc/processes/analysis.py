"""Spatial analysis as OGC API - Processes: ``zonal-stats``, ``nearby-entities``,
``buffer-count`` and ``density``.

Each processor checks nothing itself: it hands the inputs to :mod:`spatialsvc.analysis` on a
pooled connection, so the Python functions and the processes give the same answers and refuse
the same inputs. As in :mod:`spatialsvc.processes.geocode`, a processor raises only
:class:`~pygeoapi.process.base.ProcessorExecuteError` with a message safe to show (pygeoapi
answers it with a 400 and records it in an asynchronous job).

Access (spatialsvc.web.access): zonal-stats, buffer-count and density follow the pseudo-resource
``analysis`` (any signed-in department); nearby-entities follows the layer ``legal_entity``.
"""

from __future__ import annotations

import logging
from typing import Any

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from spatialsvc import analysis
from spatialsvc.analysis import grid
from spatialsvc.analysis import inputs as limits
from spatialsvc.db.pool import connection
from spatialsvc.errors import SpatialsvcError
from spatialsvc.processes.geocode import checked_inputs
from spatialsvc.providers import context

LOG = logging.getLogger(__name__)

_CRS_INPUT: dict[str, Any] = {
    "title": "CRS of the coordinates given (and of the geometries returned)",
    "description": "A published EPSG CRS (URI or EPSG:n), CRS84, gcj02 or bd09; default "
    "EPSG:4490. Coordinates are always longitude / easting first.",
    "schema": {"type": "string", "default": "http://www.opengis.net/def/crs/EPSG/0/4490"},
    "minOccurs": 0,
    "maxOccurs": 1,
}
_RADIUS_INPUT: dict[str, Any] = {
    "title": "Radius in metres (on the ellipsoid)",
    "schema": {
        "type": "number",
        "minimum": limits.MIN_RADIUS_M,
        "maximum": limits.MAX_RADIUS_M,
    },
    "minOccurs": 0,
    "maxOccurs": 1,
}
_GEOMETRY_SCHEMA = {
    "type": "object",
    "contentMediaType": "application/geo+json",
    "description": "A GeoJSON geometry (or a Feature holding one)",
}
_SUPPRESSION = (
    " Counts of persons or households from 1 to 4 are null and named in 'suppressed'; sums "
    "of money and employees over 1 to 4 entities likewise."
)
EXAMPLE_POLYGON = {
    "type": "Polygon",
    "coordinates": [
        [[121.50, 29.87], [121.52, 29.87], [121.52, 29.885], [121.50, 29.885], [121.50, 29.87]]
    ],
}

ZONAL_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "zonal-stats",
    "title": {"zh-CN": "区域统计", "en-US": "Indicators inside a polygon"},
    "description": {
        "zh-CN": "统计所绘多边形内的常住人口（性别、年龄段、户数）和法人（行业门类、注册资本、"
        "从业人员、营业收入、税收）。小于 5 的人数不公开。",
        "en-US": "Residents (total, by sex, age bands 0-14 / 15-59 / 60+, households) and "
        "legal entities (total, by industry section, registered capital, employees, revenue, "
        f"tax; money in 10,000 yuan) inside a polygon, with its area in km².{_SUPPRESSION}",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "keywords": ["区域统计", "zonal statistics", "人口", "法人"],
    "links": [],
    "inputs": {
        "geometry": {
            "title": "Polygon or MultiPolygon",
            "description": f"At most {limits.MAX_AREA_KM2:,.0f} km² and "
            f"{limits.MAX_VERTICES:,} vertices; valid (no self-intersection), rings closed.",
            "schema": _GEOMETRY_SCHEMA,
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "crs": _CRS_INPUT,
    },
    "outputs": {
        "result": {
            "title": "area_km2, residents, entities, suppressed",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {"inputs": {"geometry": EXAMPLE_POLYGON}},
}

NEARBY_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "nearby-entities",
    "title": {"zh-CN": "周边同行业法人", "en-US": "Entities of an industry near a point"},
    "description": {
        "zh-CN": "查询某点一定半径内同一行业（门类或大类）的法人，按距离由近到远排列。",
        "en-US": "Legal entities of one industry (a section letter A-T or a 2-digit division "
        "such as C13) within a radius of a point, nearest first, with the distance in metres.",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "keywords": ["周边查询", "法人", "nearby", "industry"],
    "links": [],
    "inputs": {
        "lon": {
            "title": "Longitude or easting",
            "schema": {"type": "number"},
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "lat": {
            "title": "Latitude or northing",
            "schema": {"type": "number"},
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "industry": {
            "title": "Industry code (GB/T 4754-2017): a section A-T or a division like C13",
            "schema": {"type": "string", "pattern": "^[A-Ta-t]([0-9]{2})?$"},
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "radius": {**_RADIUS_INPUT, "schema": {**_RADIUS_INPUT["schema"], "default": 1000}},
        "limit": {
            "title": "At most this many entities",
            "schema": {"type": "integer", "minimum": 1, "maximum": limits.MAX_LIMIT, "default": 20},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "crs": _CRS_INPUT,
    },
    "outputs": {
        "result": {
            "title": "A FeatureCollection of points: entity_id, uscc, name, industry_code, "
            "industry_name, distance_m",
            "schema": {"type": "object", "contentMediaType": "application/geo+json"},
        }
    },
    "example": {"inputs": {"lon": 121.51, "lat": 29.875, "industry": "C", "radius": 1000}},
}

BUFFER_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "buffer-count",
    "title": {"zh-CN": "缓冲区计数", "en-US": "Counts within a distance"},
    "description": {
        "zh-CN": "统计点、线或面周边一定距离内的常住人口、户数和法人数。小于 5 的人数不公开。",
        "en-US": "Residents, households and legal entities within a distance of a point, "
        f"line or polygon (distances on the ellipsoid).{_SUPPRESSION}",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "keywords": ["缓冲区", "buffer", "人口", "法人"],
    "links": [],
    "inputs": {
        "geometry": {
            "title": "Point, LineString, Polygon or their Multi forms",
            "schema": _GEOMETRY_SCHEMA,
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "radius": {**_RADIUS_INPUT, "schema": {**_RADIUS_INPUT["schema"], "default": 500}},
        "crs": _CRS_INPUT,
    },
    "outputs": {
        "result": {
            "title": "radius_m, residents, households, entities, suppressed",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {
        "inputs": {"geometry": {"type": "Point", "coordinates": [121.51, 29.875]}, "radius": 500}
    },
}

DENSITY_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "density",
    "title": {"zh-CN": "格网密度", "en-US": "Counts on a hexagon or square grid"},
    "description": {
        "zh-CN": "按六边形或正方形格网统计常住人口或法人数量。小于 5 的人数不公开。",
        "en-US": "Residents or legal entities counted per cell of a hexagon or square grid "
        "laid in EPSG:4549 (metres) over a bbox or a polygon. Counts of residents from 1 to 4 "
        "are null and the cell's 'suppressed' lists 'count'.",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "keywords": ["密度", "格网", "density", "hexagon"],
    "links": [],
    "inputs": {
        "cell": {
            "title": "Cell shape",
            "schema": {"type": "string", "enum": list(grid.CELLS), "default": "hex"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "size": {
            "title": "Side of a square or edge of a hexagon, in metres",
            "schema": {
                "type": "number",
                "minimum": grid.MIN_SIZE_M,
                "maximum": grid.MAX_SIZE_M,
                "default": 500,
            },
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "bbox": {
            "title": "Area as a box: minx, miny, maxx, maxy (x/y order, in crs)",
            "schema": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "geometry": {
            "title": "Area as a Polygon or MultiPolygon (instead of bbox)",
            "schema": _GEOMETRY_SCHEMA,
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "of": {
            "title": "What to count",
            "schema": {"type": "string", "enum": list(grid.OF), "default": "residents"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "crs": _CRS_INPUT,
    },
    "outputs": {
        "result": {
            "title": f"A FeatureCollection of at most {grid.MAX_CELLS:,} cells: "
            "i, j, count, suppressed",
            "schema": {"type": "object", "contentMediaType": "application/geo+json"},
        }
    },
    "example": {"inputs": {"cell": "hex", "size": 500, "bbox": [121.48, 29.85, 121.56, 29.90]}},
}


class _AnalysisProcessor(BaseProcessor):
    """Shared execution: a pooled connection, safe messages, JSON out."""

    METADATA: dict[str, Any] = {}

    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def, self.METADATA)

    def execute(self, data: dict[str, Any], outputs: Any = None) -> tuple[str, Any]:
        """Run the process; bad inputs and failures become ProcessorExecuteError."""
        inputs = checked_inputs(data, self.METADATA["inputs"])
        try:
            with connection(context.current().settings) as conn:
                return "application/json", self.run(conn, inputs)
        except SpatialsvcError as exc:
            if exc.status_code >= 500:
                LOG.error("%s failed: %s", self.METADATA["id"], exc.message)
                raise ProcessorExecuteError("internal error") from None
            raise ProcessorExecuteError(exc.message) from None
        except ProcessorExecuteError:
            raise
        except Exception:
            LOG.exception("%s failed", self.METADATA["id"])
            raise ProcessorExecuteError("internal error") from None

    def run(self, conn: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """The process itself, on a connection."""
        raise NotImplementedError


def _given(inputs: dict[str, Any], name: str, default: Any) -> Any:
    value = inputs.get(name)
    return default if value is None else value


class ZonalStatsProcessor(_AnalysisProcessor):
    """``zonal-stats``: residents and legal entities inside a polygon."""

    METADATA = ZONAL_METADATA

    def run(self, conn: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """The indicators inside ``geometry``."""
        return analysis.zonal_stats(conn, inputs.get("geometry"), inputs.get("crs")).to_dict()


class NearbyEntitiesProcessor(_AnalysisProcessor):
    """``nearby-entities``: entities of an industry near a point, nearest first."""

    METADATA = NEARBY_METADATA

    def run(self, conn: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """The entities of ``industry`` within ``radius`` of (``lon``, ``lat``)."""
        found = analysis.nearby_entities(
            conn,
            inputs.get("lon"),
            inputs.get("lat"),
            inputs.get("crs"),
            radius_m=_given(inputs, "radius", 1000),
            industry=inputs.get("industry"),
            limit=_given(inputs, "limit", 20),
        )
        return found.to_geojson()


class BufferCountProcessor(_AnalysisProcessor):
    """``buffer-count``: residents, households and entities within a distance."""

    METADATA = BUFFER_METADATA

    def run(self, conn: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """The counts within ``radius`` of ``geometry``."""
        counted = analysis.buffer_count(
            conn, inputs.get("geometry"), inputs.get("crs"), _given(inputs, "radius", 500)
        )
        return counted.to_dict()


class DensityProcessor(_AnalysisProcessor):
    """``density``: counts on a hexagon or square grid."""

    METADATA = DENSITY_METADATA

    def run(self, conn: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        """The cells over ``bbox`` or ``geometry`` with their counts."""
        cells = analysis.density(
            conn,
            cell=_given(inputs, "cell", "hex"),
            size_m=_given(inputs, "size", 500),
            bbox=inputs.get("bbox"),
            polygon=inputs.get("geometry"),
            of=_given(inputs, "of", "residents"),
            crs=inputs.get("crs"),
        )
        return cells.to_geojson()
