"""Legends and thematic styles over HTTP, against mapclassify on the published values."""

from __future__ import annotations

from typing import Any

import mapclassify
import numpy as np
import pytest
from click.testing import CliRunner


def values(conn: Any, table: str, field: str) -> np.ndarray:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {field} FROM thematic.{table} WHERE {field} IS NOT NULL")
        return np.array([float(r[0]) for r in cur.fetchall()])


def test_default_legend_is_mapclassify_on_published_values(client, tconn) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/collections/stats_grid/legend")
    assert r.status_code == 200
    lg = r.json()
    assert (lg["field"], lg["scheme"], lg["k"]) == ("pop_density", "quantiles", 5)
    y = values(tconn, "stats_grid", "pop_density")
    direct = mapclassify.Quantiles(y, k=5)
    assert [c["upper"] for c in lg["classes"]] == pytest.approx(list(direct.bins))
    assert [c["count"] for c in lg["classes"]] == list(direct.counts)
    with tconn.cursor() as cur:
        cur.execute("SELECT count(*) FROM thematic.stats_grid")
        assert sum(c["count"] for c in lg["classes"]) + lg["no_data"]["count"] == cur.fetchone()[0]
    assert lg["classes"][0]["lower"] == pytest.approx(y.min())
    assert lg["source"]["table"] == "thematic.stats_grid"


def test_any_field_scheme_and_k_on_request(client, tconn) -> None:  # type: ignore[no-untyped-def]
    r = client.get(
        "/collections/stats_community/legend",
        params={"field": "entities", "scheme": "equal_interval", "k": 4},
    )
    assert r.status_code == 200
    lg = r.json()
    direct = mapclassify.EqualInterval(values(tconn, "stats_community", "entities"), k=4)
    assert [c["upper"] for c in lg["classes"]] == pytest.approx(list(direct.bins))
    assert len({c["color"] for c in lg["classes"]}) == 4


def test_latest_year_only_for_macro_indicators(client, tconn) -> None:  # type: ignore[no-untyped-def]
    lg = client.get("/collections/macro_township/legend").json()
    with tconn.cursor() as cur:
        cur.execute(
            "SELECT max(year), count(*) FILTER (WHERE year = (SELECT max(year)"
            " FROM thematic.macro_township)) FROM thematic.macro_township"
        )
        year, n = cur.fetchone()
    assert lg["filter"] == {"year": year}
    assert sum(c["count"] for c in lg["classes"]) == n


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/collections/stats_grid/legend", {"field": "nope"}, 400),
        ("/collections/stats_grid/legend", {"field": "name"}, 400),
        ("/collections/stats_grid/legend", {"scheme": "astrology"}, 400),
        ("/collections/stats_grid/legend", {"k": "12"}, 400),
        ("/collections/stats_grid/legend", {"k": "five"}, 400),
        ("/collections/stats_grid/legend", {"colour": "red"}, 400),
        ("/collections/no_such_layer/legend", {}, 404),
        ("/collections/stats_grid/styles/no_such_style", {}, 404),
        ("/collections/grid/styles/default", {}, 404),
    ],
)
def test_bad_requests(client, path: str, params: dict[str, str], status: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path, params=params)
    assert r.status_code == status
    assert "code" in r.json() and "Traceback" not in r.text


def test_maplibre_style_uses_the_legend(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/collections/stats_grid/styles/default")
    assert r.status_code == 200
    style = r.json()
    lg = style["metadata"]["spatialsvc:legend"]
    assert style["version"] == 8 and "stats_grid" in style["sources"]
    assert style["sources"]["stats_grid"]["tiles"][0].endswith(
        "/collections/stats_grid/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"
    )
    fill = next(layer for layer in style["layers"] if layer["type"] == "fill")
    expr = fill["paint"]["fill-color"]
    assert expr[0] == "case" and expr[2] == lg["no_data"]["color"]
    assert [c["color"] for c in lg["classes"]] == [*expr[4:-1:2], expr[-1]]
    named = client.get("/collections/stats_grid/styles/manufacturing").json()
    assert named["metadata"]["spatialsvc:legend"]["field"] == "entities_c"


def test_the_collection_links_to_its_legend_and_styles(client) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import urlsplit

    doc = client.get("/collections/stats_grid?f=json").json()
    links = {(link["rel"], urlsplit(link["href"]).path): link for link in doc["links"]}
    legend = links[("describedby", "/collections/stats_grid/legend")]
    assert legend["type"] == "application/json"
    styles = [
        path for rel, path in links if rel == "http://www.opengis.net/def/rel/ogc/1.0/stylesheet"
    ]
    assert "/collections/stats_grid/styles/default" in styles
    assert "/collections/stats_grid/styles/manufacturing" in styles
    for rel, path in links:  # every link of ours leads somewhere
        if path.endswith("/legend") or "/styles/" in path:
            href = links[(rel, path)]["href"]
            query = urlsplit(href).query
            assert client.get(path + (f"?{query}" if query else "")).status_code == 200, href
    plain = client.get("/collections/building?f=json").json()  # no thematic style: no links
    assert not [x for x in plain["links"] if x["href"].endswith("/legend")]


def test_open_layer_items_have_no_small_counts(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/collections/stats_community/items", params={"limit": 1000})
    assert r.status_code == 200
    features = r.json()["features"]
    assert features
    for f in features:
        for key in ("pop_total", "pop_male", "age_60_plus", "households", "entities", "entities_c"):
            value = f["properties"][key]
            assert value is None or value >= 5


def test_stats_refresh_command(settings, refreshed) -> None:  # type: ignore[no-untyped-def]
    from spatialsvc.cli import main

    result = CliRunner().invoke(
        main, ["stats", "refresh", "--as-of", "2026-07-01"], obj={"settings": settings}
    )
    assert result.exit_code == 0, result.output
    assert "thematic.stats_grid" in result.output
    status = CliRunner().invoke(main, ["stats", "status"], obj={"settings": settings})
    assert status.exit_code == 0 and "as of 2026-07-01" in status.output
