"""Process jobs belong to the department that started them: listed and read only by it (and
administrators); another department gets 404, as if the job did not exist."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
from starlette.testclient import TestClient

ASYNC = {"Prefer": "respond-async"}


def start_job(client: TestClient, headers: dict[str, str], db_url: str) -> str:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT full_address FROM base.standard_address ORDER BY address_id LIMIT 2")
        texts = [row[0] for row in cur.fetchall()]
    r = client.post(
        "/processes/geocode-batch/execution",
        json={"inputs": {"addresses": texts}},
        headers={**headers, **ASYNC},
    )
    assert r.status_code == 201, r.text
    job_id = r.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    for _ in range(200):
        status = client.get(f"/jobs/{job_id}?f=json", headers=headers).json()["status"]
        if status in ("successful", "failed"):
            break
        time.sleep(0.05)
    assert status == "successful"
    return job_id


def listed(client: TestClient, headers: dict[str, str]) -> set[str]:
    r = client.get("/jobs?f=json&limit=1000", headers=headers)
    assert r.status_code == 200, r.text
    return {job["jobID"] for job in r.json()["jobs"]}


def test_jobs_are_per_department(
    access_client: TestClient, callers: dict[str, Any], db_url: str
) -> None:
    mine = start_job(access_client, callers["stranger"].headers, db_url)
    theirs = start_job(access_client, callers["grantee"].headers, db_url)
    stranger, grantee = callers["stranger"].headers, callers["grantee"].headers
    assert mine in listed(access_client, stranger) and theirs not in listed(access_client, stranger)
    assert theirs in listed(access_client, grantee) and mine not in listed(access_client, grantee)
    assert {mine, theirs} <= listed(access_client, callers["admin"].headers)
    for path in (f"/jobs/{theirs}?f=json", f"/jobs/{theirs}/results?f=json"):
        r = access_client.get(path, headers=stranger)
        assert r.status_code == 404, (path, r.status_code)
        assert access_client.get(path, headers=grantee).status_code == 200
    # another department cannot dismiss the job either
    assert access_client.delete(f"/jobs/{theirs}", headers=stranger).status_code == 404
    assert access_client.get(f"/jobs/{theirs}?f=json", headers=grantee).status_code == 200
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT owner_department, owner FROM meta.process_job WHERE identifier = %s",
            (theirs,),
        )
        assert cur.fetchone() == ("acc-grantee", f"key:{callers['grantee'].key_id}")
    # the public may not read jobs (they answer with standard addresses: sign in)
    assert access_client.get("/jobs?f=json").status_code == 401
