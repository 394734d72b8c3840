"""Grants: approved applications, loaded once per request for the policy to use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Grant:
    """An approved application: ``department`` may use ``resource`` from ``valid_from`` until
    ``valid_until`` (exclusive), with ``fields`` in clear (``None``: the default fields)."""

    application_id: int
    department: str
    resource: str
    fields: frozenset[str] | None
    valid_from: datetime
    valid_until: datetime

    def covers(self, now: datetime) -> bool:
        """True while the grant's period includes ``now``."""
        return self.valid_from <= now < self.valid_until


_SQL = """
SELECT id, department, resource, fields, valid_from, valid_until
FROM auth.application
WHERE department = %s AND status = 'approved' AND valid_until > %s - interval '30 days'
ORDER BY id
"""


def grants_for(conn: Any, department: str | None, now: datetime) -> tuple[Grant, ...]:
    """The department's approved grants that are current or ended in the last 30 days.

    Recently ended grants are kept so that :func:`spatialsvc.auth.policy.decide` can say a
    grant *expired* rather than that there is none; it checks every period against ``now``.
    The public holds no grants.  Read-only: runs in the caller's transaction.
    """
    if department is None:
        return ()
    with conn.cursor() as cur:
        cur.execute(_SQL, (department, now))
        rows = cur.fetchall()
    return tuple(
        Grant(
            application_id=int(r[0]),
            department=r[1],
            resource=r[2],
            fields=frozenset(r[3]) if r[3] is not None else None,
            valid_from=r[4],
            valid_until=r[5],
        )
        for r in rows
    )
