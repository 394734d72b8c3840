"""Administrative acts through the real command line leave exactly one audit row each, refused
acts too; the row commits with the act or not at all; the chain stays intact."""

from __future__ import annotations

import getpass
import hashlib
import os
import subprocess
import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from spatialsvc.auth import acts
from spatialsvc.auth.keys import department_exists
from spatialsvc.errors import SpatialsvcError
from spatialsvc.settings import Settings
from tests.conftest import ROOT

CLI = str(ROOT / ".venv" / "bin" / "spatialsvc")
UNTIL = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%d")
USER = acts.os_user()


@pytest.fixture(scope="module")
def cli_env(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a command line run against the session database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPATIALSVC_")}
    env["DATABASE_URL"] = db_url
    env["SPATIALSVC_HOME"] = str(tmp_path_factory.mktemp("cli-home"))
    return env


def cli(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    else:
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: "), done.stderr
    return done


def rows(db_url: str, where: str, *values: Any) -> list[dict[str, Any]]:
    """Audit rows matching ``where``, oldest first."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT seq, actor_key_id, department, role, action, resource, endpoint, method, "
            f"params, status, params::text AS raw FROM audit.event WHERE {where} ORDER BY seq",
            values,
        )
        names = [d.name for d in cur.description or ()]
        found = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    conn.close()
    return found


def test_keys_departments_and_tokens(cli_env: dict[str, str], db_url: str) -> None:
    code = f"a-{uuid.uuid4().hex[:6]}"
    cli(cli_env, "auth", "create-department", code, "--name", "审计测试局")
    [made] = rows(db_url, "action = 'admin.department.create' AND params->>'code' = %s", code)
    assert made["status"] == 201 and made["role"] == "admin"
    assert made["department"] is None and made["actor_key_id"] is None
    assert made["params"] == {"via": "cli", "user": USER, "code": code, "name": "审计测试局"}
    assert made["endpoint"] == "spatialsvc auth create-department" and made["method"] == "CLI"

    key = cli(cli_env, "auth", "create-key", "--department", code, "--role", "publisher",
              "--label", "审计", "--expires", "2099-01-01").stdout.strip()  # fmt: skip
    key_id = key.split("_")[1]
    [made] = rows(db_url, "action = 'admin.key.create' AND params->>'key_id' = %s", key_id)
    assert made["status"] == 201 and made["role"] == "admin" and made["department"] is None
    p = made["params"]
    assert (p["key_department"], p["key_role"], p["label"]) == (code, "publisher", "审计")
    assert p["expires"].startswith("2099-01-01") and p["via"] == "cli" and p["user"] == USER

    token = cli(cli_env, "auth", "token", "--key", key, "--ttl", "60").stdout.strip()
    [issued] = rows(db_url, "action = 'admin.token.issue' AND actor_key_id = %s", key_id)
    assert issued["status"] == 201 and issued["department"] == code
    assert issued["role"] == "publisher" and issued["params"]["ttl"] == 60
    assert issued["params"]["key_id"] == key_id

    cli(cli_env, "auth", "revoke-key", key_id)
    [revoked] = rows(db_url, "action = 'admin.key.revoke' AND params->>'key_id' = %s", key_id)
    assert revoked["status"] == 200 and revoked["role"] == "admin"
    assert revoked["params"]["key_department"] == code

    # refused acts: one row each, with the status the web would answer and the reason
    cli(cli_env, "auth", "create-department", code, "--name", "x", ok=False)
    cli(cli_env, "auth", "revoke-key", key_id, ok=False)
    cli(cli_env, "auth", "token", "--key", key, ok=False)
    cli(cli_env, "auth", "create-key", "--department", f"{code}-none", ok=False)
    dep = rows(db_url, "action = 'admin.department.create' AND params->>'code' = %s", code)
    assert [r["status"] for r in dep] == [201, 409]
    assert "already exists" in dep[1]["params"]["error"]
    again = rows(db_url, "action = 'admin.key.revoke' AND params->>'key_id' = %s", key_id)
    assert [r["status"] for r in again] == [200, 409]
    [bad_token] = rows(
        db_url, "action = 'admin.token.issue' AND status = 401 AND seq > %s", again[1]["seq"]
    )
    assert bad_token["role"] == "public" and bad_token["department"] is None
    assert bad_token["actor_key_id"] is None and bad_token["params"]["user"] == USER
    [no_dept] = rows(
        db_url, "action = 'admin.key.create' AND params->>'key_department' = %s", f"{code}-none"
    )
    assert no_dept["status"] == 404 and "unknown department" in no_dept["params"]["error"]

    # never the key, its hash or the token
    everything = " ".join(r["raw"] for r in rows(db_url, "true"))
    secret = key.split("_", 2)[2]
    assert secret not in everything and token not in everything
    assert hashlib.sha256(key.encode()).hexdigest() not in everything


def test_applications_through_the_cli(
    cli_env: dict[str, str], db_url: str, departments: dict[str, str]
) -> None:
    code = f"b-{uuid.uuid4().hex[:6]}"
    cli(cli_env, "auth", "create-department", code, "--name", "申请测试局")
    applicant = cli(cli_env, "auth", "create-key", "--department", code).stdout.strip()
    owner = cli(cli_env, "auth", "create-key", "--department", "ga-hs", "--role", "publisher")
    owner_key = owner.stdout.strip()
    owner_id, applicant_id = owner_key.split("_")[1], applicant.split("_")[1]

    def apply() -> int:
        done = cli(cli_env, "application", "apply", "--key", applicant, "--resource", "camera",
                   "--purpose", "审计", "--fields", "name", "--until", UNTIL)  # fmt: skip
        return int(done.stdout.strip())

    first, second = apply(), apply()
    for app_id in (first, second):
        [row] = rows(db_url, "action = 'application.apply' AND params->>'application_id' = %s",
                     str(app_id))  # fmt: skip
        assert (row["status"], row["department"], row["role"]) == (201, code, "consumer")
        assert row["actor_key_id"] == applicant_id and row["resource"] == "camera"
        assert row["params"]["fields"] == ["name"] and row["params"]["via"] == "cli"

    cli(cli_env, "application", "approve", str(first), "--key", applicant, ok=False)
    cli(cli_env, "application", "approve", str(first), "--key", owner_key)
    cli(cli_env, "application", "revoke", str(first), "--key", owner_key, "--reason", "结束")
    cli(cli_env, "application", "reject", str(second), "--key", owner_key, ok=False)
    cli(cli_env, "application", "reject", str(second), "--key", owner_key, "--reason", "不符")

    def trail(app_id: int) -> list[tuple[str, int, str | None, str | None]]:
        return [
            (r["action"], r["status"], r["department"], r["actor_key_id"])
            for r in rows(
                db_url,
                "action LIKE 'application.%%' AND params->>'application_id' = %s",
                str(app_id),
            )  # fmt: skip
        ]

    assert trail(first) == [
        ("application.apply", 201, code, applicant_id),
        ("application.approve", 403, code, applicant_id),
        ("application.approve", 200, "ga-hs", owner_id),
        ("application.revoke", 200, "ga-hs", owner_id),
    ]
    assert trail(second) == [
        ("application.apply", 201, code, applicant_id),
        ("application.reject", 400, "ga-hs", owner_id),
        ("application.reject", 200, "ga-hs", owner_id),
    ]
    [revoked] = rows(db_url, "action = 'application.revoke' AND params->>'application_id' = %s",
                     str(first))  # fmt: skip
    assert revoked["resource"] == "camera" and revoked["params"]["reason"] == "结束"
    assert revoked["params"]["applicant"] == code and revoked["params"]["user"] == USER


def test_an_act_without_its_audit_row_is_not_done(settings: Settings, db_url: str) -> None:
    """While the audit anchor is locked elsewhere, the act waits, fails and is rolled back."""
    from spatialsvc.db.connect import connect

    code = f"c-{uuid.uuid4().hex[:6]}"
    holder = psycopg2.connect(db_url)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder, holder.cursor() as cur:
            cur.execute("SELECT seq FROM audit.anchor WHERE id FOR UPDATE")
            locked.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(10)
        with pytest.raises(SpatialsvcError) as failed:
            acts.create_department(
                lambda: connect(settings, "test"), acts.Actor.cli("auth create-department"),
                code, "锁住的审计",
            )  # fmt: skip
        assert failed.value.status_code == 500 and "nothing changed" in failed.value.message
    finally:
        release.set()
        thread.join()
        holder.close()
    conn = psycopg2.connect(db_url)
    try:
        assert not department_exists(conn, code)
    finally:
        conn.close()
    assert rows(db_url, "params->>'code' = %s", code) == []


def test_the_chain_is_intact_through_the_cli(cli_env: dict[str, str]) -> None:
    done = cli(cli_env, "audit", "verify")
    assert "chain intact" in done.stdout, done.stdout


def test_os_user_never_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> str:
        raise OSError("no user")

    monkeypatch.setattr(getpass, "getuser", broken)
    assert acts.os_user().startswith("uid:")
    assert Path(CLI).exists()
