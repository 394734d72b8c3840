"""The analysis processes over HTTP: same answers as the Python functions, 4xx on bad inputs,
asynchronous jobs, and who may run them."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest

from spatialsvc import analysis
from spatialsvc.geo import gcj02
from tests.analysis.helpers import pentagon

PROCESS_IDS = {"zonal-stats", "nearby-entities", "buffer-count", "density"}


def execute(client: Any, process: str, inputs: dict[str, Any], **headers: str) -> Any:
    return client.post(f"/processes/{process}/execution", json={"inputs": inputs}, headers=headers)


def test_processes_are_listed_and_described(client, geocoded) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/processes", params={"f": "json"})
    assert r.status_code == 200, r.text
    assert PROCESS_IDS <= {p["id"] for p in r.json()["processes"]}
    for pid in PROCESS_IDS:
        described = client.get(f"/processes/{pid}", params={"f": "json"})
        assert described.status_code == 200, described.text
        assert "crs" in described.json()["inputs"]
        assert "async-execute" in described.json()["jobControlOptions"]


@pytest.mark.parametrize("crs", [None, "gcj02"])
def test_zonal_stats_over_http_equals_the_function(client, dconn, centre, crs) -> None:  # type: ignore[no-untyped-def]
    polygon = pentagon(*centre, 0.01)
    given = polygon
    if crs == "gcj02":
        ring = np.array(polygon["coordinates"][0])
        given = {
            "type": "Polygon",
            "coordinates": [gcj02.convert_coords(ring, "wgs84", "gcj02").tolist()],
        }
    inputs: dict[str, Any] = {"geometry": given}
    if crs:
        inputs["crs"] = crs
    r = execute(client, "zonal-stats", inputs)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = analysis.zonal_stats(dconn, given, crs=crs).to_dict()
    assert body == json.loads(json.dumps(expected))
    assert body["residents"]["total"] >= 5 and body["entities"]["total"] > 0


def test_nearby_entities_over_http(client, dconn, centre) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre
    inputs = {"lon": lon, "lat": lat, "industry": "F", "radius": 2000, "limit": 10}
    r = execute(client, "nearby-entities", inputs)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection" and 0 < body["numberReturned"] <= 10
    expected = analysis.nearby_entities(dconn, lon, lat, None, 2000, "F", 10).to_geojson()
    assert body == json.loads(json.dumps(expected))
    distances = [f["properties"]["distance_m"] for f in body["features"]]
    assert distances == sorted(distances) and distances[-1] <= 2000


def test_buffer_count_and_density_over_http(client, dconn, centre) -> None:  # type: ignore[no-untyped-def]
    lon, lat = centre
    point = {"type": "Point", "coordinates": [lon, lat]}
    r = execute(client, "buffer-count", {"geometry": point, "radius": 800})
    assert r.status_code == 200, r.text
    assert r.json() == analysis.buffer_count(dconn, point, radius_m=800).to_dict()
    bbox = [lon - 0.02, lat - 0.015, lon + 0.02, lat + 0.015]
    r = execute(client, "density", {"bbox": bbox, "size": 600, "cell": "square", "of": "entities"})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = analysis.density(dconn, "square", 600, bbox=bbox, of="entities").to_geojson()
    assert body == json.loads(json.dumps(expected))
    assert body["numberReturned"] == len(body["features"]) > 4


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[121.5, 29.8], [121.52, 29.82], [121.52, 29.8], [121.5, 29.82], [121.5, 29.8]]
    ],
}
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[121.5, 29.8], [121.51, 29.8], [121.51, 29.81], [121.5, 29.81], [121.5, 29.8]]
    ],
}
POINT = {"type": "Point", "coordinates": [121.5, 29.88]}


@pytest.mark.parametrize(
    ("process", "inputs", "words"),
    [
        ("zonal-stats", {"geometry": BOWTIE}, "Self-intersection"),
        (
            "zonal-stats",
            {"geometry": {"type": "Polygon", "coordinates": [[[121.5, 29.8], [121.6, 29.8]]]}},
            "at least 4",
        ),
        ("zonal-stats", {"geometry": SQUARE, "crs": "EPSG:2000"}, "unsupported CRS"),
        ("zonal-stats", {}, "required"),
        ("zonal-stats", {"geometry": SQUARE, "sql": "drop"}, "unknown inputs"),
        ("nearby-entities", {"lon": 121.5, "lat": 29.88, "industry": "C", "radius": 6000}, "5000"),
        ("nearby-entities", {"lon": 121.5, "lat": 29.88, "industry": "C", "radius": 0}, "radius"),
        ("nearby-entities", {"lon": 121.5, "lat": 29.88, "industry": "C99"}, "unknown industry"),
        (
            "nearby-entities",
            {"lon": 121.5, "lat": 29.88, "industry": "C", "crs": "EPSG:1"},
            "unsupported CRS",
        ),
        ("buffer-count", {"geometry": POINT, "radius": 99999}, "5000"),
        ("buffer-count", {"geometry": BOWTIE, "radius": 100}, "Self-intersection"),
        ("buffer-count", {"geometry": POINT, "crs": "wgs1234"}, "unsupported CRS"),
        ("density", {"bbox": [121.13, 29.70, 121.60, 29.97], "size": 50}, "cells"),
        ("density", {"geometry": BOWTIE}, "Self-intersection"),
        ("density", {"bbox": [121.4, 29.8, 121.5, 29.9], "crs": "EPSG:99999"}, "unsupported CRS"),
    ],
)
def test_bad_inputs_are_400_with_a_json_body(client, geocoded, process, inputs, words) -> None:  # type: ignore[no-untyped-def]
    r = execute(client, process, inputs)
    assert r.status_code == 400, r.text
    body = r.json()
    assert words in json.dumps(body, ensure_ascii=False)
    for leak in ("Traceback", "psycopg2", 'File "'):
        assert leak not in r.text


def test_async_zonal_stats_job(client, centre) -> None:  # type: ignore[no-untyped-def]
    inputs = {"geometry": pentagon(*centre, 0.008)}
    r = execute(client, "zonal-stats", inputs, Prefer="respond-async")
    assert r.status_code == 201, r.text
    job_url = "/jobs/" + r.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(job_url, params={"f": "json"}).json()
        if job["status"] in ("successful", "failed", "dismissed"):
            break
        time.sleep(0.1)
    assert job["status"] == "successful", job
    result = client.get(job_url + "/results", params={"f": "json"})
    assert result.status_code == 200
    assert result.json() == execute(client, "zonal-stats", inputs).json()


@pytest.mark.parametrize(
    ("process", "inputs"),
    [
        ("zonal-stats", {"geometry": SQUARE}),
        ("buffer-count", {"geometry": POINT, "radius": 300}),
        ("density", {"bbox": [121.48, 29.86, 121.52, 29.89], "size": 1000}),
    ],
)
def test_public_gets_401_and_a_department_200(
    access_client, callers, geocoded, process, inputs
) -> None:  # type: ignore[no-untyped-def]
    public = execute(access_client, process, inputs)
    assert public.status_code == 401, public.text
    assert public.json()
    for name in ("stranger", "owner"):
        signed_in = execute(access_client, process, inputs, **callers[name].headers)
        assert signed_in.status_code == 200, (name, signed_in.text)
