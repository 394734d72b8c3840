"""Rate limits shared by every service instance: the bucket is in PostgreSQL.

Two real services (two uvicorn servers, as two workers or two machines would be) over the
session database, access control on, 6 requests a minute per key. A key's requests spread over
both are refused once their total reaches the burst; another key goes on; the 429 is the OGC
exception body. With the limit off nothing goes to the database; with it on, a lost database
connection is a 503, and the next request works again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import psycopg2
import pytest

from spatialsvc.auth.keys import create_key
from spatialsvc.settings import Settings
from tests.conftest import Caller, serve

PER_MINUTE = 6
PATH = "/collections/grid?f=json"  # an open layer's description: cheap, and no grant needed
LEAKS = ("Traceback", "psycopg2", "auth.", "take_token", "rate_bucket", "SELECT", "Error:")


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """One more service for the length of a ``with`` block; its URL."""
    run = serve(settings)
    url = next(run)
    try:
        yield url
    finally:
        next(run, None)


def _get(url: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(url + PATH, headers=headers, timeout=30)


def _forget(db_url: str, subject: str) -> None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM auth.rate_bucket WHERE subject = %s", (subject,))
    conn.close()


def _bucket(db_url: str, subject: str) -> float | None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT tokens FROM auth.rate_bucket WHERE subject = %s", (subject,))
        row = cur.fetchone()
    conn.close()
    return None if row is None else float(row[0])


def _access_backends(db_url: str) -> set[int]:
    """The access middleware's connections to the session database (any service's)."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            ("spatialsvc-access",),
        )
        pids = {int(r[0]) for r in cur.fetchall()}
    conn.close()
    return pids


@pytest.fixture(scope="module")
def limited(access_settings: Settings) -> Settings:
    return access_settings.model_copy(update={"rate_limit_per_minute": PER_MINUTE})


@pytest.fixture(scope="module")
def instances(limited: Settings, demo: dict[str, int]) -> Iterator[tuple[str, str]]:
    """Two services with the same settings over the same database."""
    runs = [serve(limited), serve(limited)]
    urls = (next(runs[0]), next(runs[1]))
    assert urls[0] != urls[1]
    yield urls
    for run in runs:
        next(run, None)


@pytest.fixture(scope="module")
def new_key(callers: dict[str, Caller], db_url: str) -> Callable[[], tuple[str, str]]:
    """Make a fresh consumer key (its bucket is new): (key, bucket subject)."""

    def make() -> tuple[str, str]:
        conn = psycopg2.connect(db_url)
        try:
            with conn:
                made = create_key(conn, "acc-stranger", "consumer", label="rate limit tests")
        finally:
            conn.close()
        return made.key, f"key:{made.record.id}"

    return make


def _spend_burst(urls: tuple[str, str], key: str | None) -> list[int]:
    """PER_MINUTE requests, alternating between the two services; their status codes."""
    return [_get(urls[i % 2], key).status_code for i in range(PER_MINUTE)]


def test_the_limit_is_global_across_instances(
    instances: tuple[str, str], new_key: Callable[[], tuple[str, str]], db_url: str
) -> None:
    key, subject = new_key()
    assert _spend_burst(instances, key) == [200] * PER_MINUTE  # half of them on each
    assert _bucket(db_url, subject) == pytest.approx(0, abs=0.5)
    # each service alone has answered only half the burst: a bucket per service would let
    # these through; the shared one does not
    for url in instances:
        r = _get(url, key)
        assert r.status_code == 429, r.text
        retry = int(r.headers["Retry-After"])
        assert 1 <= retry <= 60 / PER_MINUTE  # one token comes back every 10 s


def test_another_key_is_not_affected(
    instances: tuple[str, str], new_key: Callable[[], tuple[str, str]]
) -> None:
    spent, _ = new_key()
    fresh, _ = new_key()
    assert _spend_burst(instances, spent) == [200] * PER_MINUTE
    assert [_get(url, spent).status_code for url in instances] == [429, 429]
    assert [_get(url, fresh).status_code for url in instances] == [200, 200]
    assert _get(instances[0], spent).status_code == 429  # still spent


def test_429_is_the_ogc_exception_without_database_text(
    instances: tuple[str, str], new_key: Callable[[], tuple[str, str]]
) -> None:
    key, _ = new_key()
    _spend_burst(instances, key)
    r = _get(instances[1], key)
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["code"] == "TooManyRequests"
    assert isinstance(body["description"], str) and body["description"]
    assert set(body) <= {"code", "description", "type"}
    for leak in LEAKS:
        assert leak not in r.text, r.text


def test_failed_sign_ins_are_limited_across_instances(
    instances: tuple[str, str], db_url: str
) -> None:
    subject = "fail:ip:127.0.0.1"
    _forget(db_url, subject)
    wrong = "ssk_nothere1_" + "x" * 43
    try:
        assert _spend_burst(instances, wrong) == [401] * PER_MINUTE
        assert [_get(url, wrong).status_code for url in instances] == [429, 429]
    finally:
        _forget(db_url, subject)


def test_limit_off_makes_no_database_call(access_settings: Settings, db_url: str) -> None:
    """A public caller needs no sign-in: with the limit off, its requests open no access
    connection and leave no bucket; the same requests to a service with the limit on do."""
    assert access_settings.rate_limit_per_minute == 0
    subject = "ip:127.0.0.1"
    _forget(db_url, subject)
    before = _access_backends(db_url)
    with running(access_settings) as url:
        assert [_get(url).status_code for _ in range(3)] == [200, 200, 200]
        assert _access_backends(db_url) - before == set()
        assert _bucket(db_url, subject) is None
    on = access_settings.model_copy(update={"rate_limit_per_minute": 600})
    try:
        with running(on) as url:
            assert _get(url).status_code == 200
            assert _access_backends(db_url) - before != set()
            assert _bucket(db_url, subject) == pytest.approx(599, abs=0.5)
    finally:
        _forget(db_url, subject)


def test_a_lost_database_connection_is_503_then_recovers(
    access_settings: Settings, new_key: Callable[[], tuple[str, str]], db_url: str
) -> None:
    """The key's sign-in is remembered, so the rate limit is what meets the dead connection."""
    remembering = access_settings.model_copy(
        update={"rate_limit_per_minute": 600, "auth_cache_seconds": 3600.0}
    )
    key, _ = new_key()
    before = _access_backends(db_url)
    with running(remembering) as url:
        assert _get(url, key).status_code == 200  # signed in and remembered; a token taken
        mine = _access_backends(db_url) - before
        assert mine, "the service opened no access connection"
        with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
            for pid in sorted(mine):
                cur.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
                assert cur.fetchone()[0] is True
        conn.close()
        r = _get(url, key)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"].isdigit()
        assert r.json()["code"] == "ServiceUnavailable"
        for leak in (*LEAKS, "terminating", "server closed", "connection"):
            assert leak not in r.text, r.text
        assert _get(url, key).status_code == 200  # a new connection: back at once
