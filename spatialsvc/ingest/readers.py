"""Finding out what a file is and reading vector files into a GeoDataFrame.

Every failure of GDAL, pyogrio or pandas becomes a one-line :class:`SpatialsvcError`.
"""

from __future__ import annotations

import re
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatialsvc.errors import (
    CRSError,
    EncodingError,
    InvalidInput,
    SpatialsvcError,
    UnsupportedFormat,
)
from spatialsvc.geo.crs import ParsedCRS, crs_label
from spatialsvc.ingest.report import Report

if TYPE_CHECKING:
    import geopandas as gpd

EXTENSIONS = {
    ".shp": "shapefile",
    ".zip": "shapefile",
    ".gpkg": "geopackage",
    ".geojson": "geojson",
    ".json": "geojson",
    ".csv": "csv",
    ".tif": "geotiff",
    ".tiff": "geotiff",
}
LON_NAMES = ("lon", "lng", "long", "longitude", "经度")
LAT_NAMES = ("lat", "latitude", "纬度")
X_NAMES = ("x",)
Y_NAMES = ("y",)
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


@dataclass(frozen=True)
class Source:
    """A file to ingest: what the user named, and what format it is."""

    path: Path
    format: str

    @property
    def name(self) -> str:
        """The file's name as the user gave it, for messages."""
        return self.path.name or str(self.path)


def one_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's text, without GDAL's long driver hints."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.split("; It might help")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def detect(path: Path) -> Source:
    """Find the format of ``path`` (file, folder with one .shp, or zip); reject empty files."""
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    if path.is_dir():
        shps = sorted(path.glob("*.shp"))
        if len(shps) != 1:
            raise UnsupportedFormat(
                f"folder {path.name} must hold exactly one .shp (found {len(shps)})"
            )
        return Source(path, "shapefile")
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path.name} is empty (0 bytes)")
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise UnsupportedFormat(
            f"{path.name}: unsupported format '{path.suffix}' "
            "(use .shp, .zip, .gpkg, .geojson, .json, .csv, .tif)"
        )
    return Source(path, fmt)


def _safe_extract_shapefile(archive: Path, dest: Path) -> Path:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            shps = [m for m in members if m.filename.lower().endswith(".shp")]
            if len(shps) != 1:
                raise UnsupportedFormat(
                    f"{archive.name} must hold exactly one .shp (found {len(shps)})"
                )
            stem = shps[0].filename[:-4]
            for member in members:
                base, dot, ext = member.filename.rpartition(".")
                if base == stem and f".{ext.lower()}" in SHAPEFILE_PARTS and dot:
                    target = dest / ("layer." + ext.lower())
                    target.write_bytes(zf.read(member))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InvalidInput(f"{archive.name} is not a readable zip ({one_line(exc)})") from exc
    return dest / "layer.shp"


@contextmanager
def shapefile_path(source: Source) -> Iterator[Path]:
    """The .shp to read: the file itself, the one in the folder, or extracted from the zip."""
    if source.path.is_dir():
        yield next(source.path.glob("*.shp"))
    elif source.path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="spatialsvc-zip-") as tmp:
            yield _safe_extract_shapefile(source.path, Path(tmp))
    else:
        yield source.path


def check_shp(shp: Path, label: str) -> None:
    """Reject a .shp whose length differs from its header's (a truncated or corrupt file)."""
    try:
        data = shp.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {label}: {one_line(exc)}") from exc
    if len(data) < 100:
        raise InvalidInput(f"{label} is truncated or corrupt (.shp shorter than its header)")
    code, length = struct.unpack(">i", data[0:4])[0], struct.unpack(">i", data[24:28])[0]
    if code != 9994:
        raise InvalidInput(f"{label} is not a shapefile (bad .shp header)")
    if length * 2 != len(data):
        raise InvalidInput(
            f"{label} is truncated or corrupt (.shp is {len(data):,} bytes, "
            f"header says {length * 2:,})"
        )
    for ext in (".shx", ".dbf"):
        if not shp.with_suffix(ext).exists() and not shp.with_suffix(ext.upper()).exists():
            raise InvalidInput(f"{label} has no {ext} file beside the .shp")


def _cpg(shp: Path) -> str | None:
    for ext in (".cpg", ".CPG"):
        cpg = shp.with_suffix(ext)
        if cpg.exists():
            text = cpg.read_text(encoding="ascii", errors="replace").strip()
            return text or None
    return None


def _pyogrio_errors() -> tuple[type[BaseException], ...]:
    import pyogrio.errors as pe

    return (
        pe.DataSourceError,
        pe.DataLayerError,
        pe.FieldError,
        pe.GeometryError,
        pe.CRSError,
        pe.FeatureError,
        OSError,
        ValueError,
        RuntimeError,
    )


def _ldid_encoding(shp: Path) -> str | None:
    """The encoding the .dbf's language driver byte declares, if any (GDAL's reading)."""
    import pyogrio

    try:
        enc = pyogrio.read_info(shp).get("encoding")
    except Exception:  # the real read reports the problem
        return None
    return None if enc in (None, "", "ISO-8859-1") else str(enc)


def _read_ogr(
    path: Path, label: str, encoding: str | None, declared: str | None = None
) -> gpd.GeoDataFrame:
    import pyogrio

    kwargs: dict[str, Any] = {}
    if encoding:
        kwargs["encoding"] = encoding
    try:
        layers = pyogrio.list_layers(path)
        if len(layers) == 0:
            raise InvalidInput(f"{label} holds no layer")
        kwargs["layer"] = str(layers[0][0])
        return pyogrio.read_dataframe(path, **kwargs)
    except UnicodeDecodeError as exc:
        used = encoding or declared or "UTF-8"
        raise EncodingError(
            f"attribute text in {label} is not valid {used}; pass --encoding GBK (or the "
            "right encoding)"
        ) from exc
    except LookupError as exc:
        raise EncodingError(f"unknown encoding {encoding!r}") from exc
    except SpatialsvcError:
        raise
    except _pyogrio_errors() as exc:
        raise InvalidInput(f"cannot read {label}: {one_line(exc)}") from exc


def read_shapefile(
    source: Source, encoding: str | None, report: Report
) -> tuple[gpd.GeoDataFrame, bool]:
    """Read a shapefile (file, folder or zip); return the frame and whether it had a CRS."""
    with shapefile_path(source) as shp:
        check_shp(shp, source.name)
        cpg = _cpg(shp)
        read_enc: str | None = encoding
        if encoding:
            used = encoding
        elif cpg:
            used = cpg  # GDAL honours the .cpg and recodes to UTF-8
        else:
            declared = _ldid_encoding(shp)
            if declared:
                used = declared
            else:
                used = read_enc = "UTF-8"
                report.notes.append("no .cpg: attribute text assumed UTF-8")
        gdf = _read_ogr(shp, source.name, read_enc, declared=used)
        has_crs = gdf.crs is not None
    report.encoding = used
    return gdf, has_crs


def read_ogr_file(source: Source, encoding: str | None, report: Report) -> gpd.GeoDataFrame:
    """Read a GeoPackage or GeoJSON file (UTF-8 unless ``encoding`` says otherwise)."""
    gdf = _read_ogr(source.path, source.name, encoding)
    report.encoding = encoding or "UTF-8"
    return gdf


def _find_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    for col in columns:
        if str(col).strip().lower() in names:
            return col
    return None


def read_csv(
    source: Source,
    encoding: str | None,
    x_column: str | None,
    y_column: str | None,
    source_crs: ParsedCRS | None,
    report: Report,
) -> tuple[gpd.GeoDataFrame, ParsedCRS]:
    """Read a CSV with coordinate columns into points; return the frame and its CRS."""
    import geopandas as gpd
    import pandas as pd

    used = encoding or "utf-8-sig"
    try:
        df = pd.read_csv(source.path, encoding=used, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"text in {source.name} is not valid {encoding or 'UTF-8'}; pass --encoding GBK "
            "(or the right encoding)"
        ) from exc
    except LookupError as exc:
        raise EncodingError(f"unknown encoding {encoding!r}") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise InvalidInput(f"cannot read {source.name}: {one_line(exc)}") from exc
    report.encoding = "UTF-8" if used == "utf-8-sig" else used
    cols = [str(c) for c in df.columns]
    lonlat = False
    xcol: str | None
    ycol: str | None
    if x_column or y_column:
        if not (x_column and y_column):
            raise InvalidInput("give both --x-column and --y-column")
        for col in (x_column, y_column):
            if col not in cols:
                raise InvalidInput(f"{source.name} has no column {col!r}")
        xcol, ycol = x_column, y_column
    else:
        xcol, ycol = _find_column(cols, LON_NAMES), _find_column(cols, LAT_NAMES)
        lonlat = xcol is not None and ycol is not None
        if not lonlat:
            xcol, ycol = _find_column(cols, X_NAMES), _find_column(cols, Y_NAMES)
        if xcol is None or ycol is None:
            raise InvalidInput(
                f"{source.name} has no coordinate columns (lon/lat, 经度/纬度 or x/y); "
                "pass --x-column and --y-column"
            )
    if source_crs is None:
        if not lonlat:
            raise CRSError(f"no CRS for {source.name}; pass --source-crs")
        source_crs = _default_crs()
        report.notes.append(f"columns {xcol}/{ycol} look like lon/lat: assumed EPSG:4490")
    x = pd.to_numeric(df[xcol].str.strip(), errors="coerce")
    y = pd.to_numeric(df[ycol].str.strip(), errors="coerce")
    attrs = df.drop(columns=[xcol, ycol])
    geometry = gpd.points_from_xy(x, y)
    bad = x.isna() | y.isna()
    geometry[bad.to_numpy()] = None
    gdf = gpd.GeoDataFrame(attrs, geometry=geometry)
    report.notes.append(f"coordinates from columns {xcol!r}, {ycol!r}")
    return gdf, source_crs


def _default_crs() -> ParsedCRS:
    import pyproj

    return pyproj.CRS.from_epsg(4490)


def read_vector(
    source: Source,
    encoding: str | None,
    source_crs: ParsedCRS | None,
    x_column: str | None,
    y_column: str | None,
    report: Report,
) -> tuple[gpd.GeoDataFrame, ParsedCRS]:
    """Read any supported vector file; return the frame and the CRS its coordinates are in."""
    if source.format == "csv":
        gdf, crs = read_csv(source, encoding, x_column, y_column, source_crs, report)
    else:
        if x_column or y_column:
            raise InvalidInput("--x-column/--y-column apply to CSV files only")
        if source.format == "shapefile":
            gdf, _ = read_shapefile(source, encoding, report)
        else:
            gdf = read_ogr_file(source, encoding, report)
        if source_crs is not None:
            crs = source_crs
        elif gdf.crs is not None:
            crs = gdf.crs
        else:
            raise CRSError(f"no CRS in {source.name}; pass --source-crs")
    report.source_crs = crs_label(crs)
    return gdf, crs


def sanitize_name(name: str, index: int) -> str:
    """A safe lower-case column name (letters incl. Chinese, digits, underscores; ≤63 bytes)."""
    text = re.sub(r"[^\w]+", "_", str(name).strip().lower(), flags=re.UNICODE).strip("_")
    if not text:
        text = f"col_{index}"
    if text[0].isdigit():
        text = "c_" + text
    while len(text.encode("utf-8")) > 63:
        text = text[:-1]
    return text
