"""``auth.mask_value`` (vector tiles) masks exactly as :func:`spatialsvc.auth.mask.mask_value`
(GeoJSON), on every value of the demo register's sensitive columns and on edge cases."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from spatialsvc.auth.mask import MASKS, mask_value

EDGES = [
    "",
    " ",
    "张",
    "欧阳娜娜",
    "　张三　",
    "1234567",
    "12345678",
    "123456789",
    "13812345678",
    "330203199001011234",
    "33020319900101123X",
    "海曙区鼓楼街道中山社区中山西路138号5幢201室",
    "海曙区鼓楼街道",
    "宁波市海曙区集士港镇万科金色城市8-10-1604",
    "高桥镇岐阳村委会3号",
    "某某大道路口１２号",
    "月湖街道#5",
    "no level word 12",
]


def sql_masks(conn: Any, field: str, values: list[str]) -> list[str | None]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT auth.mask_value(%s, v) FROM unnest(%s::text[]) WITH ORDINALITY AS u(v, i)"
            " ORDER BY i",
            (field, values),
        )
        return [row[0] for row in cur.fetchall()]


@pytest.mark.parametrize("field", sorted(MASKS))
def test_sql_mask_equals_python_mask(db_url: str, demo: dict[str, int], field: str) -> None:
    column = {"person_name": "name", "mobile": "phone"}.get(field, field)
    assert column in {"name", "id_number", "phone", "household_address"}
    with psycopg2.connect(db_url) as conn:
        with conn.cursor() as cur:
            from psycopg2 import sql

            cur.execute(
                sql.SQL("SELECT {}::text FROM registry.person ORDER BY person_id").format(
                    sql.Identifier(column)
                )
            )
            values = [row[0] for row in cur.fetchall()] + EDGES
        assert len(values) > 1000
        got = sql_masks(conn, field, values)
    want = [mask_value(field, v) for v in values]
    diff = [(v, g, w) for v, g, w in zip(values, got, want, strict=True) if g != w]
    assert not diff, diff[:10]
    assert sum(1 for v, w in zip(values, want, strict=True) if v and w != v) > 1000


def test_unknown_field_is_left_out(db_url: str) -> None:
    with psycopg2.connect(db_url) as conn:
        assert sql_masks(conn, "road", ["中山西路"]) == [None]
        assert sql_masks(conn, "name", [None]) == [None]  # type: ignore[list-item]
