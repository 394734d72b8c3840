"""PostgreSQL stopped while the service runs: every kind of route answers 503 with Retry-After
and a JSON body (no stack trace, no database text); once PostgreSQL is back the service answers
200 again by itself, without a restart.

Three services over the throwaway cluster, all with access control on: one signs its caller in
from its cache during the outage (so that the routes' own database work meets the outage), one
signs in on every request (so that the access layer meets it first), and one signs in from its
cache but has the rate limit on (so that taking a token, a database call, meets it first).
Nothing is lost: the audit events of the requests answered during the outage are in the log
once PostgreSQL is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import morecantile
import psycopg2
import pytest

from spatialsvc.geocoder_service import RECHECK_SECONDS
from tests.conftest import serve
from tests.faults.conftest import Throwaway, service_settings

CENTRE = (121.50, 29.87)  # Haishu
RECOVERY_SECONDS = 10.0


@dataclass(frozen=True)
class Probe:
    """One request of a kind the service answers."""

    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None

    def send(self, client: httpx.Client) -> httpx.Response:
        return client.request(self.method, self.path, json=self.body, timeout=120)


def _probes(tile_zoom: int) -> list[Probe]:
    tile = morecantile.tms.get("WebMercatorQuad").tile(*CENTRE, tile_zoom)
    lon, lat = CENTRE
    return [
        Probe("items", "GET", "/collections/poi/items?f=json&limit=5"),
        # a tile never asked before, so that it is not in the tile cache
        Probe("tile", "GET", f"/collections/poi/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"),
        Probe("geocode", "GET", "/geocode?q=海曙区段塘街道北丰街1号"),
        Probe("catalogue", "GET", "/collections/catalogue/items?f=json&limit=5"),
        Probe("applications", "GET", "/applications"),
        Probe(
            "process",
            "POST",
            "/processes/nearby-entities/execution",
            {"inputs": {"lon": lon, "lat": lat, "industry": "F", "radius": 1000, "limit": 5}},
        ),
    ]


@pytest.fixture(scope="module")
def services(
    throwaway: Throwaway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("fault-home")
    cached = service_settings(throwaway, home, auth_cache_seconds=3600.0)
    uncached = service_settings(throwaway, home, auth_cache_seconds=0.0)
    limited = service_settings(
        throwaway, home, auth_cache_seconds=3600.0, rate_limit_per_minute=100_000
    )
    runs = [serve(cached), serve(uncached), serve(limited)]
    urls = {
        "auth cached": next(runs[0]),
        "auth per request": next(runs[1]),
        "rate limited": next(runs[2]),
    }
    yield urls
    for run in runs:
        next(run, None)


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})


def _check_503(probe: Probe, r: httpx.Response, where: str) -> None:
    what = f"{where}: {probe.name} {probe.path}"
    assert r.status_code == 503, f"{what}: {r.status_code} {r.text[:300]}"
    assert r.headers.get("Retry-After", "").isdigit(), f"{what}: no Retry-After"
    assert r.headers["content-type"].startswith("application/json"), what
    body = r.json()
    assert body["code"] == "ServiceUnavailable", f"{what}: {body}"
    for leak in ("Traceback", "psycopg2", "OperationalError", "server closed", "connection to"):
        assert leak not in r.text, f"{what}: {r.text[:300]}"


def _now(throwaway: Throwaway) -> Any:
    with psycopg2.connect(throwaway.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT clock_timestamp()")
        now = cur.fetchone()[0]  # type: ignore[index]
    conn.close()
    return now


def _outage_events(throwaway: Throwaway, since: Any) -> int:
    with psycopg2.connect(throwaway.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit.event WHERE status = 503 AND at >= %s", (since,))
        n = int(cur.fetchone()[0])  # type: ignore[index]
    conn.close()
    return n


def test_outage_answers_503_and_the_service_recovers(
    throwaway: Throwaway, services: dict[str, str]
) -> None:
    clients = {where: _client(url, throwaway.key) for where, url in services.items()}
    zooms = iter(range(13, 19))
    try:
        probes = _probes(next(zooms))
        for where, client in clients.items():  # all well; the geocoder's index is built
            for probe in probes:
                t0 = time.monotonic()
                r = probe.send(client)
                print(f"{where} {probe.name} {r.status_code} {time.monotonic() - t0:.2f}s")
                assert r.status_code == 200, f"{where}: {probe.name}: {r.text[:300]}"
        outage_began = _now(throwaway)
        throwaway.stop()
        # /geocode answers from its index for up to RECHECK_SECONDS after its last data
        # version check: past that it has to reach the database too
        time.sleep(RECHECK_SECONDS + 0.1)
        try:
            for where, client in clients.items():
                for probe in _probes(next(zooms)):  # a new tile zoom: not cached
                    _check_503(probe, probe.send(client), where)
        finally:
            throwaway.start()
        started = time.monotonic()
        probes = _probes(next(zooms))
        for where, client in clients.items():
            for probe in probes:
                while True:
                    r = probe.send(client)
                    if r.status_code == 200:
                        break
                    assert r.status_code == 503, f"{where}: {probe.name}: {r.text[:300]}"
                    took = time.monotonic() - started
                    assert took < RECOVERY_SECONDS, f"{where}: {probe.name} still 503"
                    time.sleep(0.2)
        recovered = time.monotonic() - started
        print(f"every route answered 200 again {recovered:.1f} s after PostgreSQL came back")
        # the events of the outage's refusals were kept and written once it was over
        expected = len(clients) * len(_probes(14))
        deadline = time.monotonic() + 30
        while (logged := _outage_events(throwaway, outage_began)) < expected:
            assert time.monotonic() < deadline, f"{logged} of {expected} 503s in the audit log"
            time.sleep(0.5)
    finally:
        for client in clients.values():
            client.close()
