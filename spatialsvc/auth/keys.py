"""API keys: ``ssk_<id>_<secret>``, shown once; only the SHA-256 of the key is stored.

``id`` (8 letters and digits) is public: it finds the row and names the key in lists, the
audit and ``revoke-key``.  The secret is 32 random bytes, URL-safe base64.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spatialsvc.auth.principal import KEY_ROLES, Principal
from spatialsvc.errors import Conflict, InvalidInput, NotFound

PREFIX = "ssk"
_ID_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(r"^ssk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class KeyRecord:
    """A stored key, without its secret."""

    id: str
    department: str
    role: str
    label: str
    created: datetime
    expires: datetime | None
    revoked_at: datetime | None
    last_used: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``key`` is the only copy of the secret there will ever be."""

    key: str
    record: KeyRecord


def digest(key: str) -> bytes:
    """SHA-256 of a presented key (what is stored and compared)."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def _record(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(*row)


def create_department(conn: Any, code: str, name: str) -> None:
    """Add a department; an existing code is a :class:`Conflict`."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", code):
        raise InvalidInput(f"department code {code!r}: 1-32 letters, digits, '-' or '_'")
    if not name.strip():
        raise InvalidInput("a department needs a name")
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO auth.department (code, name) VALUES (%s, %s) "
            "ON CONFLICT (code) DO NOTHING RETURNING code",
            (code, name.strip()),
        )
        if cur.fetchone() is None:
            raise Conflict(f"department {code} already exists")


def department_exists(conn: Any, code: str) -> bool:
    """True if the department is registered."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM auth.department WHERE code = %s", (code,))
        return cur.fetchone() is not None


def create_key(
    conn: Any,
    department: str,
    role: str,
    label: str = "",
    expires: datetime | None = None,
) -> NewKey:
    """Make a key for a registered department; the caller shows ``NewKey.key`` once."""
    if role not in KEY_ROLES:
        raise InvalidInput(f"role {role!r}: one of {', '.join(KEY_ROLES)}")
    if not department_exists(conn, department):
        raise NotFound(
            f"unknown department {department}: "
            f"create it with `spatialsvc auth create-department {department} --name NAME`"
        )
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    with conn.cursor() as cur:
        cur.execute("SELECT now()")
        if expires is not None and expires <= cur.fetchone()[0]:
            raise InvalidInput("the key's expiry date is in the past")
        cur.execute(
            "INSERT INTO auth.api_key (id, department, role, label, key_sha256, expires) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, department, role, label, "
            "created, expires, revoked_at, last_used",
            (key_id, department, role, label, digest(key), expires),
        )
        record = _record(cur.fetchone())
    return NewKey(key=key, record=record)


def authenticate(conn: Any, presented: str, now: datetime | None = None) -> Principal | None:
    """The principal of a presented key, or None if it is malformed, unknown, wrong, revoked
    or expired.  Read-only; compares digests in constant time."""
    presented = presented.strip()
    m = _KEY.match(presented)
    if not m:
        return None
    with conn.cursor() as cur:
        cur.execute(
            "SELECT department, role, key_sha256, "
            "revoked_at IS NULL AND (expires IS NULL OR expires > coalesce(%s, now())) "
            "FROM auth.api_key WHERE id = %s",
            (now, m.group(1)),
        )
        row = cur.fetchone()
    if row is None:
        hmac.compare_digest(digest(presented), bytes(32))  # same work for unknown ids
        return None
    department, role, stored, usable = row
    if not hmac.compare_digest(digest(presented), bytes(stored)) or not usable:
        return None
    return Principal(department=department, role=role, key_id=m.group(1))


def touch(conn: Any, key_id: str) -> None:
    """Record that a key was used (at most once a minute, to keep writes rare)."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth.api_key SET last_used = now() WHERE id = %s "
            "AND (last_used IS NULL OR last_used < now() - interval '1 minute')",
            (key_id,),
        )


def revoke(conn: Any, key_id: str) -> KeyRecord:
    """Revoke a key by its id; revoking twice is a :class:`Conflict`."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth.api_key SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL "
            "RETURNING id, department, role, label, "
            "created, expires, revoked_at, last_used",
            (key_id,),
        )
        row = cur.fetchone()
        if row is None:
            cur.execute("SELECT 1 FROM auth.api_key WHERE id = %s", (key_id,))
            if cur.fetchone() is None:
                raise NotFound(f"no key {key_id}")
            raise Conflict(f"key {key_id} is already revoked")
    return _record(row)


def list_keys(conn: Any, department: str | None = None) -> list[KeyRecord]:
    """Every key (optionally of one department), newest first."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, department, role, label, "
            "created, expires, revoked_at, last_used FROM auth.api_key "
            "WHERE %(d)s::text IS NULL OR department = %(d)s ORDER BY created DESC, id",
            {"d": department},
        )
        return [_record(r) for r in cur.fetchall()]
