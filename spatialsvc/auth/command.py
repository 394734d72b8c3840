"""The ``spatialsvc auth`` and ``spatialsvc application`` command groups.

Every act (create a department or a key, revoke a key, issue a token, apply, approve, reject,
revoke) goes through :mod:`spatialsvc.auth.acts`, which writes its audit row in the act's own
transaction (or records the refusal).  Listing is not an act and is not audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import click

from spatialsvc.auth.policy import Resource
from spatialsvc.auth.principal import KEY_ROLES, Principal
from spatialsvc.cli_context import settings_of
from spatialsvc.errors import Unauthorized
from spatialsvc.settings import Settings

_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])


def _local(value: datetime | None) -> datetime | None:
    """A date from the command line, in the machine's time zone."""
    return value.astimezone() if value is not None else None


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"


def _resources(settings: Settings) -> Mapping[str, Resource]:
    from spatialsvc.auth.policy import resources_from_layers
    from spatialsvc.layers import load_layers

    return resources_from_layers(load_layers(settings.layers_dir))


def _principal(conn: Any, key: str) -> Principal:
    from spatialsvc.auth.keys import authenticate, touch

    principal = authenticate(conn, key)
    if principal is None or principal.key_id is None:
        raise Unauthorized("the key is wrong, revoked or expired")
    touch(conn, principal.key_id)
    return principal


def _connect(settings: Settings) -> Callable[[], Any]:
    """How an act opens its connection."""
    from spatialsvc.db.connect import connect

    return lambda: connect(settings, "spatialsvc-auth")


@click.group("auth")
def auth() -> None:
    """Departments, API keys and bearer tokens (see docs/access.md)."""


@auth.command("create-department")
@click.argument("code")
@click.option("--name", required=True, help="The department's full name.")
@click.option(
    "--exist-ok", is_flag=True, help="A department of that code already there is not an error."
)
@click.pass_context
def create_department(ctx: click.Context, code: str, name: str, exist_ok: bool) -> None:
    """Register a department (CODE as in layers/*.yml, e.g. ga-hs)."""
    from spatialsvc.auth import acts
    from spatialsvc.auth.keys import department_exists

    connect = _connect(settings_of(ctx))
    if exist_ok:
        conn = connect()
        try:
            if department_exists(conn, code):
                click.echo(f"department {code} exists already", err=True)
                return
        finally:
            conn.close()
    acts.create_department(connect, acts.Actor.cli("auth create-department"), code, name)
    click.echo(f"department {code} created", err=True)


@auth.command("create-key")
@click.option("--department", required=True, help="Code of a registered department.")
@click.option("--role", type=click.Choice(KEY_ROLES), default="consumer", show_default=True)
@click.option("--label", default="", help="What the key is for (an app's name).")
@click.option("--expires", type=_DATE, default=None, help="Expiry date (local time).")
@click.pass_context
def create_key(
    ctx: click.Context, department: str, role: str, label: str, expires: datetime | None
) -> None:
    """Make an API key and print it on stdout: the only time it is shown."""
    from spatialsvc.auth import acts

    new = acts.create_key(
        _connect(settings_of(ctx)), acts.Actor.cli("auth create-key"),
        department, role, label, _local(expires),
    )  # fmt: skip
    r = new.record
    click.echo(
        f"key {r.id} for {r.department} ({r.role}), expires {_when(r.expires)}: "
        "store it now, it is not shown again",
        err=True,
    )
    click.echo(new.key)


@auth.command("list-keys")
@click.option("--department", default=None, help="Only this department's keys.")
@click.pass_context
def list_keys(ctx: click.Context, department: str | None) -> None:
    """List keys (ids and states, never the keys)."""
    from spatialsvc.auth import keys
    from spatialsvc.db.connect import transaction

    now = datetime.now(UTC)
    with transaction(settings_of(ctx), "spatialsvc-auth") as conn:
        rows = keys.list_keys(conn, department)
    click.echo("id        department        role       state    created           expires  "
               "         last used         label")  # fmt: skip
    for r in rows:
        click.echo(
            f"{r.id:<9} {r.department:<17} {r.role:<10} {r.state(now):<8} {_when(r.created):<17} "
            f"{_when(r.expires):<17} {_when(r.last_used):<17} {r.label}"
        )


@auth.command("revoke-key")
@click.argument("key_id")
@click.pass_context
def revoke_key(ctx: click.Context, key_id: str) -> None:
    """Revoke a key by its id (the 8 characters after ssk_)."""
    from spatialsvc.auth import acts

    r = acts.revoke_key(_connect(settings_of(ctx)), acts.Actor.cli("auth revoke-key"), key_id)
    click.echo(f"key {r.id} of {r.department} revoked")


@auth.command("token")
@click.option("--key", "key", required=True, help="An API key.")
@click.option("--ttl", type=int, default=3600, show_default=True, help="Life in seconds.")
@click.pass_context
def token(ctx: click.Context, key: str, ttl: int) -> None:
    """Print a bearer token for a key's department and role."""
    from spatialsvc.auth import acts

    settings = settings_of(ctx)
    actor = acts.Actor.cli("auth token", key=key)
    click.echo(acts.issue_token(_connect(settings), actor, settings, ttl))


@click.group("application")
def application() -> None:
    """Applications for conditional resources: apply, approve, reject, revoke, list."""


def _show(a: Any) -> str:
    fields = ",".join(a.fields) if a.fields else "default fields"
    line = (
        f"{a.id:<5} {a.status:<9} {a.resource:<16} {a.department:<12} "
        f"{_when(a.valid_from)} → {_when(a.valid_until)}  [{fields}]  {a.purpose}"
    )
    if a.decided_by:
        line += f"  (decided by {a.decided_by} {_when(a.decided_at)}"
        line += f": {a.reason})" if a.reason else ")"
    return line


@application.command("apply")
@click.option("--key", "key", required=True, help="The applying department's key.")
@click.option("--resource", required=True, help="Layer id, e.g. camera.")
@click.option("--purpose", required=True, help="What the data is for.")
@click.option("--fields", default=None, help="Sensitive fields wanted in clear: name,phone.")
@click.option("--from", "valid_from", type=_DATE, default=None, help="Start (default now).")
@click.option("--until", type=_DATE, required=True, help="End of the period (local time).")
@click.pass_context
def apply_cmd(
    ctx: click.Context,
    key: str,
    resource: str,
    purpose: str,
    fields: str | None,
    valid_from: datetime | None,
    until: datetime,
) -> None:
    """Apply for a conditional resource; prints the application's id on stdout."""
    from spatialsvc.auth import acts

    settings = settings_of(ctx)
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields is not None else None
    a = acts.apply(
        _connect(settings), acts.Actor.cli("application apply", key=key),
        _resources(settings), resource, purpose, until.astimezone(), wanted, _local(valid_from),
    )  # fmt: skip
    click.echo(f"application {a.id} filed, pending the owner's decision", err=True)
    click.echo(a.id)


def _decision(verb: str) -> Any:
    @application.command(verb)
    @click.argument("application_id", type=int)
    @click.option("--key", "key", required=True, help="A key of the owner or an admin.")
    @click.option("--reason", default=None, help="Why (required to reject or revoke).")
    @click.pass_context
    def command(ctx: click.Context, application_id: int, key: str, reason: str | None) -> None:
        from spatialsvc.auth import acts

        settings = settings_of(ctx)
        actor = acts.Actor.cli(f"application {verb}", key=key)
        a = acts.decide(
            _connect(settings), actor, _resources(settings), verb, application_id, reason
        )
        click.echo(_show(a))

    command.__doc__ = {
        "approve": "Approve a pending application (the resource's owner or an admin).",
        "reject": "Reject a pending application (--reason required).",
        "revoke": "Withdraw an approved grant (--reason required).",
    }[verb]
    return command


for _verb in ("approve", "reject", "revoke"):
    _decision(_verb)


@application.command("list")
@click.option("--key", "key", required=True, help="Your key: lists your and your resources'.")
@click.option(
    "--status", type=click.Choice(["pending", "approved", "rejected", "revoked"]), default=None
)
@click.pass_context
def list_cmd(ctx: click.Context, key: str, status: str | None) -> None:
    """List applications by or for the key's department (all of them for an admin)."""
    from spatialsvc.auth import applications
    from spatialsvc.db.connect import transaction

    settings = settings_of(ctx)
    with transaction(settings, "spatialsvc-auth") as conn:
        principal = _principal(conn, key)
        rows = applications.list_applications(conn, principal, _resources(settings), status)
    for a in rows:
        click.echo(_show(a))
