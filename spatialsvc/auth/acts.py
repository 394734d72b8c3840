"""Administrative acts with their audit rows: the one place the CLI and the HTTP API go through.

Every act (a department created, a key created or revoked, a token issued, an application
filed, approved, rejected or revoked) is one call here.  It opens its own connection and

- when the act succeeds, appends its audit event (:func:`spatialsvc.audit.log.append`) in the
  **same transaction** as the change, right before the commit: the act is never done without
  its row, nor the row written without the act (a failed append rolls the act back);
- when the core refuses it (a :class:`~spatialsvc.errors.SpatialsvcError` with a 4xx status:
  400, 401, 403, 404, 409), rolls the change back and records the refusal, with that status,
  in a transaction of its own (:func:`spatialsvc.audit.log.record`), then raises the error.

The event names who acted (``actor_key_id``, ``department``, ``role`` of the caller's key; the
command line without a key is an administrator: role ``admin``, department NULL), the layer as
``resource`` where there is one, and the non-secret details in ``params`` (``via`` ``cli`` or
``http``, the operating-system ``user`` for the CLI).  A key or its hash is never written.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

import psycopg2

from spatialsvc.audit.event import Event
from spatialsvc.audit.log import LOCK_TIMEOUT, append, record
from spatialsvc.auth import applications, keys, tokens
from spatialsvc.auth.applications import Application
from spatialsvc.auth.keys import KeyRecord, NewKey
from spatialsvc.auth.policy import Resource
from spatialsvc.auth.principal import Principal
from spatialsvc.db.connect import database_failure
from spatialsvc.errors import Forbidden, SpatialsvcError, Unauthorized
from spatialsvc.settings import Settings

LOG = logging.getLogger("spatialsvc.auth.acts")

T = TypeVar("T")
Connect = Callable[[], Any]
"""Opens a new psycopg2 connection (not in autocommit); the act closes it."""

DECISIONS: dict[str, Callable[..., Application]] = {
    "approve": applications.approve,
    "reject": applications.reject,
    "revoke": applications.revoke,
}


def os_user() -> str:
    """Who runs the command line, for the audit (never fails)."""
    try:
        return getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry (a bare container)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class Actor:
    """Who performs an act, and through what.

    ``principal`` is the caller when already known (the HTTP API: the access middleware's);
    ``key`` an API key to authenticate inside the act's transaction (the CLI's ``--key``); with
    neither, the act is the command line's operator acting as administrator.
    """

    via: Literal["cli", "http"]
    endpoint: str
    method: str
    principal: Principal | None = None
    key: str | None = field(default=None, repr=False)
    user: str | None = None
    client: str | None = None

    @classmethod
    def cli(cls, command: str, key: str | None = None) -> Actor:
        """The command line: ``command`` as typed after ``spatialsvc`` (no arguments)."""
        return cls("cli", f"spatialsvc {command}", "CLI", key=key, user=os_user())

    @classmethod
    def http(
        cls, principal: Principal, endpoint: str, method: str, client: str | None = None
    ) -> Actor:
        """An HTTP request by a signed-in caller."""
        return cls("http", endpoint, method, principal=principal, client=client)


@dataclass
class _Act:
    """One act in progress: what its audit row will say."""

    actor: Actor
    action: str
    status: int
    principal: Principal | None = None
    resource: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def event(self, status: int, error: str | None = None) -> Event:
        p = self.principal
        params: dict[str, Any] = {"via": self.actor.via}
        if self.actor.user is not None:
            params["user"] = self.actor.user
        if p is not None and p.subject and not p.key_id:
            params["subject"] = p.subject
        params.update(self.params)
        if error is not None:
            params["error"] = error
        if p is None:
            # the CLI without a key is the administrator; a key that failed is nobody
            role = "public" if self.actor.key is not None else "admin"
            key_id = department = None
        else:
            role, key_id, department = p.role, p.key_id, p.department
        return Event(
            action=self.action,
            endpoint=self.actor.endpoint,
            method=self.actor.method,
            status=status,
            role=role,
            actor_key_id=key_id,
            department=department,
            resource=self.resource,
            params=params,
            client=self.actor.client,
        )


def _signed_in(conn: Any, act: _Act) -> Principal:
    """The acting principal: the actor's, or its key's (authenticated and touched now)."""
    if act.actor.principal is not None:
        act.principal = act.actor.principal
        return act.principal
    if act.actor.key is None:
        raise Forbidden("this act needs a department's key")
    principal = keys.authenticate(conn, act.actor.key)
    if principal is None or principal.key_id is None:
        raise Unauthorized("the key is wrong, revoked or expired")
    keys.touch(conn, principal.key_id)
    act.principal = principal
    return principal


def _registered(conn: Any, principal: Principal) -> None:
    """A department from an external issuer's token must be registered to act."""
    if principal.department is not None and not keys.department_exists(conn, principal.department):
        raise Forbidden(f"department {principal.department} is not registered on this platform")


def _perform(connect: Connect, act: _Act, work: Callable[[Any, _Act], T]) -> T:
    """Run ``work`` and the act's audit row in one transaction; record a refusal on its own."""
    conn = connect()
    try:
        try:
            with conn:
                result = work(conn, act)
                with conn.cursor() as cur:  # wait for the audit anchor's lock, but not forever
                    cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                append(conn, [act.event(act.status)])
            return result
        except psycopg2.Error as exc:
            raise database_failure(exc, act.action) from exc
    except SpatialsvcError as exc:
        if 400 <= exc.status_code < 500 and not conn.closed:
            try:
                record(conn, act.event(exc.status_code, exc.message))
            except SpatialsvcError as failure:
                LOG.error("recording the refused %s failed: %s", act.action, failure.message)
        raise
    finally:
        conn.close()


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- departments, keys, tokens --------------------------------------------------------------


def create_department(connect: Connect, actor: Actor, code: str, name: str) -> None:
    """Register a department (``admin.department.create``)."""
    act = _Act(actor, "admin.department.create", 201, params={"code": code, "name": name})

    def work(conn: Any, act: _Act) -> None:
        _admin(conn, act)
        keys.create_department(conn, code, name)

    _perform(connect, act, work)


def _admin(conn: Any, act: _Act) -> None:
    """Keys and departments are the platform administrators' (the CLI's operator)."""
    if act.actor.principal is None and act.actor.key is None:
        return  # the command line's operator, who holds the database
    principal = _signed_in(conn, act)
    if not principal.is_admin:
        raise Forbidden("only a platform administrator may manage departments and keys")


def create_key(
    connect: Connect,
    actor: Actor,
    department: str,
    role: str,
    label: str = "",
    expires: datetime | None = None,
) -> NewKey:
    """Make an API key (``admin.key.create``); the row names the key's id, never the key."""
    act = _Act(
        actor,
        "admin.key.create",
        201,
        params={
            "key_department": department,
            "key_role": role,
            "label": label,
            "expires": _when(expires),
        },
    )

    def work(conn: Any, act: _Act) -> NewKey:
        _admin(conn, act)
        new = keys.create_key(conn, department, role, label, expires)
        act.params = {"key_id": new.record.id, **act.params}
        return new

    return _perform(connect, act, work)


def revoke_key(connect: Connect, actor: Actor, key_id: str) -> KeyRecord:
    """Revoke a key by its id (``admin.key.revoke``)."""
    act = _Act(actor, "admin.key.revoke", 200, params={"key_id": key_id})

    def work(conn: Any, act: _Act) -> KeyRecord:
        _admin(conn, act)
        r = keys.revoke(conn, key_id)
        act.params["key_department"] = r.department
        act.params["key_role"] = r.role
        return r

    return _perform(connect, act, work)


def issue_token(connect: Connect, actor: Actor, settings: Settings, ttl: int) -> str:
    """A bearer token for the actor's key (``admin.token.issue``; the token is not kept)."""
    act = _Act(actor, "admin.token.issue", 201, params={"ttl": ttl})

    def work(conn: Any, act: _Act) -> str:
        principal = _signed_in(conn, act)
        token = tokens.issue(settings, principal, ttl)
        act.params["key_id"] = principal.key_id
        return token

    return _perform(connect, act, work)


# -- applications ---------------------------------------------------------------------------


def apply(
    connect: Connect,
    actor: Actor,
    resources: Mapping[str, Resource],
    resource_id: str,
    purpose: str,
    until: datetime,
    fields: Iterable[str] | None = None,
    valid_from: datetime | None = None,
) -> Application:
    """File an application for the actor's department (``application.apply``)."""
    wanted = list(fields) if fields is not None else None
    act = _Act(
        actor,
        "application.apply",
        201,
        resource=resource_id,
        params={
            "purpose": purpose,
            "fields": wanted,
            "valid_from": _when(valid_from),
            "valid_until": _when(until),
        },
    )

    def work(conn: Any, act: _Act) -> Application:
        principal = _signed_in(conn, act)
        _registered(conn, principal)
        a = applications.apply(
            conn, principal, resources, resource_id, purpose, until, wanted, valid_from
        )
        act.params.update(
            application_id=a.id,
            fields=list(a.fields) if a.fields is not None else None,
            valid_from=_when(a.valid_from),
            valid_until=_when(a.valid_until),
        )
        return a

    return _perform(connect, act, work)


def decide(
    connect: Connect,
    actor: Actor,
    resources: Mapping[str, Resource],
    verb: str,
    application_id: int,
    reason: str | None = None,
) -> Application:
    """Approve, reject or revoke an application (``application.<verb>``)."""
    decision = DECISIONS[verb]
    act = _Act(
        actor,
        f"application.{verb}",
        200,
        params={"application_id": application_id, "reason": reason},
    )

    def work(conn: Any, act: _Act) -> Application:
        principal = _signed_in(conn, act)
        _registered(conn, principal)
        try:
            # the resource is named in the row of a refusal too (403, 409), when the id exists
            act.resource = applications.get(conn, application_id).resource
        except SpatialsvcError:
            pass
        args = (reason,) if verb == "approve" else (reason or "",)
        a = decision(conn, principal, resources, application_id, *args)
        act.params["applicant"] = a.department
        return a

    return _perform(connect, act, work)
