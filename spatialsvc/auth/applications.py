"""Applications (共享申请) for conditional resources: apply, approve, reject, revoke, list.

The owner of a resource is its layer's department.  Only the owner's publishers and admins, or
the platform's administrators, decide.  An approved application is a grant while its period
covers now (:mod:`spatialsvc.auth.grants`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spatialsvc.auth.policy import Resource
from spatialsvc.auth.principal import Principal
from spatialsvc.errors import Conflict, Forbidden, InvalidInput, NotFound


@dataclass(frozen=True)
class Application:
    """One application and its decision."""

    id: int
    department: str
    resource: str
    purpose: str
    fields: tuple[str, ...] | None
    valid_from: datetime
    valid_until: datetime
    status: str
    applied_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


def _row(r: tuple[Any, ...]) -> Application:
    values = list(r)
    values[4] = tuple(values[4]) if values[4] is not None else None
    return Application(*values)


def _resource(resources: Mapping[str, Resource], resource_id: str) -> Resource:
    try:
        return resources[resource_id]
    except KeyError:
        known = ", ".join(sorted(resources)) or "none"
        raise NotFound(f"unknown resource {resource_id!r} (known: {known})") from None


def apply(
    conn: Any,
    principal: Principal,
    resources: Mapping[str, Resource],
    resource_id: str,
    purpose: str,
    until: datetime,
    fields: Iterable[str] | None = None,
    valid_from: datetime | None = None,
) -> Application:
    """File an application for a conditional resource on behalf of the caller's department."""
    if principal.department is None:
        raise Forbidden("the public cannot apply: use a department's key")
    resource = _resource(resources, resource_id)
    if resource.sharing != "conditional":
        raise InvalidInput(
            f"{resource_id} is shared {resource.sharing!r}: only conditional resources "
            "take applications"
        )
    if resource.department == principal.department:
        raise InvalidInput(f"{resource_id} belongs to {principal.department}: no need to apply")
    if not purpose.strip():
        raise InvalidInput("an application needs a purpose")
    asked = tuple(dict.fromkeys(fields)) if fields is not None else None
    if asked is not None:
        unknown = [f for f in asked if f not in resource.fields]
        if unknown or not asked:
            raise InvalidInput(
                f"{resource_id} has no field {', '.join(unknown) or '(empty list)'} "
                f"(fields: {', '.join(resource.fields)})"
            )
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(%s, now()), now()", (valid_from,))
        start, now = cur.fetchone()
        if until <= now:
            raise InvalidInput("the period has already ended (--until is in the past)")
        if until <= start:
            raise InvalidInput("the period ends before it starts (--until is too early)")
        cur.execute(
            "INSERT INTO auth.application "
            "(department, resource, purpose, fields, valid_from, valid_until, applied_key) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id, department, resource, purpose, fields, valid_from, valid_until, "
            "status, applied_at, decided_by, decided_at, reason",
            (
                principal.department,
                resource_id,
                purpose.strip(),
                list(asked) if asked is not None else None,
                start,
                until,
                principal.key_id,
            ),
        )
        return _row(cur.fetchone())


def get(conn: Any, application_id: int) -> Application:
    """One application by id."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, department, resource, purpose, fields, valid_from, valid_until, "
            "status, applied_at, decided_by, decided_at, reason "
            "FROM auth.application WHERE id = %s",
            (application_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no application {application_id}")
    return _row(row)


def may_see(
    principal: Principal, resources: Mapping[str, Resource], application: Application
) -> bool:
    """The rule of :func:`list_applications` for one application: the applying department,
    the resource's owner and administrators see it."""
    if principal.is_admin:
        return True
    if principal.department is None:
        return False
    owner = resources.get(application.resource)
    return application.department == principal.department or (
        owner is not None and owner.department == principal.department
    )


def get_visible(
    conn: Any, principal: Principal, resources: Mapping[str, Resource], application_id: int
) -> Application:
    """One application the caller may see; any other is :class:`NotFound`, as if missing."""
    application = get(conn, application_id)
    if not may_see(principal, resources, application):
        raise NotFound(f"no application {application_id}")
    return application


def _may_decide(principal: Principal, resource: Resource) -> None:
    if principal.is_admin:
        return
    if principal.department != resource.department:
        raise Forbidden(
            f"only {resource.department} (the owner of {resource.id}) or an administrator "
            "may decide this application"
        )
    if principal.role not in ("publisher", "admin"):
        raise Forbidden(f"deciding needs a publisher or admin key of {resource.department}")


def _decide(
    conn: Any,
    principal: Principal,
    resources: Mapping[str, Resource],
    application_id: int,
    status: str,
    from_status: str,
    reason: str | None,
) -> Application:
    current = get(conn, application_id)
    _may_decide(principal, _resource(resources, current.resource))
    if current.status != from_status:
        verb = {"pending": "already decided", "approved": "not approved"}[from_status]
        raise Conflict(f"application {application_id} is {verb} (status {current.status})")
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth.application SET status = %s, decided_by = %s, decided_key = %s, "
            "decided_at = now(), reason = %s WHERE id = %s AND status = %s "
            "RETURNING id, department, resource, purpose, fields, valid_from, valid_until, "
            "status, applied_at, decided_by, decided_at, reason",
            (status, principal.department, principal.key_id, reason, application_id, from_status),
        )
        row = cur.fetchone()
    if row is None:  # decided by someone else meanwhile
        raise Conflict(f"application {application_id} is already decided")
    return _row(row)


def approve(
    conn: Any,
    principal: Principal,
    resources: Mapping[str, Resource],
    application_id: int,
    reason: str | None = None,
) -> Application:
    """Approve a pending application (the owner or an administrator)."""
    return _decide(conn, principal, resources, application_id, "approved", "pending", reason)


def reject(
    conn: Any,
    principal: Principal,
    resources: Mapping[str, Resource],
    application_id: int,
    reason: str,
) -> Application:
    """Reject a pending application, saying why."""
    if not reason.strip():
        raise InvalidInput("a rejection needs a reason")
    return _decide(conn, principal, resources, application_id, "rejected", "pending", reason)


def revoke(
    conn: Any,
    principal: Principal,
    resources: Mapping[str, Resource],
    application_id: int,
    reason: str,
) -> Application:
    """Withdraw an approved grant before its period ends."""
    if not reason.strip():
        raise InvalidInput("revoking needs a reason")
    return _decide(conn, principal, resources, application_id, "revoked", "approved", reason)


def list_applications(
    conn: Any,
    principal: Principal,
    resources: Mapping[str, Resource],
    status: str | None = None,
) -> list[Application]:
    """Applications the caller may see: its department's own, and those for resources it
    owns; administrators see all."""
    owned = [r.id for r in resources.values() if r.department == principal.department]
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, department, resource, purpose, fields, valid_from, valid_until, "
            "status, applied_at, decided_by, decided_at, reason FROM auth.application "
            "WHERE (%(admin)s OR department = %(d)s OR resource = ANY(%(owned)s::text[])) "
            "AND (%(s)s::text IS NULL OR status = %(s)s) ORDER BY id",
            {"admin": principal.is_admin, "d": principal.department, "owned": owned, "s": status},
        )
        return [_row(r) for r in cur.fetchall()]
