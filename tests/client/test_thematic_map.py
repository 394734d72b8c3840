"""thematic_map and classify: mapclassify's classes, our legend, and a page whose every script,
style and tile comes from the service (the browser test looks at it drawn)."""

from __future__ import annotations

import warnings

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pytest

from spatialsvc.client import Client, classify, external_urls, thematic_map
from spatialsvc.client.maps import LEAFLET_CSS, LEAFLET_JS


@pytest.fixture(scope="module")
def grid(service: Client) -> gpd.GeoDataFrame:
    """The grid layer in EPSG:4549 with its area in km², a numeric column to classify."""
    frame = service.read("grid", crs="EPSG:4549")
    return frame.assign(area_km2=frame.area / 1e6)


@pytest.mark.parametrize("scheme", ["quantiles", "equal_interval", "fisher_jenks"])
def test_classes_are_mapclassify_s(grid: gpd.GeoDataFrame, scheme: str) -> None:
    legend = classify(grid["area_km2"], scheme, 5)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed")
        direct = mapclassify.classify(grid["area_km2"].to_numpy(), scheme=scheme, k=5)
    assert [c.upper for c in legend.classes] == pytest.approx(list(direct.bins))
    assert [c.count for c in legend.classes] == list(direct.counts)
    assert legend.classes[0].lower == pytest.approx(grid["area_km2"].min())
    assert len({c.color for c in legend.classes}) == legend.k == 5
    # every row has its class's colour
    by_class = {i: c.color for i, c in enumerate(legend.classes)}
    assert list(legend.colors) == [by_class[b] for b in direct.yb]
    assert legend.no_data == 0


def test_natural_breaks_are_the_services(
    grid: gpd.GeoDataFrame, service: Client, geocoded: object
) -> None:
    """natural_breaks is Fisher-Jenks on both sides: the client's classes of a layer's values
    equal the service's legend of the same field, scheme and k."""
    values = grid["area_km2"]
    legend = classify(values, "natural_breaks", 5)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed")
        jenks = mapclassify.FisherJenks(values.to_numpy(), k=5)
    assert [c.upper for c in legend.classes] == pytest.approx(list(jenks.bins))
    assert legend.scheme == "natural_breaks"
    stats = service.read("stats_grid")
    ours = classify(stats["pop_total"], "natural_breaks", 5)
    theirs = service.legend("stats_grid", "pop_total", scheme="natural_breaks", k=5)
    assert [c.upper for c in ours.classes] == pytest.approx([c["upper"] for c in theirs["classes"]])


def test_missing_values_are_no_data_and_breaks_can_be_given(grid: gpd.GeoDataFrame) -> None:
    values = grid["area_km2"].copy()
    values.iloc[:10] = np.nan  # as suppressed counts come: NULL
    legend = classify(values, breaks=[0.1, 0.5, 1.0], colors="Blues")
    assert legend.scheme == "user_defined"
    assert legend.no_data == 10
    assert set(legend.colors.iloc[:10]) == {legend.no_data_color}
    assert sum(c.count for c in legend.classes) == len(values) - 10
    uppers = [c.upper for c in legend.classes]
    assert uppers[:3] == [0.1, 0.5, 1.0] and uppers[-1] == pytest.approx(values.max())
    with pytest.raises(ValueError, match="not numeric"):
        classify(grid["name"])


def test_map_loads_only_from_the_service(service: Client, grid: gpd.GeoDataFrame) -> None:
    fmap = thematic_map(
        grid, "area_km2", scheme="natural_breaks", k=4, title="网格面积", basemap=service
    )
    page = fmap.get_root().render()
    assert external_urls(fmap) == []
    assert f'src="{service.asset_url(LEAFLET_JS)}"' in page
    assert f'href="{service.asset_url(LEAFLET_CSS)}"' in page
    assert service.tilejson()["tiles"][0] in page
    for word in ("cdn.", "jquery", "bootstrap", "font-awesome", "fontawesome", "d3."):
        assert word not in page.lower()
    legend = fmap.thematic_legend
    assert legend.k == 4
    for c in legend.classes:
        assert c.label in page and c.color in page
    assert "spatialsvc-legend" in page and "网格面积" in page


def test_the_offline_check_sees_folium_s_cdns() -> None:
    plain = folium.Map(location=[29.87, 121.54], zoom_start=12)
    found = external_urls(plain)
    assert any("leaflet" in u for u in found)
    assert any("jquery" in u for u in found)


def test_points_lines_and_bad_calls(service: Client, grid: gpd.GeoDataFrame) -> None:
    centres = grid.set_geometry(grid.centroid)
    fmap = thematic_map(centres, "area_km2", k=3, basemap=service.url, tooltip=["code"])
    page = fmap.get_root().render()
    assert "new L.CircleMarker(latlng" in page
    assert '"fill": true' in page
    assert external_urls(fmap) == []

    roads = service.read("road", max_features=200, properties=["name"])
    roads = roads.assign(length_m=roads.to_crs(4549).length)
    lines = thematic_map(roads, "length_m", k=3, assets=service, tooltip={"length_m": "长度"})
    assert external_urls(lines) == []
    assert "/basemaps/raster/tiles/" not in lines.get_root().render()  # no basemap asked for

    with pytest.raises(ValueError, match="basemap=client"):
        thematic_map(grid, "area_km2")
    with pytest.raises(ValueError, match="not in the frame"):
        thematic_map(grid, "population", basemap=service)
    with pytest.raises(ValueError, match="tooltip"):
        thematic_map(grid, "area_km2", basemap=service, tooltip=["nope"])
    with pytest.raises(ValueError, match="colours given"):
        thematic_map(grid, "area_km2", k=3, colors=["#ffffff"], basemap=service)
