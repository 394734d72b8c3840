from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from spatialsvc.auth import keys
from spatialsvc.errors import Conflict, InvalidInput, NotFound


def test_key_is_stored_as_its_hash_only(conn, departments) -> None:  # type: ignore[no-untyped-def]
    new = keys.create_key(conn, "mz-hs", "consumer", "app")
    conn.commit()
    assert new.key.startswith(f"ssk_{new.record.id}_") and len(new.key) == 4 + 9 + 43
    with conn.cursor() as cur:
        cur.execute(
            "SELECT key_sha256, t::text FROM auth.api_key t WHERE id = %s", (new.record.id,)
        )
        stored, whole_row = cur.fetchone()
    assert bytes(stored) == hashlib.sha256(new.key.encode()).digest()
    secret = new.key[len("ssk_") + 9 :]
    assert new.key not in whole_row and secret not in whole_row
    p = keys.authenticate(conn, new.key)
    assert p is not None and (p.department, p.role, p.key_id) == (
        "mz-hs",
        "consumer",
        new.record.id,
    )


def test_wrong_malformed_and_unknown_keys_fail(conn, departments) -> None:  # type: ignore[no-untyped-def]
    new = keys.create_key(conn, "mz-hs", "consumer")
    conn.commit()
    wrong = new.key[:-1] + ("A" if new.key[-1] != "A" else "B")
    assert keys.authenticate(conn, wrong) is None
    assert keys.authenticate(conn, "ssk_zzzzzzzz_" + "a" * 43) is None
    assert keys.authenticate(conn, "not a key") is None
    assert keys.authenticate(conn, "") is None


def test_revoked_key_fails(conn, departments) -> None:  # type: ignore[no-untyped-def]
    new = keys.create_key(conn, "mz-hs", "consumer")
    keys.revoke(conn, new.record.id)
    conn.commit()
    assert keys.authenticate(conn, new.key) is None
    with pytest.raises(Conflict):
        keys.revoke(conn, new.record.id)
    with pytest.raises(NotFound):
        keys.revoke(conn, "nokey000")
    conn.rollback()


def test_expired_key_fails(conn, departments) -> None:  # type: ignore[no-untyped-def]
    expires = datetime.now(UTC) + timedelta(days=1)
    new = keys.create_key(conn, "mz-hs", "consumer", expires=expires)
    conn.commit()
    assert keys.authenticate(conn, new.key) is not None
    assert keys.authenticate(conn, new.key, now=expires + timedelta(seconds=1)) is None
    assert new.record.state(expires) == "expired"
    with pytest.raises(InvalidInput, match="past"):
        keys.create_key(conn, "mz-hs", "consumer", expires=datetime.now(UTC) - timedelta(days=1))
    conn.rollback()


def test_unknown_department_and_role(conn, departments) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="create-department"):
        keys.create_key(conn, "nowhere", "consumer")
    with pytest.raises(InvalidInput, match="role"):
        keys.create_key(conn, "mz-hs", "superuser")
    with pytest.raises(Conflict):
        keys.create_department(conn, "mz-hs", "again")
    conn.rollback()


def test_touch_records_last_use(conn, departments) -> None:  # type: ignore[no-untyped-def]
    new = keys.create_key(conn, "mz-hs", "consumer")
    keys.touch(conn, new.record.id)
    conn.commit()
    (rec,) = [r for r in keys.list_keys(conn, "mz-hs") if r.id == new.record.id]
    assert rec.last_used is not None and rec.state(datetime.now(UTC)) == "active"
