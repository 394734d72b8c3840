from __future__ import annotations

import pytest

from spatialsvc.auth.mask import (
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_value,
)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("330203199001011234", "3302**********1234"),
        ("33020319900101123X", "3302**********123X"),
        ("1234", "****"),
    ],
)
def test_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13812345678", "138****5678"), ("057487654321", "057*****4321"), ("110", "***")],
)
def test_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"), [("张三", "张*"), ("王小明", "王**"), ("欧阳娜娜", "欧***"), ("李", "李*")]
)
def test_name(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("海曙区鼓楼街道中山社区中山西路138号5幢201室", "海曙区鼓楼街道中山社区中山西路***"),
        ("浙江省宁波市海曙区集士港镇万科金色城市8-10-1604", "浙江省宁波市海曙区集士港镇***"),
        ("海曙区望春街道丽园北路１２３号", "海曙区望春街道丽园北路***"),
        ("古林镇张家村三组", "古林镇张家村***"),
        ("8幢101", "***"),
    ],
)
def test_address(value: str, masked: str) -> None:
    assert mask_address(value) == masked


def test_mask_value() -> None:
    assert mask_value("phone", 13812345678) == "138****5678"
    assert mask_value("name", None) is None
    assert mask_value("income", "5000") is None  # no mask: left out
