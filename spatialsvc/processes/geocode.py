"""The geocoder as OGC API - Processes: ``geocode``, ``reverse-geocode``, ``geocode-batch``.

pygeoapi builds a processor for every execution; the work goes through
:mod:`spatialsvc.geocoder_service`, so inputs are checked as the HTTP routes check them and the
index is the one the routes share. A processor raises only
:class:`~pygeoapi.process.base.ProcessorExecuteError` with a message safe to show: pygeoapi
puts the message of whatever a processor raises into its answer and into the job.
"""

from __future__ import annotations

import logging
from typing import Any

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from spatialsvc import geocoder_service as service
from spatialsvc.errors import SpatialsvcError
from spatialsvc.processes.manager import report_progress
from spatialsvc.providers import context
from spatialsvc.settings import Settings

LOG = logging.getLogger(__name__)

_CRS_INPUT = {
    "title": "CRS of the coordinates",
    "description": "A published EPSG CRS (URI or EPSG:n), CRS84, gcj02 or bd09; "
    "default EPSG:4490. Geographic CRSs answer lon/lat, projected ones x/y.",
    "schema": {"type": "string", "default": "http://www.opengis.net/def/crs/EPSG/0/4490"},
    "minOccurs": 0,
    "maxOccurs": 1,
}
_LINKS = [
    {
        "type": "application/json",
        "rel": "about",
        "title": "HTTP API of the geocoder",
        "href": "/geocode",
    }
]

GEOCODE_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "geocode",
    "title": {"zh-CN": "地址匹配", "en-US": "Geocode an address"},
    "description": {
        "zh-CN": "将一条中文地址匹配到标准地址，返回坐标、匹配级别、得分和备选。",
        "en-US": "The best standard address for one Chinese address text, with its coordinates, "
        "match level, score, division and grid codes, and alternatives.",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "keywords": ["地址匹配", "geocoding", "address"],
    "links": _LINKS,
    "inputs": {
        "address": {
            "title": "Address text",
            "description": f"At most {service.MAX_QUERY_CHARS} characters.",
            "schema": {"type": "string", "maxLength": service.MAX_QUERY_CHARS},
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "crs": _CRS_INPUT,
    },
    "outputs": {
        "result": {
            "title": "Best match",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {"inputs": {"address": "海曙区鼓楼街道中山西路1号"}},
}

REVERSE_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "reverse-geocode",
    "title": {"zh-CN": "逆地址匹配", "en-US": "Reverse geocode a point"},
    "description": {
        "zh-CN": "查找离某点最近的标准地址（限定半径内），返回行政区划层级和网格编码。",
        "en-US": "The standard address nearest a point within a radius, with its county, "
        "township, community and grid; null when none is that close.",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "keywords": ["逆地址匹配", "reverse geocoding"],
    "links": _LINKS,
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
        "radius": {
            "title": "Search radius in metres",
            "schema": {
                "type": "number",
                "default": service.DEFAULT_RADIUS_M,
                "exclusiveMinimum": 0,
                "maximum": service.MAX_RADIUS_M,
            },
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "crs": _CRS_INPUT,
    },
    "outputs": {
        "result": {
            "title": "The nearest standard address in 'result' (null when none is that close)",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {"inputs": {"lon": 121.5497, "lat": 29.8738, "radius": 100}},
}

BATCH_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "geocode-batch",
    "title": {"zh-CN": "批量地址匹配", "en-US": "Geocode a batch of addresses"},
    "description": {
        "zh-CN": f"批量匹配地址（每个作业最多 {service.MAX_BATCH} 条），可异步执行并下载结果。",
        "en-US": f"Geocode up to {service.MAX_BATCH} addresses, given as a list or as CSV text "
        "with an address column. Run it asynchronously (Prefer: respond-async) and download "
        "the result from /jobs/{jobId}/results.",
    },
    "jobControlOptions": ["sync-execute", "async-execute"],
    "keywords": ["批量地址匹配", "geocoding", "batch"],
    "links": _LINKS,
    "inputs": {
        "addresses": {
            "title": "Address texts",
            "schema": {
                "type": "array",
                "items": {"type": "string", "maxLength": service.MAX_QUERY_CHARS},
                "maxItems": service.MAX_BATCH,
            },
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "csv": {
            "title": "CSV text with a header (instead of addresses)",
            "schema": {"type": "string", "contentMediaType": "text/csv"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "column": {
            "title": "Address column of the CSV text",
            "schema": {"type": "string", "default": "address"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "format": {
            "title": "Result format",
            "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "crs": _CRS_INPUT,
    },
    "outputs": {
        "result": {
            "title": "One row per address, in input order",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {
        "inputs": {"addresses": ["海曙区鼓楼街道中山西路1号", "集士港镇万科金色城市8-10-1604"]}
    },
}


def _settings() -> Settings:
    return context.current().settings


def checked_inputs(data: Any, known: dict[str, Any]) -> dict[str, Any]:
    """The execute request's inputs, refused unless a JSON object of known names (every process)."""
    if not isinstance(data, dict):
        raise ProcessorExecuteError("inputs: give a JSON object")
    unknown = sorted(set(data) - set(known))
    if unknown:
        shown = ", ".join(str(u)[:40] for u in unknown[:5])
        raise ProcessorExecuteError(f"unknown inputs: {shown}; use {', '.join(known)}")
    return data


class _GeocoderProcessor(BaseProcessor):
    """Shared execution: checked inputs, safe messages, JSON out."""

    METADATA: dict[str, Any] = {}

    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def, self.METADATA)

    def execute(self, data: dict[str, Any], outputs: Any = None) -> tuple[str, Any]:
        """Run the process; bad inputs and failures become ProcessorExecuteError."""
        inputs = checked_inputs(data, self.METADATA["inputs"])
        try:
            return self.run(inputs)
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

    def run(self, inputs: dict[str, Any]) -> tuple[str, Any]:
        """The process itself, on checked inputs."""
        raise NotImplementedError


class GeocodeProcessor(_GeocoderProcessor):
    """``geocode``: one address text to its best standard address."""

    METADATA = GEOCODE_METADATA

    def run(self, inputs: dict[str, Any]) -> tuple[str, Any]:
        """Geocode ``address``."""
        text = service.check_query(inputs.get("address"), "address")
        crs = service.parse_point_crs(inputs.get("crs"))
        return "application/json", service.geocode(_settings(), text, crs)


class ReverseGeocodeProcessor(_GeocoderProcessor):
    """``reverse-geocode``: a point to the nearest standard address within a radius."""

    METADATA = REVERSE_METADATA

    def run(self, inputs: dict[str, Any]) -> tuple[str, Any]:
        """The nearest standard address to (``lon``, ``lat``), or null."""
        crs = service.parse_point_crs(inputs.get("crs"))
        lon, lat = service.check_point(inputs.get("lon"), inputs.get("lat"), crs)
        radius = service.check_radius(inputs.get("radius"))
        answer = service.reverse(_settings(), lon, lat, radius, crs)
        return "application/json", {"result": answer}


class GeocodeBatchProcessor(_GeocoderProcessor):
    """``geocode-batch``: many addresses, JSON rows or CSV text."""

    METADATA = BATCH_METADATA

    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def)
        self.job_id: str | None = None

    def set_job_id(self, job_id: str) -> None:
        """The job this execution belongs to (its progress is recorded as rows are done)."""
        self.job_id = job_id

    def _progress(self, done: int, total: int) -> None:
        if self.job_id is None:
            return
        try:
            report_progress(self.job_id, done, total)
        except Exception:  # progress is a courtesy: never fail the batch over it
            LOG.warning("cannot record the progress of job %s", self.job_id, exc_info=True)

    def run(self, inputs: dict[str, Any]) -> tuple[str, Any]:
        """Geocode every address of ``addresses`` or of the ``csv`` text's ``column``."""
        fmt = inputs.get("format") or "json"
        if fmt not in ("json", "csv"):
            raise ProcessorExecuteError("format: use json or csv")
        crs = service.parse_point_crs(inputs.get("crs"))
        texts = service.batch_texts(inputs)
        rows = service.geocode_batch(_settings(), texts, crs, self._progress)
        if fmt == "csv":
            return "text/csv; charset=utf-8", service.batch_csv(rows).encode("utf-8")
        matched = sum(1 for r in rows if r.get("address_id"))
        return "application/json", {
            "crs": crs.label,
            "count": len(rows),
            "matched": matched,
            "results": rows,
        }
