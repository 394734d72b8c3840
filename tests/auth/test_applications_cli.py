"""The application lifecycle through the command line, on the session database."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result

from spatialsvc.auth import tokens
from spatialsvc.auth.grants import grants_for
from spatialsvc.auth.policy import decide, resource_from_layer
from spatialsvc.auth.principal import Principal
from spatialsvc.cli import main
from spatialsvc.layers import load_layers
from spatialsvc.settings import Settings

UNTIL = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%d")


def run(settings: Settings, *args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(main, list(args), obj={"settings": settings})
    if ok:
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    else:
        assert result.exit_code == 1, (result.stdout, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    return result


@pytest.fixture(scope="module")
def ctx(settings: Settings, departments: dict[str, str]) -> dict[str, str]:
    """A fresh applying department, and keys: owner publisher, applicant, outsider."""
    code = f"t-{uuid.uuid4().hex[:6]}"
    run(settings, "auth", "create-department", code, "--name", "测试局")
    out = {"dept": code}
    for name, dept, role in [
        ("owner", "ga-hs", "publisher"),
        ("owner_consumer", "ga-hs", "consumer"),
        ("applicant", code, "consumer"),
        ("outsider", "mz-hs", "publisher"),
        ("admin", "dsj", "admin"),
    ]:
        r = run(settings, "auth", "create-key", "--department", dept, "--role", role)
        key = r.stdout.strip()
        assert re.fullmatch(r"ssk_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}", key), r.stdout
        assert "not shown again" in r.stderr
        out[name] = key
    return out


def _camera(settings: Settings):  # type: ignore[no-untyped-def]
    return resource_from_layer(load_layers(settings.layers_dir)["camera"])


def _apply(settings: Settings, key: str, *extra: str) -> int:
    r = run(settings, "application", "apply", "--key", key, "--resource", "camera",
            "--purpose", "治安巡查", "--until", UNTIL, *extra)  # fmt: skip
    return int(r.stdout.strip())


def test_lifecycle(settings: Settings, ctx: dict[str, str], conn) -> None:  # type: ignore[no-untyped-def]
    applicant = Principal(ctx["dept"], "consumer")
    camera = _camera(settings)
    app_id = _apply(settings, ctx["applicant"], "--fields", "name")
    assert not decide(applicant, camera, grants_for(conn, ctx["dept"], datetime.now(UTC))).allowed

    err = run(settings, "application", "approve", str(app_id), "--key", ctx["outsider"], ok=False)
    assert "only ga-hs" in err.stderr
    err = run(settings, "application", "approve", str(app_id), "--key", ctx["applicant"], ok=False)
    assert "only ga-hs" in err.stderr
    err = run(
        settings, "application", "approve", str(app_id), "--key", ctx["owner_consumer"], ok=False
    )
    assert "publisher or admin" in err.stderr

    r = run(settings, "application", "approve", str(app_id), "--key", ctx["owner"])
    assert "approved" in r.stdout and "decided by ga-hs" in r.stdout
    err = run(settings, "application", "approve", str(app_id), "--key", ctx["owner"], ok=False)
    assert "already decided" in err.stderr

    grants = grants_for(conn, ctx["dept"], datetime.now(UTC))
    d = decide(applicant, camera, grants)
    assert d.allowed and d.grant_ids == (app_id,) and not d.masked_fields  # name granted

    listed = run(settings, "application", "list", "--key", ctx["owner"]).stdout
    assert re.search(rf"^{app_id}\s+approved\s+camera", listed, re.M)
    assert str(app_id) not in run(settings, "application", "list", "--key", ctx["outsider"]).stdout

    # the grant expires: moved into the past, it stops working
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth.application SET valid_from = now() - interval '2 days', "
            "valid_until = now() - interval '1 day' WHERE id = %s",
            (app_id,),
        )
    conn.commit()
    d = decide(applicant, camera, grants_for(conn, ctx["dept"], datetime.now(UTC)))
    assert not d.allowed and d.status == 403 and "expired" in d.reason


def test_default_fields_are_masked_and_revoke(
    settings: Settings, ctx: dict[str, str], conn
) -> None:  # type: ignore[no-untyped-def]
    applicant = Principal(ctx["dept"], "consumer")
    app_id = _apply(settings, ctx["applicant"])
    run(settings, "application", "approve", str(app_id), "--key", ctx["admin"])
    d = decide(applicant, _camera(settings), grants_for(conn, ctx["dept"], datetime.now(UTC)))
    assert d.allowed and d.masked_fields == {"name"}
    err = run(settings, "application", "revoke", str(app_id), "--key", ctx["owner"], ok=False)
    assert "reason" in err.stderr
    run(settings, "application", "revoke", str(app_id), "--key", ctx["owner"], "--reason", "到期")
    d = decide(applicant, _camera(settings), grants_for(conn, ctx["dept"], datetime.now(UTC)))
    assert not d.allowed


def test_reject(settings: Settings, ctx: dict[str, str]) -> None:
    app_id = _apply(settings, ctx["applicant"])
    err = run(settings, "application", "reject", str(app_id), "--key", ctx["owner"], ok=False)
    assert "reason" in err.stderr
    r = run(settings, "application", "reject", str(app_id), "--key", ctx["owner"],
            "--reason", "用途不明确")  # fmt: skip
    assert "rejected" in r.stdout and "用途不明确" in r.stdout
    err = run(settings, "application", "revoke", str(app_id), "--key", ctx["owner"],
              "--reason", "x", ok=False)  # fmt: skip
    assert "not approved" in err.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resource", "nosuch", "--until", "2099-01-01"], "unknown resource"),
        (["--resource", "road", "--until", "2099-01-01"], "only conditional"),
        (["--resource", "camera", "--until", "2099-01-01", "--from", "2099-06-01"], "ends before"),
        (["--resource", "camera", "--until", "2020-01-01"], "already ended"),
        (["--resource", "camera", "--until", "2099-01-01", "--fields", "salary"], "no field"),
    ],
)
def test_apply_errors(
    settings: Settings, ctx: dict[str, str], args: list[str], message: str
) -> None:
    err = run(settings, "application", "apply", "--key", ctx["applicant"], "--purpose", "p",
              *args, ok=False)  # fmt: skip
    assert message in err.stderr


def test_owner_need_not_apply_and_bad_keys(settings: Settings, ctx: dict[str, str]) -> None:
    err = run(settings, "application", "apply", "--key", ctx["owner"], "--resource", "camera",
              "--purpose", "p", "--until", UNTIL, ok=False)  # fmt: skip
    assert "no need to apply" in err.stderr
    err = run(settings, "application", "list", "--key", "ssk_wrong", ok=False)
    assert "wrong, revoked or expired" in err.stderr
    err = run(settings, "application", "approve", "999999", "--key", ctx["owner"], ok=False)
    assert "no application 999999" in err.stderr


def test_keys_and_tokens_through_the_cli(settings: Settings, ctx: dict[str, str]) -> None:
    key = run(settings, "auth", "create-key", "--department", ctx["dept"], "--label", "临时",
              "--expires", "2099-01-01").stdout.strip()  # fmt: skip
    key_id = key.split("_")[1]
    token = run(settings, "auth", "token", "--key", key, "--ttl", "60").stdout.strip()
    assert tokens.verify(settings, token) == Principal(ctx["dept"], "consumer", key_id)
    listing = run(settings, "auth", "list-keys", "--department", ctx["dept"]).stdout
    assert re.search(rf"^{key_id}\s+{ctx['dept']}\s+consumer\s+active", listing, re.M)
    assert key not in listing
    run(settings, "auth", "revoke-key", key_id)
    assert re.search(rf"^{key_id}.*revoked", run(settings, "auth", "list-keys").stdout, re.M)
    err = run(settings, "auth", "token", "--key", key, ok=False)
    assert "wrong, revoked or expired" in err.stderr
    err = run(settings, "auth", "create-key", "--department", "nowhere", ok=False)
    assert "create-department" in err.stderr
    err = run(settings, "auth", "create-department", ctx["dept"], "--name", "x", ok=False)
    assert "already exists" in err.stderr
