"""OGC API - Processes ``geocode``, ``reverse-geocode`` and ``geocode-batch`` on the application.

Jobs are kept in ``meta.process_job`` by :class:`spatialsvc.processes.manager.JobManager`.
"""

from __future__ import annotations

import csv
import io
import time

import psycopg2
import pytest

from spatialsvc.geocoder_service import MAX_BATCH

PROCESS_IDS = {"geocode", "reverse-geocode", "geocode-batch"}


@pytest.fixture(scope="module")
def sample(db_url: str, demo) -> list[dict]:  # type: ignore[no-untyped-def]
    """A handful of standard addresses: id, text, coordinates."""
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute(
            "SELECT address_id, full_address, ST_X(geom), ST_Y(geom) FROM base.standard_address"
            " ORDER BY md5(address_id) LIMIT 12"
        )
        rows = cur.fetchall()
    return [{"id": r[0], "text": r[1], "lon": r[2], "lat": r[3]} for r in rows]


def execute(client, process: str, inputs: dict, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(f"/processes/{process}/execution", json={"inputs": inputs}, headers=headers)


def wait_for(client, job_url: str, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(job_url, params={"f": "json"})
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in ("successful", "failed", "dismissed"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_url} did not finish")


def test_processes_are_listed_and_described(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/processes", params={"f": "json"})
    assert r.status_code == 200, r.text
    assert PROCESS_IDS <= {p["id"] for p in r.json()["processes"]}
    r = client.get("/processes/geocode-batch", params={"f": "json"})
    assert r.status_code == 200
    description = r.json()
    assert "async-execute" in description["jobControlOptions"]
    assert {"addresses", "csv", "column", "format", "crs"} <= set(description["inputs"])
    conformance = client.get("/conformance", params={"f": "json"}).json()["conformsTo"]
    assert any("ogcapi-processes-1" in c for c in conformance)


def test_sync_geocode_equals_the_http_route(client, sample) -> None:  # type: ignore[no-untyped-def]
    for address in sample[:4]:
        r = execute(client, "geocode", {"address": address["text"], "crs": "EPSG:4549"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["address_id"] == address["id"]
        route = client.get("/geocode", params={"q": address["text"], "crs": "EPSG:4549"}).json()
        assert body == route


def test_sync_reverse_geocode(client, sample) -> None:  # type: ignore[no-untyped-def]
    address = sample[0]
    r = execute(client, "reverse-geocode", {"lon": address["lon"], "lat": address["lat"]})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["address_id"] == address["id"]
    assert result["grid_code"] and result["divisions"]["county"]["code"] == "330203"
    far = execute(client, "reverse-geocode", {"lon": 120.0, "lat": 31.0, "radius": 10})
    assert far.status_code == 200 and far.json() == {"result": None}


@pytest.mark.parametrize(
    ("process", "inputs", "words"),
    [
        ("geocode", {}, "address"),
        ("geocode", {"address": "海" * 201}, "200"),
        ("geocode", {"address": "海曙区", "crs": "EPSG:1"}, "gcj02"),
        ("geocode", {"address": "海曙区", "sql": "drop"}, "unknown inputs"),
        ("reverse-geocode", {"lon": "x", "lat": 29.8}, "lon"),
        ("reverse-geocode", {"lon": 121.5, "lat": 29.8, "radius": 5000}, "1000"),
        ("geocode-batch", {}, "addresses"),
        ("geocode-batch", {"addresses": "海曙区"}, "list"),
        ("geocode-batch", {"addresses": ["海曙区"] * (MAX_BATCH + 1)}, f"at most {MAX_BATCH}"),
        ("geocode-batch", {"csv": "name\n海曙区\n"}, "no column"),
        ("geocode-batch", {"addresses": ["海曙区"], "format": "xml"}, "format"),
    ],
)
def test_bad_inputs_are_400_with_a_clear_message(client, process, inputs, words) -> None:  # type: ignore[no-untyped-def]
    r = execute(client, process, inputs)
    assert r.status_code == 400, r.text
    assert words in r.text
    for leak in ("Traceback", "psycopg2", 'File "'):
        assert leak not in r.text


def _job_count(db_url: str) -> int:
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute("SELECT count(*) FROM meta.process_job")
        return int(cur.fetchone()[0])


def test_a_refused_sync_execution_leaves_no_job(client, db_url) -> None:  # type: ignore[no-untyped-def]
    before = _job_count(db_url)
    for process, inputs in [
        ("geocode", {"address": "海曙区", "sql": "drop"}),
        ("reverse-geocode", {"lon": "x", "lat": 29.8}),
        ("geocode-batch", {"addresses": "海曙区"}),
    ]:
        r = execute(client, process, inputs)
        assert r.status_code == 400, r.text
        assert "location" not in r.headers  # no job to point at
    assert _job_count(db_url) == before
    ok = execute(client, "geocode", {"address": "海曙区"})  # a run that succeeds keeps its job
    assert ok.status_code == 200
    job_id = ok.headers["location"].rsplit("/", 1)[-1]
    assert client.get(f"/jobs/{job_id}", params={"f": "json"}).json()["status"] == "successful"
    assert _job_count(db_url) == before + 1
    # refused asynchronously: the caller learns it from the job, which stays, failed
    r = execute(client, "geocode-batch", {"addresses": "海曙区"}, Prefer="respond-async")
    assert r.status_code == 201, r.text
    job = wait_for(client, r.headers["location"])
    assert job["status"] == "failed" and "list" in job["message"]


def test_unknown_process_and_job_are_404(client) -> None:  # type: ignore[no-untyped-def]
    assert execute(client, "nope", {"a": 1}).status_code == 404
    assert client.get("/jobs/no-such-job", params={"f": "json"}).status_code == 404
    assert client.get("/jobs/no-such-job/results", params={"f": "json"}).status_code == 404


def test_async_batch_job_results_equal_sync_answers(client, sample) -> None:  # type: ignore[no-untyped-def]
    texts = [a["text"] for a in sample] + ["", "不存在的地方"]
    inputs = {"addresses": texts, "crs": "gcj02"}
    r = execute(client, "geocode-batch", inputs, Prefer="respond-async")
    assert r.status_code == 201, r.text
    assert r.headers["preference-applied"] == "respond-async"
    location = r.headers["location"]
    job_id = location.rstrip("/").rsplit("/", 1)[-1]
    job = wait_for(client, f"/jobs/{job_id}")
    assert job["status"] == "successful", job
    assert job["processID"] == "geocode-batch"
    listed = client.get("/jobs", params={"f": "json"}).json()["jobs"]
    assert job_id in {j["jobID"] for j in listed}

    result = client.get(f"/jobs/{job_id}/results", params={"f": "json"})
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["count"] == len(texts) and body["crs"] == "gcj02"
    assert [row["address_id"] for row in body["results"][: len(sample)]] == [
        a["id"] for a in sample
    ]
    assert body["results"][len(sample)]["address_id"] is None  # the empty text

    sync = execute(client, "geocode-batch", inputs)
    assert sync.status_code == 200
    assert sync.json() == body
    for row in body["results"][:3]:
        one = client.get("/geocode", params={"q": row["text"], "crs": "gcj02"}).json()
        assert (one["address_id"], one["lon"], one["lat"]) == (
            row["address_id"],
            row["lon"],
            row["lat"],
        )


def test_async_batch_from_csv_to_csv(client, sample) -> None:  # type: ignore[no-untyped-def]
    table = "id,地址\n" + "".join(f"{i},{a['text']}\n" for i, a in enumerate(sample[:5]))
    inputs = {"csv": table, "column": "地址", "format": "csv"}
    r = execute(client, "geocode-batch", inputs, Prefer="respond-async")
    assert r.status_code == 201, r.text
    job_id = r.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    assert wait_for(client, f"/jobs/{job_id}")["status"] == "successful"
    result = client.get(f"/jobs/{job_id}/results")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(result.content.decode("utf-8-sig"))))
    assert [row["address_id"] for row in rows] == [a["id"] for a in sample[:5]]
    assert float(rows[0]["lon"]) == pytest.approx(sample[0]["lon"], abs=1e-7)
    deleted = client.delete(f"/jobs/{job_id}")
    assert deleted.status_code == 200, deleted.text
    assert client.get(f"/jobs/{job_id}", params={"f": "json"}).status_code == 404


def test_owslib_executes_a_process_on_the_live_server(live_server, sample) -> None:  # type: ignore[no-untyped-def]
    from owslib.ogcapi.processes import Processes

    api = Processes(live_server)
    ids = {p["id"] for p in api.processes()}
    assert PROCESS_IDS <= ids
    assert api.process("reverse-geocode")["id"] == "reverse-geocode"
    # OWSLib asks for response=document: pygeoapi wraps the output in {"outputs": [...]}
    answer = api.execute("geocode", {"address": sample[1]["text"]})
    assert answer["outputs"][0]["address_id"] == sample[1]["id"]
    point = {"lon": sample[2]["lon"], "lat": sample[2]["lat"]}
    answer = api.execute("reverse-geocode", point, response="raw")
    assert answer["result"]["address_id"] == sample[2]["id"]


def test_job_manager_records_progress(client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pygeoapi.util import get_current_datetime

    from spatialsvc.processes.manager import JobManager, report_progress

    manager = JobManager({"name": "JobManager", "connection": "x", "output_dir": str(tmp_path)})
    now = get_current_datetime()
    job = {
        "type": "process",
        "identifier": "progress-test",
        "process_id": "geocode-batch",
        "created": now,
        "started": now,
        "updated": now,
        "finished": None,
        "status": "accepted",
        "location": None,
        "mimetype": "application/json",
        "message": "running",
        "progress": 5,
    }
    assert manager.add_job(job) == "progress-test"
    report_progress("progress-test", 500, 1000)
    found = manager.get_job("progress-test")
    assert found["progress"] == 49 and found["message"] == "500 of 1000 addresses geocoded"
    assert found["status"] == "running"
    assert found["created"].endswith("Z")
    assert manager.delete_job("progress-test")


def test_batch_reports_progress_every_500_rows(settings, demo) -> None:  # type: ignore[no-untyped-def]
    from spatialsvc import geocoder_service as service

    seen: list[tuple[int, int]] = []
    crs = service.parse_point_crs(None)
    rows = service.geocode_batch(settings, [""] * 1200, crs, lambda d, t: seen.append((d, t)))
    assert len(rows) == 1200 and seen == [(500, 1200), (1000, 1200)]
