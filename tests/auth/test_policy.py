"""The rule table of issue 6, generated: every kind of caller x every sharing level."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from spatialsvc.auth.grants import Grant
from spatialsvc.auth.mask import SENSITIVE_DEFAULT
from spatialsvc.auth.policy import Resource, decide, metadata_visible, resource_from_layer
from spatialsvc.auth.principal import PUBLIC, Principal
from spatialsvc.layers import load_layers
from tests.conftest import ROOT

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OWNER = "ga-hs"
FIELDS = ("camera_id", "name", "phone", "id_number", "household_address", "road")
SENSITIVE = frozenset(FIELDS) & SENSITIVE_DEFAULT
LEVELS = ("open", "unconditional", "conditional", "none")


def _grant(resource: str, start: datetime, end: datetime, fields=None) -> Grant:  # type: ignore[no-untyped-def]
    return Grant(1, "mz-hs", resource, fields, start, end)


# caller name -> (principal, grants)
CALLERS = {
    "public": (PUBLIC, ()),
    "consumer": (Principal("mz-hs", "consumer", "k0000001"), ()),
    "consumer+grant": (
        Principal("mz-hs", "consumer", "k0000001"),
        (_grant("r", NOW - timedelta(days=1), NOW + timedelta(days=30)),),
    ),
    "consumer+expired": (
        Principal("mz-hs", "consumer", "k0000001"),
        (_grant("r", NOW - timedelta(days=60), NOW - timedelta(seconds=1)),),
    ),
    "owner": (Principal(OWNER, "consumer", "k0000002"), ()),
    "admin": (Principal("dsj", "admin", "k0000003"), ()),
    "publisher-other": (Principal("zrzy-hs", "publisher", "k0000004"), ()),
}

# The rule table: caller -> level -> status (200 allowed, 401 sign in, 403 refused).
TABLE = {
    "public": {"open": 200, "unconditional": 401, "conditional": 401, "none": 401},
    "consumer": {"open": 200, "unconditional": 200, "conditional": 403, "none": 403},
    "consumer+grant": {"open": 200, "unconditional": 200, "conditional": 200, "none": 403},
    "consumer+expired": {"open": 200, "unconditional": 200, "conditional": 403, "none": 403},
    "owner": {"open": 200, "unconditional": 200, "conditional": 200, "none": 200},
    "admin": {"open": 200, "unconditional": 200, "conditional": 200, "none": 200},
    "publisher-other": {"open": 200, "unconditional": 200, "conditional": 403, "none": 403},
}


@pytest.mark.parametrize(("caller", "level"), list(itertools.product(CALLERS, LEVELS)))
def test_rule_table(caller: str, level: str) -> None:
    principal, grants = CALLERS[caller]
    resource = Resource("r", OWNER, level, FIELDS, SENSITIVE)  # type: ignore[arg-type]
    d = decide(principal, resource, grants, NOW)
    expected = TABLE[caller][level]
    assert d.status == expected, d.reason
    assert d.allowed is (expected == 200)
    if not d.allowed:
        assert d.fields_visible == () and not d.masked_fields and d.apply({"name": "x"}) == {}
        if caller == "consumer+expired" and level == "conditional":
            assert "expired" in d.reason
    elif caller == "owner":
        assert d.masked_fields == frozenset() and d.fields_visible == FIELDS
    else:  # everyone else, administrators included, sees sensitive fields masked
        assert d.masked_fields == SENSITIVE
        assert d.fields_visible == FIELDS


def test_grant_for_another_resource_or_department_does_not_count() -> None:
    principal = Principal("mz-hs", "consumer", "k1")
    resource = Resource("r", OWNER, "conditional", FIELDS, SENSITIVE)
    span = (NOW - timedelta(days=1), NOW + timedelta(days=1))
    other_resource = Grant(1, "mz-hs", "other", None, *span)
    other_department = Grant(2, "jy-hs", "r", None, *span)
    not_yet = Grant(3, "mz-hs", "r", None, NOW + timedelta(days=1), NOW + timedelta(days=2))
    for g in (other_resource, other_department, not_yet):
        assert not decide(principal, resource, [g], NOW).allowed


def test_grant_fields_are_given_in_clear_and_the_rest_masked() -> None:
    principal = Principal("mz-hs", "consumer", "k1")
    resource = Resource("r", OWNER, "conditional", FIELDS, SENSITIVE)
    g = Grant(7, "mz-hs", "r", frozenset({"name", "phone"}), NOW, NOW + timedelta(days=1))
    d = decide(principal, resource, [g], NOW)
    assert d.allowed and d.grant_ids == (7,)
    assert d.masked_fields == {"id_number", "household_address"}
    row = {
        "camera_id": 5,
        "name": "张三",
        "phone": "13812345678",
        "id_number": "330203199001011234",
        "household_address": "海曙区鼓楼街道中山社区中山西路138号5幢201室",
        "road": "中山西路",
        "secret": "not a published field",
    }
    assert d.apply(row) == {
        "camera_id": 5,
        "name": "张三",
        "phone": "13812345678",
        "id_number": "3302**********1234",
        "household_address": "海曙区鼓楼街道中山社区中山西路***",
        "road": "中山西路",
    }


def test_sensitive_field_without_a_mask_is_left_out() -> None:
    resource = Resource("r", OWNER, "open", ("id", "income"), frozenset({"income"}))
    d = decide(PUBLIC, resource, (), NOW)
    assert d.fields_visible == ("id",)
    assert d.apply({"id": 1, "income": 5000}) == {"id": 1}


def test_grant_ends_exactly_at_valid_until() -> None:
    principal = Principal("mz-hs", "consumer", "k1")
    resource = Resource("r", OWNER, "conditional", FIELDS, SENSITIVE)
    g = Grant(1, "mz-hs", "r", None, NOW - timedelta(days=1), NOW)
    assert not decide(principal, resource, [g], NOW).allowed
    assert decide(principal, resource, [g], NOW - timedelta(microseconds=1)).allowed


def test_layers_give_resources() -> None:
    layers = load_layers(ROOT / "layers")
    camera = resource_from_layer(layers["camera"])
    assert camera.department == "ga-hs" and camera.sharing == "conditional"
    assert camera.sensitive == {"name"}
    road = resource_from_layer(layers["road"])
    assert road.sensitive == frozenset()  # an open layer's name is a road's
    assert decide(PUBLIC, road, (), NOW).apply({"name": "中山西路"}) == {"name": "中山西路"}


@pytest.mark.parametrize(
    ("level", "public", "department", "owner"),
    [
        ("open", True, True, True),
        ("unconditional", False, True, True),
        ("conditional", False, True, True),
        ("none", False, False, True),
    ],
)
def test_metadata_visible(level: str, public: bool, department: bool, owner: bool) -> None:
    resource = Resource("r", OWNER, level)  # type: ignore[arg-type]
    assert metadata_visible(PUBLIC, resource) is public
    assert metadata_visible(Principal("mz-hs", "consumer"), resource) is department
    assert metadata_visible(Principal(OWNER, "consumer"), resource) is owner
    assert metadata_visible(Principal("dsj", "admin"), resource)
