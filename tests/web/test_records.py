"""The resource catalogue as OGC API - Records: q (Chinese), bbox, properties, paging, by id."""

from __future__ import annotations

from typing import Any

import pytest

ITEMS = "/collections/catalogue/items"


def _items(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get(ITEMS, params={"f": "json", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> set[str]:
    return {f["id"] for f in body["features"]}


def test_q_finds_chinese_text(client: Any) -> None:
    body = _items(client, q="地址")
    assert "standard_address" in _ids(body)
    assert "road" not in _ids(body)
    assert body["numberMatched"] == len(body["features"])


def test_q_every_term_must_match(client: Any) -> None:
    assert "road" in _ids(_items(client, q="道路 路网"))
    assert _ids(_items(client, q="道路 不存在的词")) == set()
    # LIKE wildcards are taken literally
    percent = _ids(_items(client, q="%"))  # only records whose text holds a literal "%"
    assert "road" not in percent and percent <= {"stats_grid", "stats_community", "stats_township"}
    assert _ids(_items(client, q="道_")) == set()  # unescaped, _ would match 道路
    assert _ids(_items(client, q="道%网")) == set()


def test_bbox(client: Any) -> None:
    inside = _ids(_items(client, bbox="121.40,29.80,121.45,29.85", limit=100))
    assert {"road", "standard_address", "service_ogcapi"} <= inside
    assert _ids(_items(client, bbox="100,10,101,11")) == set()


def test_property_filters(client: Any) -> None:
    body = _items(client, category="空间地理", limit=100)
    assert body["features"]
    assert {f["properties"]["category"] for f in body["features"]} == {"空间地理"}
    assert "road" in _ids(body)
    open_ = _items(client, sharing="open", limit=100)
    assert "road" in _ids(open_) and "standard_address" not in _ids(open_)
    assert {f["properties"]["sharing"] for f in open_["features"]} == {"open"}
    both = _items(client, sharing="open", kind="basemap")
    assert _ids(both) == {"basemap_raster", "basemap_vector"}
    assert _ids(_items(client, department_code="mz-hs")) == {"standard_address"}


def test_record_structure(client: Any) -> None:
    response = client.get(f"{ITEMS}/road", params={"f": "json"})
    assert response.status_code == 200
    record = response.json()
    assert record["id"] == "road" and record["type"] == "Feature"
    assert record["geometry"]["type"] == "Polygon"
    assert "crs" not in record["geometry"]  # RFC 7946: no crs member
    props = record["properties"]
    assert props["type"] == "dataset" and props["title"] == "道路"
    assert props["themes"][0]["concepts"][0]["id"] == "空间地理"
    assert props["contacts"][0]["organization"] == "宁波市自然资源和规划局海曙分局"
    assert props["resource_code"] == "330203-ZRZY-0002"
    assert props["sharing_attribute"] == "无条件共享" and props["open_attribute"] == "开放"
    assert props["update_cycle"] == "每月"
    assert [f["name"] for f in props["fields"]][:2] == ["road_id", "name"]
    hrefs = [link["href"] for link in record["links"]]
    assert any(h.endswith("/collections/road/items") and h.startswith("http") for h in hrefs)
    service = client.get(f"{ITEMS}/service_ogcapi", params={"f": "json"}).json()
    assert service["properties"]["type"] == "service"


def test_unknown_id_is_404_json(client: Any) -> None:
    response = client.get(f"{ITEMS}/no_such_record", params={"f": "json"})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_paging_and_sorting(client: Any) -> None:
    everything = _items(client, limit=100, sortby="title")
    total = everything["numberMatched"]
    assert total >= 11 and len(everything["features"]) == total
    titles = [f["properties"]["title"] for f in everything["features"]]
    assert titles == sorted(titles)
    first = _items(client, limit=5, offset=0, sortby="title")
    second = _items(client, limit=5, offset=5, sortby="title")
    assert len(first["features"]) == len(second["features"]) == 5
    assert not _ids(first) & _ids(second)
    assert [f["id"] for f in first["features"] + second["features"]] == [
        f["id"] for f in everything["features"][:10]
    ]
    assert any(link["rel"] == "next" for link in first["links"])
    assert first["numberMatched"] == total


def test_bad_requests_are_4xx(client: Any) -> None:
    assert client.get(ITEMS, params={"sortby": "nonexistent"}).status_code == 400
    assert client.get(ITEMS, params={"filter": "title='道路'"}).status_code == 400
    assert client.get(ITEMS, params={"bbox": "1,2,3"}).status_code == 400


def test_queryables_and_html(client: Any) -> None:
    queryables = client.get("/collections/catalogue/queryables", params={"f": "json"})
    assert queryables.status_code == 200
    assert {"category", "sharing", "department_code"} <= set(queryables.json()["properties"])
    page = client.get(ITEMS, params={"f": "html", "q": "道路"})
    assert page.status_code == 200 and "道路" in page.text


@pytest.mark.slow
def test_owslib_records(live_server: str) -> None:
    from owslib.ogcapi.records import Records

    records = Records(live_server)
    body = records.collection_items("catalogue", q="道路")
    ids = {f["id"] for f in body["features"]}
    assert "road" in ids
    road = records.collection_item("catalogue", "road")
    assert road["properties"]["title"] == "道路"


def test_datetime_and_keywords(client: Any) -> None:
    assert "road" in _ids(_items(client, datetime="2000-01-01T00:00:00Z/..", limit=100))
    assert _ids(_items(client, datetime="../2000-01-01T00:00:00Z")) == set()
    assert _ids(_items(client, keywords="路网")) == {"road"}
