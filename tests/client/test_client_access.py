"""spatialsvc.client against a live service with access control ON: the key goes out as a
bearer token, 401 and 403 come back as the client's own errors with the service's description,
and a key holding an approved application reads the conditional layer whole, page by page."""

from __future__ import annotations

import psycopg2
import pytest

from spatialsvc.client import ClientError, Forbidden, RateLimited, Unauthorized, connect
from tests.conftest import serve


def camera_ids(db_url: str) -> list[str]:
    with psycopg2.connect(db_url) as c, c.cursor() as cur:
        cur.execute("SELECT camera_id::text FROM registry.camera ORDER BY camera_id")
        return [r[0] for r in cur.fetchall()]


def test_without_a_key_a_conditional_layer_is_401(access_live_server: str) -> None:
    with connect(access_live_server) as public:
        with pytest.raises(ClientError) as denied:
            public.read("camera")
        assert isinstance(denied.value, Unauthorized)
        assert denied.value.status == 401
        assert denied.value.code == "Unauthorized"
        assert denied.value.description
        assert "401 Unauthorized" in str(denied.value)
        # an open layer is there for everyone
        assert len(public.read("grid", max_features=5)) == 5


def test_a_department_without_application_gets_403(access_live_server: str, callers) -> None:  # type: ignore[no-untyped-def]
    with connect(access_live_server, key=callers["stranger"].key) as stranger:
        with pytest.raises(Forbidden) as denied:
            stranger.read("camera")
        assert denied.value.status == 403
        assert denied.value.description
    with connect(access_live_server, key=callers["expired"].key) as expired:
        with pytest.raises(Forbidden) as late:
            expired.read("camera")
        assert "expired" in (late.value.description or "")


def test_a_granted_key_reads_the_layer_page_by_page(
    access_live_server: str,
    callers,
    db_url: str,  # type: ignore[no-untyped-def]
) -> None:
    ids = camera_ids(db_url)
    assert len(ids) >= 3, "the demo has too few cameras to page through"
    pages: list[int] = []
    with connect(access_live_server, key=callers["grantee"].key) as grantee:
        assert "with a key" in repr(grantee) and callers["grantee"].key not in repr(grantee)
        frame = grantee.read(
            "camera", limit=len(ids) // 3 + 1, progress=lambda n, p: pages.append(p)
        )
        frame_ids = [str(i) for i in frame.index]
        assert frame_ids == ids
        assert pages[-1] == 3
        assert "camera" in set(grantee.collections()["id"])


def test_a_wrong_key_is_401(access_live_server: str) -> None:
    with pytest.raises(Unauthorized) as denied:
        connect(access_live_server, key="ssk_nothere1_" + "x" * 43, check=False).read("camera")
    assert denied.value.status == 401


@pytest.fixture(scope="module")
def limited_server(access_settings, demo):  # type: ignore[no-untyped-def]
    """A live service with access control on and 3 requests a minute per caller."""
    yield from serve(access_settings.model_copy(update={"rate_limit_per_minute": 3}))


def test_over_the_rate_limit_is_429_with_retry_after(limited_server: str) -> None:
    client = connect(limited_server, check=False, retries=0)
    with client, pytest.raises(RateLimited) as limited:
        for _ in range(20):
            client.read("grid", max_features=1)
    assert limited.value.status == 429
    assert limited.value.code == "TooManyRequests"
    assert limited.value.retry_after is not None and limited.value.retry_after > 0
    assert isinstance(limited.value, ClientError)
