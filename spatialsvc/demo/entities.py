"""The demo legal-entity register (法人库): fictitious companies, shops and organisations."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from spatialsvc.codes import USCC_ALPHABET, compose_usccs
from spatialsvc.demo.clerk import write_many_like_clerks

# Section weights for an urban district's register (share of entities, roughly).
SECTION_WEIGHTS: dict[str, float] = {
    "A": 0.6, "B": 0.02, "C": 11.0, "D": 0.3, "E": 6.0, "F": 36.0, "G": 3.0, "H": 6.0,
    "I": 5.0, "J": 0.8, "K": 2.5, "L": 12.0, "M": 6.5, "N": 0.8, "O": 3.5, "P": 1.2,
    "Q": 0.6, "R": 1.6, "S": 0.0, "T": 0.0,
}  # fmt: skip
# Section S (social organisations) comes from the entity kind, not from this table.
# Relative weight of a division within its section (others: 1.0).
DIVISION_WEIGHTS: dict[str, float] = {
    "C13": 0.6, "C14": 0.6, "C16": 0.0, "C18": 3.0, "C25": 0.05, "C28": 0.2, "C29": 2.0,
    "C31": 0.1, "C32": 0.2, "C33": 2.5, "C34": 3.0, "C35": 2.0, "C36": 1.2, "C38": 3.0,
    "C39": 2.0, "C40": 1.0, "C41": 1.5,
    "B06": 0.0, "B07": 0.0, "B08": 0.0, "B09": 0.0,
    "E47": 1.5, "E48": 1.0, "E49": 1.0, "E50": 3.0,
    "F51": 1.3, "F52": 1.0,
    "G53": 0.0, "G54": 3.0, "G55": 0.3, "G56": 0.05, "G57": 0.0, "G58": 2.0, "G59": 1.0,
    "G60": 0.2, "H61": 0.3, "H62": 2.5, "I63": 0.3, "I64": 1.5, "I65": 4.0,
    "J66": 0.3, "J67": 0.5, "J68": 0.5, "J69": 1.5, "L71": 0.4, "L72": 4.0,
    "M73": 0.8, "M74": 2.0, "M75": 3.0, "N79": 0.05, "O80": 2.0, "O81": 1.5, "O82": 1.0,
    "S91": 0.05, "S92": 0.1, "S93": 0.05, "S94": 0.1, "S95": 2.0, "S96": 1.0,
}  # fmt: skip
# Kinds of entity: (USCC chars 1-2, weight). 91 company, 92 个体工商户, 93 cooperative,
# 12 public institution (事业单位), 51/52 social organisations.
KINDS: tuple[tuple[str, float], ...] = (
    ("91", 0.70), ("92", 0.24), ("93", 0.01), ("12", 0.01), ("51", 0.02), ("52", 0.02),
)  # fmt: skip
# Divisions of 个体工商户 (kind 92) and their weights.
SOLE_TRADER_DIVISIONS: dict[str, float] = {"F52": 0.5, "H62": 0.3, "O80": 0.12, "O81": 0.08}
P_CITY_REGISTERED = 0.1  # registered with the city (330200) rather than the district
# Address level of the registered address: shop fronts (door), office buildings, office rooms.
ADDRESS_LEVEL_WEIGHTS = {"door": 1.0, "building": 0.8, "room": 0.12}
COMPANY_FORMS: tuple[tuple[str, float], ...] = (
    ("宁波{b}{w}有限公司", 0.56),
    ("宁波市海曙区{b}{w}有限公司", 0.16),
    ("宁波{b}{w}有限责任公司", 0.08),
    ("宁波市{b}{w}有限公司", 0.10),
    ("宁波{b}{w}股份有限公司", 0.03),
    ("宁波海曙{b}{w}有限公司", 0.07),
)
FOUNDING_START = np.datetime64("1990-01-01", "D")
FOUNDING_END = np.datetime64("2025-06-30", "D")


def load_industries() -> pd.DataFrame:
    """GB/T 4754-2017 sections and divisions: code, section, name."""
    path = resources.files("spatialsvc") / "data" / "demo" / "industries.csv"
    with path.open("r", encoding="utf-8") as f:
        return pd.read_csv(f, dtype=str)


def load_words() -> dict[str, list[str]]:
    """The invented word pools for company names, by key (brand1, brand2, shop, C39, F, ...)."""
    path = resources.files("spatialsvc") / "data" / "demo" / "company_words.txt"
    pools: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, words = line.split(":", 1)
            pools[key.strip()] = words.split()
    return pools


def division_weights(industries: pd.DataFrame) -> pd.Series:
    """Probability of each division code for a new entity."""
    div = industries[industries["code"].str.len() == 3]
    w = div["section"].map(SECTION_WEIGHTS).fillna(0.0).to_numpy()
    rel = div["code"].map(DIVISION_WEIGHTS).fillna(1.0).to_numpy()
    sums = pd.Series(rel).groupby(div["section"].to_numpy()).transform("sum").to_numpy()
    p = w * rel / np.where(sums > 0, sums, 1.0)
    return pd.Series(p / p.sum(), index=div["code"].to_numpy())


def _pick(rng: np.random.Generator, pools: list[list[str]]) -> np.ndarray:
    """One word from each row's pool."""
    lengths = np.array([len(p) for p in pools])
    k = (rng.random(len(pools)) * lengths).astype(np.int64)
    return np.array([p[i] for p, i in zip(pools, k, strict=True)], dtype=object)


def _names(
    rng: np.random.Generator, kind: np.ndarray, division: np.ndarray, words: dict[str, list[str]]
) -> np.ndarray:
    n = len(kind)
    b1, b2 = np.array(words["brand1"], dtype=object), np.array(words["brand2"], dtype=object)
    brand = b1[rng.integers(0, len(b1), n)] + b2[rng.integers(0, len(b2), n)]
    by_code = {code: words.get(code, words.get(code[0], ["实业"])) for code in set(division)}
    industry_word = _pick(rng, [by_code[c] for c in division])
    forms = [f for f, _ in COMPANY_FORMS]
    p = np.array([w for _, w in COMPANY_FORMS])
    form = np.array(forms, dtype=object)[rng.choice(len(forms), n, p=p / p.sum())]
    names = np.array(
        [f.format(b=b, w=w) for f, b, w in zip(form, brand, industry_word, strict=True)],
        dtype=object,
    )
    shop_pools = {c: words.get("shop_" + c, words["shop_F52"]) for c in set(division)}
    shop = _pick(rng, [shop_pools[c] for c in division])
    names = np.where(kind == "92", "海曙区" + brand + shop, names)
    coop = np.array(words["coop"], dtype=object)
    names = np.where(
        kind == "93", "宁波市海曙区" + brand + coop[rng.integers(0, len(coop), n)], names
    )
    assoc = np.array(words["assoc"], dtype=object)
    social = np.isin(kind, ["51", "52"])
    names = np.where(social, "宁波市海曙区" + brand + assoc[rng.integers(0, len(assoc), n)], names)
    return np.where(kind == "12", "宁波市海曙区" + brand + "服务中心", names)


def _unique_names(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """Make names unique as a registration authority would: a distinguishing prefix."""
    extra = np.array(list("鸿瑞泰丰盛嘉华恒通达兴隆锦泽润源"), dtype=object)
    for _ in range(20):
        dup = pd.Series(names).duplicated().to_numpy()
        if not dup.any():
            break
        idx = np.flatnonzero(dup)
        pre = extra[rng.integers(0, len(extra), len(idx))]
        names[idx] = [
            n.replace("区", "区" + p, 1) if "区" in n else n.replace("宁波", "宁波" + p, 1)
            for n, p in zip(names[idx], pre, strict=True)
        ]
    return names


def _usccs(rng: np.random.Generator, kind: np.ndarray, founded: np.ndarray) -> np.ndarray:
    n = len(kind)
    admin = np.where(rng.random(n) < P_CITY_REGISTERED, 330200, 330203)
    alphabet = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
    digits = alphabet[:10]
    # Codes issued since the 2015 reform start 'MA' with six characters of the alphabet.
    new = founded >= np.datetime64("2015-10-01", "D")
    body = np.empty((n, 8), dtype=np.uint8)
    todo = np.arange(n)
    for _ in range(50):
        fresh = new[todo]
        part = digits[rng.integers(0, 10, (len(todo), 8))]
        part[fresh, 0:2] = np.frombuffer(b"MA", dtype=np.uint8)
        part[fresh, 2:] = alphabet[rng.integers(0, len(alphabet), (int(fresh.sum()), 6))]
        body[todo] = part
        # Organisation codes are unique: draw again only the later copies of a repeat.
        todo = np.flatnonzero(pd.Series(body.view("S8").ravel()).duplicated().to_numpy())
        if len(todo) == 0:
            return compose_usccs(kind, admin, body)
    raise RuntimeError("could not draw unique social credit codes")


def _money(
    rng: np.random.Generator, kind: np.ndarray, section: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(kind)
    small = kind == "92"
    big = np.isin(section, ["C", "E", "J", "K", "D"])
    employees = np.rint(np.exp(rng.normal(np.where(small, 0.8, 2.0) + 0.6 * big, 1.0))).astype(
        np.int64
    )
    employees = np.where(small, np.minimum(employees, 20), employees)
    capital = np.exp(rng.normal(np.where(small, 2.5, 4.6) + 0.8 * big, 1.1))  # 万元
    per_head = np.exp(rng.normal(np.where(section == "F", 4.3, 3.7), 0.7))  # 万元 a person a year
    revenue = np.maximum(employees, 1) * per_head * np.exp(rng.normal(0, 0.4, n))
    rate = np.clip(rng.normal(0.045, 0.015, n), 0.003, 0.12)
    tax = revenue * rate
    social = np.isin(kind, ["12", "51", "52"])
    revenue = np.where(social, revenue * 0.2, revenue)
    tax = np.where(social, 0.0, tax)
    return {
        "registered_capital": np.round(np.maximum(capital, 1.0), 2),
        "employees": employees,
        "revenue": np.round(np.maximum(revenue, 0.5), 2),
        "tax": np.round(np.minimum(tax, revenue * 0.5), 2),
    }


def generate_legal_entities(
    addresses: pd.DataFrame, industries: pd.DataFrame, n: int, rng: np.random.Generator
) -> pd.DataFrame:
    """The legal-entity register: ``n`` fictitious entities at door/building/room addresses."""
    kinds = [k for k, _ in KINDS]
    kw = np.array([w for _, w in KINDS])
    kind = np.array(kinds)[rng.choice(len(kinds), n, p=kw / kw.sum())]
    p = division_weights(industries)
    division = p.index.to_numpy()[rng.choice(len(p), n, p=p.to_numpy())]
    # The kind decides the industry where it must: coops farm, social bodies are section S.
    division = np.where(kind == "93", "A05", division)
    division = np.where(np.isin(kind, ["51", "52"]), "S95", division)
    sole = np.array(list(SOLE_TRADER_DIVISIONS))
    sw = np.array(list(SOLE_TRADER_DIVISIONS.values()))
    division = np.where(kind == "92", sole[rng.choice(len(sole), n, p=sw / sw.sum())], division)
    division = np.where(
        kind == "12", np.array(["P83", "Q84", "R88"])[rng.integers(0, 3, n)], division
    )
    section = np.array([d[0] for d in division])

    span = int((FOUNDING_END - FOUNDING_START).astype(np.int64))
    # More entities were founded recently: a skew towards the end of the period.
    founded = FOUNDING_START + (span * rng.beta(2.2, 1.0, n)).astype(np.int64)

    level = addresses["level"].to_numpy()
    w = np.zeros(len(addresses))
    for name, weight in ADDRESS_LEVEL_WEIGHTS.items():
        w[level == name] = weight
    where = rng.choice(len(addresses), n, p=w / w.sum())
    rows = addresses.iloc[where]
    words = load_words()
    frame = pd.DataFrame(
        {
            "entity_id": np.arange(1, n + 1, dtype=np.int64),
            "uscc": _usccs(rng, kind, founded).astype(object),
            "name": _unique_names(rng, _names(rng, kind, division, words)),
            "industry_code": division.astype(object),
            "industry_section": section.astype(object),
            "registered_address": write_many_like_clerks(rows, rng),
        }
    )
    for column, values in _money(rng, kind, section).items():
        frame[column] = values
    frame["founding_date"] = founded.astype("datetime64[D]").astype(object)
    frame["eval_address_id"] = rows["address_id"].to_numpy(dtype=object)
    return frame
