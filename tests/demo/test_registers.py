"""The demo registers, generated from a small synthetic district built here."""

from __future__ import annotations

import re
from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from spatialsvc.codes import is_valid_id_number, is_valid_uscc
from spatialsvc.demo.clerk import chinese_numeral, write_like_a_clerk, write_many_like_clerks
from spatialsvc.demo.registers import CAMERAS, Registers, generate_registers

TOWNSHIPS = [
    ("330203008", "望春街道", ["望春路", "丽园北路", "环城西路", "新典路"], ["社区", "春城社区"]),
    ("330203007", "段塘街道", ["段塘路", "泰康中路", "南苑路", "长寿南路"], ["社区", "南苑社区"]),
    ("330203001", "南门街道", ["解放南路", "柳汀街", "长春路", "尹江路"], ["社区", "柳锦社区"]),
    ("330203102", "集士港镇", ["集士港路", "菖蒲路", "地铁大道", "万众路"], ["村", "卖面桥村"]),
    ("330203100", "高桥镇", ["高桥路", "长乐路", "石塘路", "民乐路"], ["村", "高桥村"]),
    ("330203200", "龙观乡", ["龙观路", "五龙潭路", "李岙路", "雪岙路"], ["村", "龙峰村"]),
]
COMPOUNDS = ["广泽嘉园", "万科金色城市", "春江花月", "锦绣华庭", "恒大名都", "书香苑", "荷景苑"]


def _add_address(
    rows: list[dict[str, object]],
    base: dict[str, object],
    origin: tuple[float, float],
    **values: object,
) -> None:
    row: dict[str, object] = dict(base)
    for key in ("road", "door_number", "compound", "building", "unit", "floor", "room"):
        row[key] = None
    row.update({"compound_id": None, "building_id": None})
    row.update(values)
    parts = [base["province"], base["city"], base["county"], base["township"], base["community"]]
    parts += [f"{row['road']}{row['door_number']}号" if row["road"] else ""]
    parts += [str(row["compound"] or "")]
    parts += [f"{row['building']}幢" if row["building"] else ""]
    parts += [f"{row['unit']}单元" if row["unit"] else ""]
    parts += [f"{row['room']}室" if row["room"] else ""]
    row["full_address"] = "".join(str(p) for p in parts)
    n = len(rows)
    row["address_id"] = f"A{n + 1:08d}"
    row["geom"] = Point(origin[0] + 0.0001 * (n % 200), origin[1] + 0.0001 * (n // 200 % 150))
    rows.append(row)


def synthetic_district(
    compounds: int = 1, buildings: int = 3, units: int = 2, floors: int = 3, doors: int = 12
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Addresses, roads and townships of a small made-up district with real-looking values."""
    rows: list[dict[str, object]] = []
    roads: list[dict[str, object]] = []
    classes = ["arterial", "secondary", "branch", "branch"]
    for t, (code, township, road_names, (kind, community)) in enumerate(TOWNSHIPS):
        x0, y0 = 121.40 + 0.03 * t, 29.85
        for r, name in enumerate(road_names):
            line = (
                LineString([(x0, y0 + 0.006 * r), (x0 + 0.025, y0 + 0.006 * r)])
                if r < 2
                else LineString(
                    [(x0 + 0.01 * (r - 1), y0 - 0.005), (x0 + 0.01 * (r - 1), y0 + 0.02)]
                )
            )
            roads.append(
                {
                    "road_id": f"R{t}{r:03d}",
                    "name": name,
                    "township_code": code,
                    "road_class": classes[r],
                    "geom": line,
                }
            )
        base = {
            "admin_code": code + "001",
            "province": "浙江省",
            "city": "宁波市",
            "county": "海曙区",
            "township": township,
            "community": community,
            "township_code": code,
        }

        add = partial(_add_address, rows, base, (x0, y0))
        for d in range(1, doors + 1):
            add(road=road_names[d % 4], door_number=str(2 * d - 1), level="door")
        if kind == "村":
            continue
        for c in range(compounds):
            cname = COMPOUNDS[(t + c) % len(COMPOUNDS)] + ("" if c < 7 else f"{c // 7 + 1}期")
            road, door = road_names[c % 4], str(100 + 2 * c)
            cid = f"C{t}{c:04d}"
            add(road=road, door_number=door, compound=cname, compound_id=cid, level="door")
            for b in range(1, buildings + 1):
                bid = f"{cid}B{b:03d}"
                common = {"road": road, "door_number": door, "compound": cname}
                common |= {"compound_id": cid, "building_id": bid, "building": str(b)}
                add(**common, level="building")
                for u in range(1, units + 1):
                    for f in range(1, floors + 1):
                        for k in (1, 2):
                            room = f"{f}{k:02d}"
                            add(**common, unit=str(u), floor=str(f), room=room, level="room")
    addresses = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geom", crs="EPSG:4490")
    road_frame = gpd.GeoDataFrame(pd.DataFrame(roads), geometry="geom", crs="EPSG:4490")
    townships = pd.DataFrame([(c, n) for c, n, _, _ in TOWNSHIPS], columns=["code", "name"])
    return addresses, road_frame, townships


@pytest.fixture(scope="module")
def district() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    return synthetic_district(compounds=2, buildings=4, units=2, floors=4)


@pytest.fixture(scope="module")
def regs(district: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]) -> Registers:
    addresses, roads, townships = district
    return generate_registers(addresses, roads, townships, seed=7, scale=0.01, echo=lambda _: None)


def test_district_is_a_few_hundred_addresses(district) -> None:
    addresses, _, _ = district
    assert 200 <= len(addresses) <= 1000
    assert addresses["address_id"].is_unique and addresses["full_address"].is_unique


def test_counts(regs: Registers, district) -> None:
    _, _, townships = district
    assert len(regs.persons) == 4130
    assert len(regs.legal_entities) == 1040
    assert len(regs.cameras) == CAMERAS
    assert len(regs.macro_indicators) == len(townships) * 10
    assert sorted(regs.macro_indicators["year"].unique()) == list(range(2015, 2025))
    sections = regs.industries[regs.industries["code"].str.len() == 1]
    assert len(sections) == 20 and len(regs.industries) == 117


def test_scale_one_counts_round_up() -> None:
    from spatialsvc.demo.registers import scaled_count

    assert scaled_count(413_000, 1.0) >= 413_000
    assert scaled_count(104_000, 1.0) >= 104_000
    assert scaled_count(413_000, 0.000_01) == 5


def test_persons_identity(regs: Registers) -> None:
    p = regs.persons
    assert p["person_id"].is_unique and p["id_number"].is_unique
    assert all(is_valid_id_number(s) for s in p["id_number"])
    male = p["id_number"].str[16].astype(int) % 2 == 1
    assert (p["sex"] == np.where(male, "男", "女")).all()
    births = p["id_number"].str[6:14]
    assert (births == pd.to_datetime(p["birth_date"]).dt.strftime("%Y%m%d")).all()
    assert p["id_number"].str[:6].eq("330203").mean() > 0.6
    assert p["phone"].str.fullmatch(r"1[35789]\d{9}").all()
    assert p["name"].str.len().between(2, 4).all()
    ages = 2025 - pd.to_datetime(p["birth_date"]).dt.year
    assert ages.between(0, 101).all() and ages.lt(18).any() and ages.gt(65).any()


def test_households(regs: Registers, district) -> None:
    addresses, _, _ = district
    p = regs.persons
    assert p["eval_address_id"].isin(addresses["address_id"]).all()
    per_household = p.groupby("household_id")["eval_address_id"].nunique()
    assert (per_household == 1).all()
    sizes = p.groupby("household_id").size()
    assert sizes.between(1, 5).all() and sizes.gt(1).any()
    level = addresses.set_index("address_id")["level"].reindex(p["eval_address_id"])
    assert (level == "room").mean() > 0.5
    township = addresses.set_index("address_id")["township"].reindex(p["eval_address_id"])
    rural = township.str.endswith(("镇", "乡")).to_numpy()
    assert (level.to_numpy()[rural] == "door").all() and rural.any()  # village houses


def test_entities(regs: Registers, district) -> None:
    addresses, _, _ = district
    e = regs.legal_entities
    assert e["entity_id"].is_unique and e["uscc"].is_unique
    assert all(is_valid_uscc(s) for s in e["uscc"])
    assert e["uscc"].str[2:8].isin(["330203", "330200"]).all()
    assert e["eval_address_id"].isin(addresses["address_id"]).all()
    assert e["industry_code"].isin(regs.industries["code"]).all()
    assert (e["industry_code"].str.len() == 3).all()
    assert (e["industry_code"].str[0] == e["industry_section"]).all()
    assert (e["tax"] < e["revenue"]).all() and (e["tax"] >= 0).all()
    assert (e["employees"] >= 0).all() and (e["registered_capital"] > 0).all()
    assert e["founding_date"].min().year >= 1990 and e["founding_date"].max().year <= 2025
    assert e["industry_section"].value_counts().index[0] == "F"
    assert e["name"].is_unique


def test_cameras(regs: Registers, district) -> None:
    _, roads, _ = district
    c = regs.cameras
    assert c.crs is not None and c.crs.to_epsg() == 4490
    assert c["camera_id"].is_unique and c["camera_id"].str.fullmatch(r"CAM\d{5}").all()
    assert c.geometry.geom_type.eq("Point").all() and c.geometry.notna().all()
    assert c["road"].isin(roads["name"]).all()
    assert c["name"].str.contains("路口").any() and c["name"].str.contains("号附近").any()
    assert set(c["kind"]) <= {"治安监控", "交通卡口", "高空瞭望", "人脸识别"}
    near = roads.geometry.union_all().buffer(1e-6)
    assert c.geometry.within(near).all()


def test_macro(regs: Registers) -> None:
    m = regs.macro_indicators
    assert m.set_index(["township_code", "year"]).index.is_unique
    money = ["gdp", "industrial_output", "retail_sales", "fixed_investment", "fiscal_revenue"]
    assert (m[money] > 0).all().all()
    first = m[m["year"] == 2015].set_index("township_code")["gdp"]
    last = m[m["year"] == 2024].set_index("township_code")["gdp"]
    assert (last > first).all()
    pop = m[m["year"] == 2024]["resident_population"].sum()
    assert 0.9 * len(regs.persons) < pop < 1.3 * len(regs.persons)


def test_deterministic(district) -> None:
    addresses, roads, townships = district

    def make(seed: int) -> Registers:
        return generate_registers(addresses, roads, townships, seed, 0.003, echo=lambda _: None)

    a, b, c = make(1), make(1), make(2)
    for name in ("industries", "persons", "legal_entities", "cameras", "macro_indicators"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.persons["id_number"].equals(c.persons["id_number"])
    assert not a.legal_entities["registered_address"].equals(c.legal_entities["registered_address"])


def test_clerk_texts_vary(regs: Registers) -> None:
    texts = pd.concat(
        [regs.persons["household_address"], regs.legal_entities["registered_address"]]
    )
    assert texts.nunique() > len(texts) * 0.3
    assert not texts.str.contains("\n").any() and texts.str.len().gt(4).all()
    assert texts.str.contains("[０-９]").any()  # full-width digits
    assert texts.str.contains("[區號園單樓門]").any()  # traditional characters
    assert texts.str.contains(r"\d+-\d+").any()  # 8-2-301 forms
    assert texts.str.contains(" ").any()
    assert (~texts.str.contains("浙江省")).mean() > 0.5
    assert texts.str.contains("浙江省").any()
    assert texts.str.contains("[一二三四五六七八九十]幢").any()
    assert texts.str.startswith("海曙").any() and texts.str.startswith("宁波海曙").any()


def test_household_members_written_differently(regs: Registers) -> None:
    p = regs.persons
    varied = p.groupby("household_id")["household_address"].nunique()
    assert (varied > 1).any()


def test_clerk_single_row() -> None:
    row = {
        "province": "浙江省",
        "city": "宁波市",
        "county": "海曙区",
        "township": "集士港镇",
        "community": "万众社区",
        "road": None,
        "door_number": None,
        "compound": "万科金色城市",
        "building": "8",
        "unit": "10",
        "floor": "16",
        "room": "1604",
    }
    rng = np.random.default_rng(3)
    texts = {write_like_a_clerk(row, rng) for _ in range(300)}
    assert len(texts) > 30
    assert any(re.search(r"万科金色城市8-10-1604$", t) for t in texts)
    assert all("万科金色城市" in t or "萬科" in t or "金色" in t for t in texts)
    frame = pd.DataFrame([row] * 5)
    assert len(write_many_like_clerks(frame, rng)) == 5


def test_chinese_numeral() -> None:
    assert chinese_numeral("5") == "五"
    assert chinese_numeral("10") == "十"
    assert chinese_numeral("12") == "十二"
    assert chinese_numeral("25") == "二十五"
    assert chinese_numeral("120") == "120"
    assert chinese_numeral("A") == "A"


def test_sequences_unique_even_when_crowded() -> None:
    from spatialsvc.demo.people import _sequences

    rng = np.random.default_rng(0)
    n = 3000
    region = np.where(rng.random(n) < 0.9, 330203, 341221)
    birth = np.full(n, np.datetime64("1990-01-01", "D"))
    male = rng.random(n) < 0.5
    moved, seq = _sequences(rng, region, birth, male)
    keys = pd.DataFrame({"r": region, "b": moved, "s": seq})
    assert not keys.duplicated().any()
    assert ((seq % 2 == 1) == male).all() and seq.min() >= 0 and seq.max() <= 999
    assert (moved <= birth).all() and (moved == birth).sum() > 500


def test_clerk_keeps_hao_before_a_building_number() -> None:
    row = {"province": "浙江省", "city": "宁波市", "county": "海曙区", "township": "望春街道"}
    row |= {"community": "春城社区", "road": "新典路", "door_number": "178", "compound": None}
    row |= {"building": "10", "unit": "1", "floor": "9", "room": "901"}
    rng = np.random.default_rng(5)
    back = str.maketrans("０１２３４５６７８９－", "0123456789-")
    for _ in range(500):
        text = write_like_a_clerk(row, rng).translate(back)
        assert re.search("178[号號]", text), text
