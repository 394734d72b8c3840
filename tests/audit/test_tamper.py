"""Tampering, as the table owner with the triggers bypassed, is found by `spatialsvc audit
verify`: exit 1 and the broken seq named."""

from __future__ import annotations

import re
from dataclasses import replace

from click.testing import CliRunner, Result

from spatialsvc.audit import flush
from spatialsvc.audit.event import chain_hash
from spatialsvc.audit.verify import SELECT_ROWS, entry_from_row
from spatialsvc.cli import main
from spatialsvc.settings import Settings
from tests.audit.conftest import make_event

N = 20


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, ["audit", *args], obj={"settings": settings})


def fill(conn, n: int = N) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, n, 5):
        flush(conn, [make_event(i) for i in range(start, min(n, start + 5))])


def tamper(conn, *statements: str, params: tuple[object, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    """Run statements with the append-only triggers bypassed (as a superuser could)."""
    with conn, conn.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            cur.execute(statement, params or None)


def broken_at(result: Result) -> int:
    assert result.exit_code == 1, result.output
    m = re.search(r"chain broken at seq (\d+):", result.output)
    assert m, result.output
    return int(m.group(1))


def test_intact_chain_exits_0(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    result = run(audit_settings, "verify")
    assert result.exit_code == 0, result.output
    assert f"{N} events, chain intact" in result.output


def test_empty_log_is_intact(audit_settings: Settings) -> None:
    result = run(audit_settings, "verify")
    assert result.exit_code == 0 and "0 events, chain intact" in result.output


def test_edited_row(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    tamper(aconn, "UPDATE audit.event SET returned = 0 WHERE seq = 7")
    assert broken_at(run(audit_settings, "verify")) == 7
    assert "row edited" in run(audit_settings, "verify").output


def test_edited_params_with_owner_disabling_the_trigger(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    with aconn, aconn.cursor() as cur:
        cur.execute("ALTER TABLE audit.event DISABLE TRIGGER event_no_update_delete")
        cur.execute("UPDATE audit.event SET params = params || '{\"limit\": 1}' WHERE seq = 12")
        cur.execute("ALTER TABLE audit.event ENABLE TRIGGER event_no_update_delete")
    assert broken_at(run(audit_settings, "verify")) == 12


def test_edited_row_with_recomputed_hash(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    """An editor who knows the format recomputes the row's hash: the next link breaks."""
    fill(aconn)
    with aconn.cursor() as cur:
        cur.execute(SELECT_ROWS + " WHERE seq = 9")
        entry = entry_from_row(cur.fetchone())
    aconn.rollback()
    forged = replace(entry.event, department="forged")
    tamper(
        aconn,
        "UPDATE audit.event SET department = 'forged', hash = %s WHERE seq = 9",
        params=(chain_hash(9, forged, entry.prev_hash),),
    )
    result = run(audit_settings, "verify")
    assert broken_at(result) == 10 and "prev_hash" in result.output


def test_deleted_middle_row(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    tamper(aconn, "DELETE FROM audit.event WHERE seq = 5")
    result = run(audit_settings, "verify")
    assert broken_at(result) == 5 and "deleted" in result.output


def test_deleted_last_rows(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    tamper(aconn, f"DELETE FROM audit.event WHERE seq >= {N - 1}")
    result = run(audit_settings, "verify")
    assert broken_at(result) == N - 1 and "anchor" in result.output


def test_deleted_last_row_then_more_writes(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    """The writer chains from the anchor, not the last row: the gap stays visible."""
    fill(aconn)
    tamper(aconn, f"DELETE FROM audit.event WHERE seq = {N}")
    flush(aconn, [make_event(100), make_event(101)])
    assert broken_at(run(audit_settings, "verify")) == N


def test_swapped_contents(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    tamper(
        aconn,
        "UPDATE audit.event SET seq = seq + 1000 WHERE seq IN (6, 11)",
        "UPDATE audit.event SET seq = CASE seq WHEN 1006 THEN 11 ELSE 6 END WHERE seq > 1000",
    )
    assert broken_at(run(audit_settings, "verify")) == 6


def test_swapped_field_values(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    tamper(
        aconn,
        "UPDATE audit.event e SET action = o.action, resource = o.resource FROM audit.event o "
        "WHERE (e.seq, o.seq) IN ((3, 4), (4, 3))",
    )
    assert broken_at(run(audit_settings, "verify")) == 3


def test_forged_row_appended_with_a_valid_hash(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    with aconn.cursor() as cur:
        cur.execute("SELECT hash FROM audit.event WHERE seq = %s", (N,))
        prev = cur.fetchone()[0]
    aconn.rollback()
    forged = make_event(50)
    cols = (
        "seq, at, actor_key_id, department, role, action, resource, endpoint, method, "
        "params, returned, status, duration_ms, client, prev_hash, hash"
    )
    with aconn, aconn.cursor() as cur:  # INSERT is allowed: no trigger to bypass
        cur.execute(
            f"INSERT INTO audit.event ({cols}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, '{}', %s, %s, %s, %s, %s, %s)",
            (
                N + 1,
                forged.at,
                None,
                None,
                "public",
                "data.read",
                None,
                "/",
                "GET",
                None,
                200,
                None,
                None,
                prev,
                chain_hash(
                    N + 1,
                    make_event(
                        50,
                        params={},
                        actor_key_id=None,
                        department=None,
                        resource=None,
                        endpoint="/",
                        method="GET",
                        status=200,
                        returned=None,
                        duration_ms=None,
                        client=None,
                        action="data.read",
                        role="public",
                    ),
                    prev,
                ),
            ),
        )
    result = run(audit_settings, "verify")
    assert broken_at(result) == N + 1 and "forged" in result.output


def test_forged_row_with_a_wrong_hash(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    with aconn, aconn.cursor() as cur:
        cur.execute(
            "INSERT INTO audit.event SELECT seq + 100, at, actor_key_id, department, role, "
            "action, resource, endpoint, method, params, returned, status, duration_ms, client, "
            "prev_hash, hash FROM audit.event WHERE seq = 3"
        )
    tamper(aconn, "DELETE FROM audit.event WHERE seq = 4")
    result = run(audit_settings, "verify")
    assert broken_at(result) == 4
    assert "problems in all" in result.output and "seq 21" in result.output


def test_expect_catches_a_rewritten_history(audit_settings: Settings, aconn) -> None:  # type: ignore[no-untyped-def]
    fill(aconn)
    head = run(audit_settings, "head").output.strip()
    assert run(audit_settings, "verify", "--expect", head).exit_code == 0
    seq, _, hash_ = head.partition(":")
    wrong = f"{seq}:{'f' * 64}"
    result = run(audit_settings, "verify", "--expect", wrong)
    assert result.exit_code == 1 and "history rewritten" in result.output
    assert run(audit_settings, "verify", "--expect", "x:y").exit_code == 1
