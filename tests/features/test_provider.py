"""The pygeoapi feature provider on the demo data (what pygeoapi's own paths call)."""

from __future__ import annotations

import pytest
from pygeoapi.provider.base import ProviderInvalidQueryError, ProviderItemNotFoundError
from pygeofilter.parsers.cql2_text import parse

from spatialsvc import pygeoapi_config
from spatialsvc.layers import load_layers
from spatialsvc.providers import context
from spatialsvc.providers.features import PostGISFeatureProvider


@pytest.fixture(scope="module")
def provider(settings, demo) -> PostGISFeatureProvider:  # type: ignore[no-untyped-def]
    layers = load_layers(settings.layers_dir)
    context.bind(settings, layers)
    resource = pygeoapi_config.layer_resource(layers["poi"], settings)
    return PostGISFeatureProvider(resource["providers"][0])


def test_fields_are_typed_from_the_database(provider: PostGISFeatureProvider) -> None:
    fields = provider.get_fields()
    assert list(fields) == ["poi_id", "name", "category", "county", "source"]
    assert all(v == {"type": "string"} for v in fields.values())


def test_query_get_and_filter(provider: PostGISFeatureProvider) -> None:
    fc = provider.query(
        limit=5, bbox=[121.0, 29.0, 122.0, 30.0], sortby=[{"property": "name", "order": "-"}]
    )
    assert fc["numberReturned"] == len(fc["features"]) == 5
    names = [f["properties"]["name"] for f in fc["features"]]
    assert names == sorted(names, reverse=True)
    schools = provider.query(limit=1000, filterq=parse("category = 'school'"))
    assert schools["features"] and all(
        f["properties"]["category"] == "school" for f in schools["features"]
    )
    one = provider.get(fc["features"][0]["id"])
    assert one["id"] == fc["features"][0]["id"]
    with pytest.raises(ProviderItemNotFoundError):
        provider.get("no-such-id")
    with pytest.raises(ProviderInvalidQueryError):
        provider.query(filterq=parse("nosuch = 'x'"))
