"""QGIS (Debian's python3-qgis, run headless by /usr/bin/python3) loads every published layer
through its OGC API - Features provider, with the database's count and the points where they
belong. With stock pygeoapi serving a 4490 table QGIS draws every point with latitude and
longitude swapped: the known-address check catches that. Without QGIS these tests fail (`make
setup` installs it); they never skip."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from spatialsvc.layers import load_layers
from spatialsvc.settings import Settings

LAYER_IDS = sorted(load_layers(Settings().layers_dir))
PROBE = Path(__file__).with_name("qgis_probe.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: python3-qgis lives there, not in the venv


@pytest.fixture(scope="module")
def qgis_view(secure_server: Any, layers: dict[str, Any], known_address: Any) -> dict[str, Any]:
    """What QGIS sees of every published layer (one headless QGIS run for all of them), signed
    in as an administrator: QGIS 3.22 sends the API key as the password of HTTP Basic."""
    args = {
        "url": secure_server.url,
        "key": secure_server.key,
        "layers": sorted(layers),
        "known": {"layer": "standard_address", "id": known_address.address_id},
    }
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):  # the venv is not for it
        env.pop(name, None)
    try:
        out = subprocess.run(
            [SYSTEM_PYTHON, str(PROBE), json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env=env,
        )
    except FileNotFoundError:
        pytest.fail(f"{SYSTEM_PYTHON} is missing: QGIS cannot be scripted (run `make setup`)")
    if "No module named 'qgis'" in out.stderr:
        pytest.fail("QGIS is not installed (python3-qgis, qgis-providers): run `make setup`")
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])["layers"]


def test_every_published_layer_is_tested(layers: dict[str, Any]) -> None:
    assert sorted(layers) == LAYER_IDS


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_qgis_loads_layer_with_full_count(
    layer_id: str, qgis_view: dict[str, Any], layer_ids_in_db: dict[str, set[str]]
) -> None:
    seen = qgis_view[layer_id]
    assert seen["valid"], seen
    want = len(layer_ids_in_db[layer_id])
    assert (seen["iterated"], seen["featureCount"]) == (want, want), seen


def test_qgis_draws_known_address_where_it_belongs(
    qgis_view: dict[str, Any], known_address: Any
) -> None:
    seen = qgis_view["standard_address"]
    assert seen["crs"] in ("EPSG:4326", "OGC:CRS84"), seen  # x east (longitude), y north
    point = seen.get("known")
    assert point is not None, f"QGIS did not read {known_address.address_id}"
    assert point["x"] == pytest.approx(known_address.x, abs=1e-6), (point, known_address)
    assert point["y"] == pytest.approx(known_address.y, abs=1e-6), (point, known_address)
