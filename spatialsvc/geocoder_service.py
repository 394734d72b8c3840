"""The geocoder as a service: one shared index per process, input checks and output CRSs.

Both the HTTP routes (:mod:`spatialsvc.web.geocode`) and the OGC API - Processes processors
(:mod:`spatialsvc.processes`) go through here, so they check their inputs the same way and
give the same answers. No web framework is imported: errors are :class:`SpatialsvcError`
children that the web layer maps to statuses.

The :class:`addressing.geocode.Geocoder` index (about 2 s and 550 MB on the full demo) is
built once per process and database, on first use, under a lock; it is read-only afterwards
and shared by every thread.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from addressing.result import ROW_FIELDS
from spatialsvc.db.cluster import database_url
from spatialsvc.db.pool import connection
from spatialsvc.errors import InvalidInput
from spatialsvc.features.crs import resolve
from spatialsvc.geo import gcj02
from spatialsvc.geo.crs import PUBLISHED_CRS, STORAGE_CRS_URI, transformer
from spatialsvc.settings import Settings

if TYPE_CHECKING:
    from addressing.geocode import Geocoder

LOG = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_BATCH = 10_000
DEFAULT_RADIUS_M = 50.0
MAX_RADIUS_M = 1000.0
OFFSET_CRS = ("gcj02", "bd09")
_OFFSET_ALIASES = {
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}
BATCH_FIELDS = ("text", *ROW_FIELDS)


# ---------------------------------------------------------------------------------------------
# CRS of coordinates given and returned


@dataclass(frozen=True)
class PointCRS:
    """A CRS a client gives or wants points in: a published EPSG CRS, or GCJ-02 / BD-09."""

    label: str  # the URI of an EPSG CRS, or "gcj02" / "bd09"
    srid: int | None  # None for GCJ-02 / BD-09
    geographic: bool

    @property
    def offset(self) -> str | None:
        """'gcj02' or 'bd09' for the Chinese web-map offsets, else None."""
        return None if self.srid is not None else self.label


def accepted_crs() -> list[str]:
    """Every value ``crs`` accepts (short EPSG forms work too)."""
    return [*PUBLISHED_CRS, *OFFSET_CRS]


def parse_point_crs(text: str | None, parameter: str = "crs") -> PointCRS:
    """A published CRS (URI, EPSG:n, CRS84) or gcj02 / bd09; default EPSG:4490; else 400."""
    if text is None or not text.strip():
        text = STORAGE_CRS_URI
    offset = _OFFSET_ALIASES.get(text.strip().lower())
    if offset is not None:
        return PointCRS(offset, None, True)
    try:
        found = resolve(text, parameter)
    except InvalidInput:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidInput(
            f"{parameter}: unsupported CRS {shown!r}; use one of {', '.join(accepted_crs())}"
            " (or EPSG:n for the EPSG ones)"
        ) from None
    return PointCRS(found.uri, found.srid, found.geographic)


def from_storage(crs: PointCRS, lon: float, lat: float) -> tuple[float, float]:
    """EPSG:4490 lon/lat to x/y (lon/lat or easting/northing) in ``crs``.

    CGCS2000 and WGS 84 coincide at our accuracy, so EPSG:4326/CRS84 and the GCJ-02 / BD-09
    formulas (defined on WGS 84) take the stored numbers as they are.
    """
    if crs.offset is not None:
        x, y = gcj02.convert_coords(_pair(lon, lat), "wgs84", crs.offset)[0]
        return float(x), float(y)
    if crs.srid in (4490, 4326):
        return lon, lat
    x, y = transformer("EPSG:4490", f"EPSG:{crs.srid}").transform(lon, lat)
    return float(x), float(y)


def to_storage(crs: PointCRS, x: float, y: float) -> tuple[float, float]:
    """x/y in ``crs`` to EPSG:4490 lon/lat (GCJ-02 / BD-09 by the iterative inverse)."""
    if crs.offset is not None:
        lon, lat = gcj02.convert_coords(_pair(x, y), crs.offset, "wgs84")[0]
        return float(lon), float(lat)
    if crs.srid in (4490, 4326):
        return x, y
    lon, lat = transformer(f"EPSG:{crs.srid}", "EPSG:4490").transform(x, y)
    return float(lon), float(lat)


def _pair(x: float, y: float) -> Any:
    import numpy as np

    return np.array([[x, y]], dtype=np.float64)


def place_point(item: dict[str, Any], crs: PointCRS) -> None:
    """Replace an answer's EPSG:4490 ``lon``/``lat`` by its coordinates in ``crs``, in place.

    Geographic CRSs keep the keys ``lon``/``lat``; projected ones get ``x`` (easting) and
    ``y`` (northing) instead, so the names never lie about the numbers.
    """
    lon, lat = item.pop("lon", None), item.pop("lat", None)
    keys = ("lon", "lat") if crs.geographic else ("x", "y")
    if lon is None or lat is None:
        item[keys[0]], item[keys[1]] = None, None
        return
    x, y = from_storage(crs, float(lon), float(lat))
    decimals = 7 if crs.geographic else 3
    item[keys[0]], item[keys[1]] = round(x, decimals), round(y, decimals)


# ---------------------------------------------------------------------------------------------
# The shared geocoder


# The tables the index is built from; their data versions (migration 0005: bumped by a trigger
# after every write) tell when the index is out of date.
INDEX_TABLES = ("base.standard_address", "base.grid", "base.admin_division")
RECHECK_SECONDS = 1.0  # how often, at most, the versions are read
_VERSIONS_SQL = (
    "SELECT coalesce(array_agg(table_name || ':' || version ORDER BY table_name), '{}') "
    "FROM meta.layer_version WHERE table_name = ANY(%s)"
)


@dataclass
class _Built:
    geocoder: Geocoder
    versions: tuple[str, ...]
    checked: float  # time.monotonic() of the last version check


class GeocoderHolder:
    """One :class:`Geocoder` per database URL, built on first use and shared by all threads.

    It is rebuilt when the standard addresses, grids or divisions change (their data versions
    are read at most once a second), so an ingest or a reload is picked up without a restart.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[str, _Built] = {}

    @staticmethod
    def _versions(settings: Settings) -> tuple[str, ...]:
        with connection(settings) as conn, conn.cursor() as cur:
            cur.execute(_VERSIONS_SQL, (list(INDEX_TABLES),))
            row = cur.fetchone()
        return tuple(row[0]) if row else ()

    def get(self, settings: Settings) -> Geocoder:
        """The geocoder for the settings' database (built now if needed: about 2 s)."""
        key = database_url(settings)
        found = self._built.get(key)
        now = time.monotonic()
        if found is not None and now - found.checked < RECHECK_SECONDS:
            return found.geocoder
        versions = self._versions(settings)
        if found is not None and found.versions == versions:
            found.checked = now
            return found.geocoder
        with self._lock:
            found = self._built.get(key)
            if found is None or found.versions != versions:
                from addressing.geocode import Geocoder

                LOG.info("building the geocoder's index (data versions %s)", versions)
                with connection(settings) as conn:
                    geocoder = Geocoder(conn)
                _warm_up(geocoder)
                found = _Built(geocoder, versions, time.monotonic())
                self._built[key] = found
            return found.geocoder

    def ready(self, key: str) -> Geocoder | None:
        """The geocoder of a database URL if it is built and its data versions were checked
        within the last RECHECK_SECONDS, else None (then :meth:`get` checks; never blocks)."""
        found = self._built.get(key)
        if found is None or time.monotonic() - found.checked >= RECHECK_SECONDS:
            return None
        return found.geocoder

    def clear(self) -> None:
        """Forget every geocoder."""
        with self._lock:
            self._built.clear()


# Texts that take the parser's slower paths (traditional characters, a misspelt district, a
# township without its county), so that the tables those paths build once per process (pinyin
# and fuzzy name tables, the OpenCC converter: seconds on first use) are built with the index
# and not during some client's request.
WARM_UP = (
    "浙江省寧波市海曙區中山西路1號",
    "宁波海署区鼓楼街道",
    "集士港镇万科金色城市8-10-1604",
    "段塘街道北东路30号1幢1单元302室",
)


def _warm_up(geocoder: Geocoder) -> None:
    for text in WARM_UP:
        geocoder.geocode(text)


HOLDER = GeocoderHolder()


def get_geocoder(settings: Settings) -> Geocoder:
    """The process-wide geocoder for these settings."""
    return HOLDER.get(settings)


# ---------------------------------------------------------------------------------------------
# Geocoding


def check_query(text: Any, parameter: str = "q") -> str:
    """The address text, stripped; missing, empty, non-text or too long is a 400."""
    if text is None:
        raise InvalidInput(f"{parameter}: give the address text to geocode")
    if not isinstance(text, str):
        raise InvalidInput(f"{parameter}: the address must be text")
    text = text.strip()
    if not text:
        raise InvalidInput(f"{parameter}: the address text is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"{parameter}: the address is longer than {MAX_QUERY_CHARS} characters")
    return text


def check_limit(value: Any, parameter: str = "limit") -> int:
    """How many alternatives to return, 0-10 (default 5)."""
    if value is None or value == "":
        return 5
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{parameter}: give a whole number from 0 to 10") from None
    if not 0 <= number <= 10:
        raise InvalidInput(f"{parameter}: give a whole number from 0 to 10")
    return number


def geocode(settings: Settings, text: str, crs: PointCRS, alternatives: int = 5) -> dict[str, Any]:
    """The best match for one (checked) text, with coordinates in ``crs``."""
    answer = get_geocoder(settings).geocode(text).to_dict(alternatives=alternatives)
    return finish(answer, crs)


def ready_geocoder(key: str) -> Geocoder | None:
    """The geocoder of a database URL if it is built and known current, else None (never
    blocks: call :func:`get_geocoder` in a thread then)."""
    return HOLDER.ready(key)


def finish(answer: dict[str, Any], crs: PointCRS) -> dict[str, Any]:
    """An EPSG:4490 answer's coordinates (and its alternatives') put in ``crs``."""
    place_point(answer, crs)
    for alternative in answer.get("alternatives", []):
        place_point(alternative, crs)
    answer["crs"] = crs.label
    return answer


def batch_row(settings: Settings, text: str, crs: PointCRS) -> dict[str, Any]:
    """One row of a batch answer: the text and the best match's flat fields."""
    answer = get_geocoder(settings).geocode(text).to_dict(alternatives=0)
    row = {k: answer.get(k) for k in BATCH_FIELDS}
    place_point(row, crs)
    return row


def batch_texts(inputs: dict[str, Any]) -> list[str]:
    """The address texts of a batch: ``addresses`` (a list) or ``csv`` with ``column``."""
    addresses = inputs.get("addresses")
    table = inputs.get("csv")
    if (addresses is None) == (table is None):
        raise InvalidInput("give either 'addresses' (a list of texts) or 'csv' (CSV text)")
    if addresses is not None:
        if not isinstance(addresses, list):
            raise InvalidInput("addresses: give a list of address texts")
        texts = addresses
    else:
        texts = _csv_column(table, inputs.get("column") or "address")
    if not texts:
        raise InvalidInput("the batch has no addresses")
    if len(texts) > MAX_BATCH:
        raise InvalidInput(
            f"the batch has {len(texts)} addresses; at most {MAX_BATCH} are allowed per job"
        )
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInput(f"addresses[{i}]: the address must be text")
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInput(f"addresses[{i}]: longer than {MAX_QUERY_CHARS} characters")
        out.append(text.strip())
    return out


def _csv_column(table: Any, column: Any) -> list[str]:
    if not isinstance(table, str) or not isinstance(column, str):
        raise InvalidInput("csv: give the CSV text as a string, and column as a string")
    reader = csv.DictReader(io.StringIO(table.lstrip("\ufeff")))
    if reader.fieldnames is None or column not in reader.fieldnames:
        raise InvalidInput(f"csv: no column named {column[:40]!r} in the header")
    try:
        return [row.get(column) or "" for row in reader]
    except csv.Error:
        raise InvalidInput("csv: the text is not valid CSV") from None


PROGRESS_EVERY = 500


def geocode_batch(
    settings: Settings,
    texts: list[str],
    crs: PointCRS,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every text's best match (an empty text gives an empty row).

    ``progress(done, total)`` is called every :data:`PROGRESS_EVERY` addresses.
    """
    rows = []
    for i, text in enumerate(texts, 1):
        if text:
            rows.append(batch_row(settings, text, crs))
        else:
            rows.append({**dict.fromkeys(BATCH_FIELDS), "text": text})
        if progress is not None and i % PROGRESS_EVERY == 0 and i < len(texts):
            progress(i, len(texts))
    return rows


def batch_csv(rows: list[dict[str, Any]]) -> str:
    """A batch answer as CSV text (UTF-8 with a BOM, so that spreadsheets read it)."""
    if not rows:
        return "\ufeff"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()


# ---------------------------------------------------------------------------------------------
# Reverse geocoding


def check_number(value: Any, parameter: str) -> float:
    """A finite number from a query string or JSON value; else a 400."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput(f"{parameter}: required")
    if isinstance(value, bool):
        raise InvalidInput(f"{parameter}: not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{parameter}: not a number") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{parameter}: must be a finite number")
    return number


def check_point(x: Any, y: Any, crs: PointCRS) -> tuple[float, float]:
    """The point in EPSG:4490, checked: numbers, in range for geographic CRSs."""
    first = "lon" if crs.geographic else "x"
    second = "lat" if crs.geographic else "y"
    fx, fy = check_number(x, first), check_number(y, second)
    if crs.geographic and not (-180 <= fx <= 180 and -90 <= fy <= 90):
        raise InvalidInput("lon/lat out of range: lon must be in [-180, 180], lat in [-90, 90]")
    lon, lat = to_storage(crs, fx, fy)
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
        raise InvalidInput(f"{first}/{second}: the point is outside the area of {crs.label}")
    return lon, lat


def check_radius(value: Any) -> float:
    """The search radius in metres: (0, 1000], default 50."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_RADIUS_M
    radius = check_number(value, "radius")
    if not 0 < radius <= MAX_RADIUS_M:
        raise InvalidInput(f"radius: give metres, more than 0 and at most {MAX_RADIUS_M:g}")
    return radius


def reverse(
    settings: Settings, lon: float, lat: float, radius: float, crs: PointCRS
) -> dict[str, Any] | None:
    """The nearest standard address within ``radius`` m of an EPSG:4490 point, or None."""
    from addressing.reverse import reverse as nearest

    with connection(settings) as conn:
        found = nearest(conn, lon, lat, radius)
    if found is None:
        return None
    answer = found.to_dict()
    place_point(answer, crs)
    answer["crs"] = crs.label
    return answer
