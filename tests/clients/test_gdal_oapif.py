"""GDAL's OAPIF driver (Debian gdal-bin 3.6) against the running service: every published layer
with the database's features, and a known address where the database has it, in CRS84, EPSG:4490
and EPSG:4549.

GDAL 3.6's OAPIF driver has no open option to ask for another CRS (`CRS` / `PREFERRED_CRS`
arrived in GDAL 3.7; `ogrinfo --format OAPIF` on 3.6 lists only URL, PAGE_SIZE, USERPWD and
IGNORE_SCHEMA). It does carry the query string of a `/collections/{id}?...` URL into every items
request, so the other CRSs are asked for as `OAPIF:<url>/collections/<id>?crs=<uri>`; GDAL then
still labels the layer CRS84 and hands the coordinates through untouched, in the axis order the
service wrote them (EPSG order: latitude / northing first), which is what is compared here.

The service runs as deployed, with access control on: GDAL sends an administrator's key (made
by `spatialsvc auth create-key`) as `Authorization: Bearer` through its `GDAL_HTTP_HEADERS`
configuration option, or as the password of `-oo USERPWD=key:<key>` (HTTP Basic).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod, Transformer

from spatialsvc.layers import load_layers
from spatialsvc.settings import Settings

# Collection-time layer list (the default layers folder, which the session's settings use;
# test_every_published_layer_is_tested checks that the two agree).
LAYER_IDS = sorted(load_layers(Settings().layers_dir))
# Our service omits numberMatched, so GDAL pages through everything: 10,000 is our maximum limit.
PAGE_SIZE = "PAGE_SIZE=10000"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
GEOD = Geod(ellps="GRS80")


def bearer(server: Any) -> list[str]:
    """GDAL's options that send the server's key with every request."""
    return ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {server.key}"]


def run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a GDAL command line; fail with its stderr when it fails."""
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert out.returncode == 0, f"{' '.join(args)}\n{out.stderr[-3000:]}"
    return out


def test_every_published_layer_is_tested(layers: dict[str, Any]) -> None:
    assert sorted(layers) == LAYER_IDS


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_ogr2ogr_copies_every_feature(
    layer_id: str,
    secure_server: Any,
    layers: dict[str, Any],
    layer_ids_in_db: dict[str, set[str]],
    tmp_path: Path,
) -> None:
    """ogr2ogr pulls the whole layer into a GeoPackage: the table's features, each once."""
    target = tmp_path / f"{layer_id}.gpkg"
    source = f"OAPIF:{secure_server.url}"
    run(
        ["ogr2ogr", *bearer(secure_server), "-f", "GPKG", str(target), source, layer_id]
        + ["-oo", PAGE_SIZE]
    )
    column = layers[layer_id].id_column
    with sqlite3.connect(target) as gpkg:
        got = [str(r[0]) for r in gpkg.execute(f'SELECT "{column}" FROM "{layer_id}"')]
    want = layer_ids_in_db[layer_id]
    assert len(got) == len(want), (len(got), len(want))
    assert set(got) == want


def _gdal_point(
    source: str, layer_id: str, address_id: str, auth: list[str]
) -> tuple[float, float]:
    """The one feature's point as GDAL reads it (GDAL 3.6 sends the -where as address_id=...)."""
    out = run(
        [
            "ogr2ogr",
            *auth,
            "-f",
            "GeoJSON",
            "/vsistdout/",
            source,
            layer_id,
            "-oo",
            PAGE_SIZE,
            "-where",
            f"address_id = '{address_id}'",
        ]
    )
    features = json.loads(out.stdout)["features"]
    assert [f["properties"]["address_id"] for f in features] == [address_id]
    x, y = features[0]["geometry"]["coordinates"][:2]
    return x, y


@pytest.mark.parametrize("code", ["CRS84", "4490", "4549"])
def test_known_address_lands_on_its_database_point(
    code: str, secure_server: Any, known_address: Any
) -> None:
    url = secure_server.url
    if code == "CRS84":
        source = f"OAPIF:{url}"
    else:
        source = f"OAPIF:{url}/collections/standard_address?crs={EPSG.format(code)}"
    # the key as an HTTP Basic password for this one (GDAL's USERPWD open option)
    auth = ["-oo", f"USERPWD=key:{secure_server.key}"]
    got = _gdal_point(source, "standard_address", known_address.address_id, auth)

    # The database point, moved by PROJ into the CRS asked for, in that CRS's own axis order.
    target = "OGC:CRS84" if code == "CRS84" else f"EPSG:{code}"
    to = Transformer.from_crs(f"EPSG:{known_address.srid}", target, always_xy=False)
    # EPSG:4490 is latitude first: feed (lat, lon).
    want = to.transform(known_address.y, known_address.x)
    if code == "CRS84":
        _, _, metres = GEOD.inv(got[0], got[1], want[0], want[1])
    elif code == "4490":
        _, _, metres = GEOD.inv(got[1], got[0], want[1], want[0])
    else:
        metres = ((got[0] - want[0]) ** 2 + (got[1] - want[1]) ** 2) ** 0.5
    assert metres < 1.0, (code, got, want, metres)


def test_without_a_key_gdal_sees_only_open_layers(
    secure_server: Any, layers: dict[str, Any]
) -> None:
    """The public's ogrinfo lists the open layers only, and cannot open another."""
    out = run(["ogrinfo", "-ro", "-q", f"OAPIF:{secure_server.url}"])
    listed = {
        line.split(":", 1)[1].split("(")[0].strip()
        for line in out.stdout.splitlines()
        if ":" in line
    }
    open_ids = {lid for lid, layer in layers.items() if layer.sharing == "open"}
    assert open_ids and open_ids <= listed
    assert not listed & {lid for lid in layers if lid not in open_ids}
    refused = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{secure_server.url}", "standard_address"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0
