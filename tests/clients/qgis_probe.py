"""Load OGC API - Features layers in QGIS, headless, and report what QGIS sees, as JSON.

Run by Debian's /usr/bin/python3 (python3-qgis), not the project's venv:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_probe.py '{"url": ..., "layers": [...],
        "known": {"layer": ..., "id": ...}, "key": "ssk_..."}'

For each layer it prints whether QGIS's "OAPIF" provider finds it valid, its CRS, how many
features it reads, and for the known feature (matched on the field "id", where QGIS puts each
GeoJSON feature's id) the point in the layer's CRS as QGIS holds it (x east, y north).
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402  (needs the environment above)
    Qgis,
    QgsApplication,
    QgsFeatureRequest,
    QgsVectorLayer,
)

PAGE_SIZE = 10000


def probe(url: str, layer_id: str, known: dict, key: str | None = None) -> dict:
    """What QGIS makes of one layer (with the API key as the HTTP Basic password, if given)."""
    uri = f"url='{url}' typename='{layer_id}' pageSize='{PAGE_SIZE}'"
    if key:
        uri += f" username='key' password='{key}'"
    layer = QgsVectorLayer(uri, layer_id, "OAPIF")
    out: dict = {"uri": uri.replace(key, "<key>") if key else uri, "valid": layer.isValid()}
    if not layer.isValid():
        out["error"] = layer.error().summary()
        return out
    out["crs"] = layer.crs().authid()
    index = layer.fields().indexOf("id")
    out["fields"] = layer.fields().names()
    request = QgsFeatureRequest().setSubsetOfAttributes([index] if index >= 0 else [])
    count = 0
    for feature in layer.getFeatures(request):
        count += 1
        if known.get("layer") == layer_id and index >= 0 and feature[index] == known["id"]:
            point = feature.geometry().asPoint()
            out["known"] = {"x": point.x(), "y": point.y()}
    out["iterated"] = count
    out["featureCount"] = layer.featureCount()
    return out


def main() -> int:
    """Probe every layer named on the command line and print the results as JSON."""
    args = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    try:
        result = {
            "qgis": Qgis.QGIS_VERSION,
            "layers": {
                layer_id: probe(args["url"], layer_id, args.get("known", {}), args.get("key"))
                for layer_id in args["layers"]
            },
        }
    finally:
        app.exitQgis()
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
