"""Departments for the auth tests, registered once in the session database."""

from __future__ import annotations

import psycopg2
import pytest

from spatialsvc.auth.keys import create_department
from spatialsvc.errors import Conflict

DEPARTMENTS = {
    "ga-hs": "宁波市公安局海曙分局",
    "mz-hs": "海曙区民政局",
    "zrzy-hs": "宁波市自然资源和规划局海曙分局",
    "dsj": "海曙区大数据发展管理局",
}


@pytest.fixture(scope="session")
def departments(db_url: str) -> dict[str, str]:
    """The departments the auth tests use, created once."""
    conn = psycopg2.connect(db_url)
    try:
        for code, name in DEPARTMENTS.items():
            with conn:
                try:
                    create_department(conn, code, name)
                except Conflict:
                    pass
    finally:
        conn.close()
    return DEPARTMENTS
