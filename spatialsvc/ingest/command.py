"""The ``spatialsvc ingest`` command and the steps it runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from spatialsvc.errors import InvalidInput, SpatialsvcError

if TYPE_CHECKING:
    import geopandas as gpd

    from spatialsvc.geo.crs import ParsedCRS
    from spatialsvc.ingest.readers import Source
    from spatialsvc.ingest.report import Report
    from spatialsvc.settings import Settings

Echo = Callable[[str], None]
LAYER_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
DEPARTMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
APPLICATION_NAME = "spatialsvc-ingest"


def check_names(layer: str, department: str) -> None:
    """Reject unsafe layer names and department codes before anything touches the DB."""
    if not LAYER_RE.fullmatch(layer or ""):
        shown = " ".join(str(layer).split())[:60]
        raise InvalidInput(
            f"bad layer name {shown!r}: use a-z, 0-9 and _, starting with a letter, "
            "at most 48 characters"
        )
    if not DEPARTMENT_RE.fullmatch(department or ""):
        shown = " ".join(str(department).split())[:40]
        raise InvalidInput(f"bad department code {shown!r}: use A-Z, a-z, 0-9, _ and -")


def _vector_frame(
    source: Source,
    source_crs: ParsedCRS | None,
    encoding: str | None,
    invalid: str,
    x_column: str | None,
    y_column: str | None,
    report: Report,
) -> gpd.GeoDataFrame:
    import numpy as np
    import shapely

    from spatialsvc.geo.crs import to_target
    from spatialsvc.ingest.readers import read_vector
    from spatialsvc.ingest.vector import clean_geometries

    gdf, crs = read_vector(source, encoding, source_crs, x_column, y_column, report)
    report.read = len(gdf)
    if len(gdf) == 0:
        raise InvalidInput(f"{source.name} has no features")
    try:
        gdf = to_target(gdf, crs)
    except SpatialsvcError:
        raise
    except Exception as exc:  # pyproj/shapely failures become one line
        raise InvalidInput(f"cannot reproject {source.name} to EPSG:4490 ({exc})") from exc
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    bounds = shapely.bounds(geoms)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    bad = present & ~np.isfinite(bounds).all(axis=1)
    for i in np.flatnonzero(bad):
        report.reject(i, "coordinates cannot be transformed to EPSG:4490")
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = None
        gdf = gdf.set_geometry(geoms, crs=gdf.crs)
    gdf = clean_geometries(gdf, invalid, report)
    minx, miny, maxx, maxy = (float(v) for v in gdf.total_bounds)
    report.extent = (minx, miny, maxx, maxy)
    return gdf


def _ingest_vector(
    settings: Settings,
    source: Source,
    gdf: gpd.GeoDataFrame,
    report: Report,
    echo: Echo,
    chunk: int,
) -> None:
    import psycopg2

    from spatialsvc.db.connect import connect, database_failure
    from spatialsvc.ingest.report import current_version, record_dataset
    from spatialsvc.ingest.vector import load

    conn = connect(settings, APPLICATION_NAME)
    try:
        with conn, conn.cursor() as cur:
            version = current_version(cur, report.layer, "vector") + 1
            report.version = version
            report.table_name = f"data.{report.layer}"
            report.written = load(conn, report.layer, gdf, report, echo, chunk=chunk)
            record_dataset(cur, report)
    except psycopg2.Error as exc:
        raise database_failure(exc, f"loading {report.layer}") from exc
    finally:
        conn.close()


def _ingest_raster(
    settings: Settings, source: Source, source_crs: ParsedCRS | None, report: Report
) -> None:
    import psycopg2

    from spatialsvc.db.connect import connect, database_failure
    from spatialsvc.ingest.raster import place, write_cog
    from spatialsvc.ingest.report import current_version, record_dataset

    folder = settings.raster_dir / report.layer
    tmp = write_cog(source, source_crs, folder, report)
    conn = None
    try:
        conn = connect(settings, APPLICATION_NAME)
        with conn, conn.cursor() as cur:
            version = current_version(cur, report.layer, "raster") + 1
            report.version = version
            final = folder / f"v{version}.tif"
            report.file_path = str(final)
            record_dataset(cur, report)
            place(tmp, folder, version)
    except psycopg2.Error as exc:
        raise database_failure(exc, f"loading {report.layer}") from exc
    finally:
        tmp.unlink(missing_ok=True)
        if conn is not None:
            conn.close()


def _sync_catalogue(settings: Settings, echo: Echo) -> None:
    """After a committed ingest: bring the catalogue in step; a failure only warns."""
    from spatialsvc.catalogue import sync_catalogue
    from spatialsvc.db.connect import connect
    from spatialsvc.layers import load_layers

    try:
        layers = load_layers(settings.layers_dir)
        conn = connect(settings, APPLICATION_NAME)
        try:
            sync_catalogue(conn, layers, settings)
        finally:
            conn.close()
    except SpatialsvcError as exc:
        echo(
            f"warning: the data is loaded, but the catalogue was not updated ({exc.message}); "
            "run `spatialsvc catalogue sync`"
        )


def run_ingest(
    settings: Settings,
    path: Path,
    layer: str,
    department: str,
    source_crs: str | None = None,
    encoding: str | None = None,
    invalid: str = "repair",
    x_column: str | None = None,
    y_column: str | None = None,
    echo: Echo = click.echo,
    chunk: int | None = None,
) -> Report:
    """Ingest one file as a new version of ``layer``; return the quality report."""
    from spatialsvc.geo.crs import parse_crs
    from spatialsvc.ingest.readers import detect
    from spatialsvc.ingest.report import Report
    from spatialsvc.ingest.vector import CHUNK

    check_names(layer, department)
    if invalid not in ("repair", "reject"):
        raise InvalidInput("--invalid must be repair or reject")
    parsed = parse_crs(source_crs) if source_crs else None
    source = detect(path)
    report = Report(layer=layer, department=department, source_file=str(path))
    report.format = source.format
    if source.format == "geotiff":
        report.kind = "raster"
        _ingest_raster(settings, source, parsed, report)
    else:
        gdf = _vector_frame(source, parsed, encoding, invalid, x_column, y_column, report)
        _ingest_vector(settings, source, gdf, report, echo, chunk or CHUNK)
    _sync_catalogue(settings, echo)
    from spatialsvc.thematic.refresh import refresh_after

    refresh_after(settings, f"ingest {layer}", echo)
    return report


HELP = """Load a department's file as a new version of a layer.

\b
Formats:
  Shapefile   a .shp, a folder holding one .shp, or a .zip holding one
              (.cpg honoured; --encoding overrides; without either, UTF-8)
  GeoPackage  .gpkg (first layer)
  GeoJSON     .geojson / .json (UTF-8)
  CSV         .csv with coordinate columns: lon/lng/longitude/经度 + lat/latitude/纬度
              (EPSG:4490 assumed if --source-crs is not given), x/y, or
              --x-column/--y-column (then --source-crs is required)
  GeoTIFF     .tif / .tiff -> Cloud-Optimised GeoTIFF in EPSG:4490 under
              SPATIALSVC_HOME/rasters/LAYER/vN.tif

\b
Vectors are reprojected to CGCS2000 (EPSG:4490) and swapped into data.LAYER in one
transaction: a failure leaves the previous version untouched.  meta.dataset records the
version, the source and the quality report.

\b
Examples:
  spatialsvc ingest roads.zip --layer roads --department traffic
  spatialsvc ingest parcels/ --layer parcels --department land --encoding GBK
  spatialsvc ingest shops.csv --layer shops --department market --source-crs gcj02
  spatialsvc ingest pts.csv --layer pts --department x --x-column E --y-column N \\
      --source-crs EPSG:4549
  spatialsvc ingest dem.tif --layer dem --department survey --report dem.json
"""


@click.command("ingest", help=HELP)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--layer", required=True, help="Layer name: ^[a-z][a-z0-9_]{0,47}$.")
@click.option("--department", required=True, help="Code of the department that owns it.")
@click.option("--source-crs", default=None, help="CRS of the file: EPSG:n, n, WKT, gcj02 or bd09.")
@click.option("--encoding", default=None, help="Attribute text encoding, e.g. GBK.")
@click.option(
    "--invalid",
    type=click.Choice(["repair", "reject"]),
    default="repair",
    show_default=True,
    help="Repair invalid geometries (make_valid) or reject them.",
)
@click.option("--x-column", default=None, help="CSV column holding x / longitude.")
@click.option("--y-column", default=None, help="CSV column holding y / latitude.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the quality report as JSON to this file.",
)
@click.option("--chunk-size", type=int, default=None, hidden=True)
@click.pass_context
def ingest(
    ctx: click.Context,
    file: Path,
    layer: str,
    department: str,
    source_crs: str | None,
    encoding: str | None,
    invalid: str,
    x_column: str | None,
    y_column: str | None,
    report_path: Path | None,
    chunk_size: int | None,
) -> None:
    """Click entry point; see HELP."""
    from spatialsvc.settings import get_settings

    obj: dict[str, Any] = ctx.ensure_object(dict)
    settings = obj.get("settings") or get_settings()
    report = run_ingest(
        settings,
        file,
        layer,
        department,
        source_crs,
        encoding,
        invalid,
        x_column,
        y_column,
        chunk=chunk_size,
    )
    for line in report.lines():
        click.echo(line)
    if report_path is not None:
        report.write(report_path)
