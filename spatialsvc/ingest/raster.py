"""GeoTIFF → Cloud-Optimised GeoTIFF in EPSG:4490 under ``settings.raster_dir``."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from spatialsvc.errors import CRSError, InvalidInput, UnsupportedFormat
from spatialsvc.geo.crs import TARGET, ParsedCRS, crs_label
from spatialsvc.ingest.readers import Source, one_line
from spatialsvc.ingest.report import Report


def write_cog(source: Source, source_crs: ParsedCRS | None, folder: Path, report: Report) -> Path:
    """Reproject ``source`` to EPSG:4490 and write it as a COG to a temporary name in folder.

    The caller moves the file to its versioned name with os.replace once the version is known.
    """
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.vrt import WarpedVRT
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    if isinstance(source_crs, str):
        raise UnsupportedFormat(f"{source_crs} is not supported for rasters; give an EPSG code")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{uuid.uuid4().hex}.tif"
    try:
        with rasterio.open(source.path) as src:
            crs: Any = source_crs.to_wkt() if source_crs is not None else src.crs
            if crs is None:
                raise CRSError(f"no CRS in {source.name}; pass --source-crs")
            report.source_crs = crs_label(source_crs) if source_crs is not None else _label(crs)
            vrt_opts: dict[str, Any] = {"crs": TARGET, "src_crs": crs}
            if src.nodata is not None:
                vrt_opts["nodata"] = src.nodata
            with WarpedVRT(src, **vrt_opts) as vrt:
                report.extent = tuple(float(v) for v in vrt.bounds)  # type: ignore[assignment]
                profile = cog_profiles.get("deflate")
                cog_translate(vrt, str(tmp), profile, quiet=True, in_memory=False)
            report.notes.append(f"{src.width}x{src.height} px, {src.count} band(s)")
    except (RasterioError, OSError, ValueError) as exc:
        _discard(tmp)
        raise InvalidInput(f"cannot read {source.name}: {one_line(exc)}") from exc
    except BaseException:
        _discard(tmp)
        raise
    return tmp


def _discard(tmp: Path) -> None:
    """Remove a failed temporary COG, and its layer folder if that is now empty."""
    tmp.unlink(missing_ok=True)
    try:
        tmp.parent.rmdir()
    except OSError:
        pass


def _label(crs: Any) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else str(crs.to_string())[:60]


def place(tmp: Path, folder: Path, version: int) -> Path:
    """Move the finished COG to ``folder/v{version}.tif`` atomically."""
    final = folder / f"v{version}.tif"
    os.replace(tmp, final)
    return final
