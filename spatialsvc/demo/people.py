"""The demo population register (人口库): fictitious people in households at standard addresses.

Everything is drawn from one numpy Generator and vectorised; only the clerk-style address text
is written row by row (see :mod:`spatialsvc.demo.clerk`).
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

import numpy as np
import pandas as pd

from spatialsvc.codes import compose_id_numbers
from spatialsvc.demo.clerk import write_many_like_clerks

REFERENCE_DATE = np.datetime64("2025-06-30", "D")  # "today" for ages: fixed, so runs repeat
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5])
HOUSEHOLD_SIZE_P = np.array([0.25, 0.30, 0.25, 0.12, 0.08])
# Age pyramid: relative weight of each 5-year band 0-4 .. 95-100 (roughly an eastern Chinese city).
AGE_BANDS = np.array(
    [4.0, 5.0, 4.8, 4.2, 5.0, 6.5, 8.5, 7.5, 6.8, 8.0, 8.5, 7.5, 5.5, 5.3, 3.8, 2.4, 1.6]
    + [0.8, 0.3, 0.08]
)
# Where the people registered here were born: region code → weight. Mostly Haishu itself.
REGIONS: dict[int, float] = {
    330203: 80.0,  # 海曙区
    330212: 3.0,  # 鄞州区
    330205: 1.5,  # 江北区
    330206: 1.0,  # 北仑区
    330211: 0.7,  # 镇海区
    330281: 1.5,  # 余姚市
    330282: 1.2,  # 慈溪市
    330226: 0.8,  # 宁海县
    330225: 0.6,  # 象山县
    330106: 0.4,  # 杭州西湖区
    330302: 0.4,  # 温州鹿城区
    331002: 0.4,  # 台州椒江区
    330602: 0.3,  # 绍兴越城区
    341221: 1.2,  # 安徽临泉县
    362329: 0.9,  # 江西余干县
    522425: 0.8,  # 贵州织金县
    431021: 0.6,  # 湖南桂阳县
    412726: 0.9,  # 河南郸城县
    450821: 0.5,  # 广西平南县
    510921: 0.5,  # 四川蓬溪县
}
PHONE_PREFIXES = np.array(
    [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159]
    + [170, 173, 177, 180, 181, 183, 185, 186, 187, 188, 189, 191, 198, 199]
)
# Weight of an address as the home of a household. A door plate with rooms behind it (a
# compound gate, a block of flats) is rarely written as a home; a door plate with nothing
# finer behind it is a house: common in the towns (镇/乡), less so in the city's 街道.
HOME_WEIGHT = {"room": 1.0, "door": 0.01, "building": 0.02}
HOUSE_WEIGHT_RURAL = 1.0
HOUSE_WEIGHT_URBAN = 0.15
P_TWO_GIVEN_CHARS = 0.75


def _data_lines(name: str) -> list[list[str]]:
    text = (resources.files("spatialsvc") / "data" / "demo" / name).read_text(encoding="utf-8")
    return [ln.split("\t") for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def household_sizes(rng: np.random.Generator, n_persons: int) -> np.ndarray:
    """Household sizes (1-5) summing to exactly ``n_persons``."""
    guess = int(n_persons / float(HOUSEHOLD_SIZES @ HOUSEHOLD_SIZE_P) * 1.1) + 10
    sizes = rng.choice(HOUSEHOLD_SIZES, guess, p=HOUSEHOLD_SIZE_P)
    while sizes.sum() < n_persons:
        sizes = np.concatenate([sizes, rng.choice(HOUSEHOLD_SIZES, guess, p=HOUSEHOLD_SIZE_P)])
    total = np.cumsum(sizes)
    k = int(np.searchsorted(total, n_persons))  # first household reaching n_persons
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= int(total[k] - n_persons)
    return sizes


def home_weights(addresses: pd.DataFrame) -> np.ndarray:
    """How likely each address is to be a household's home."""
    level = addresses["level"].to_numpy()
    w = np.zeros(len(addresses))
    for name, weight in HOME_WEIGHT.items():
        w[level == name] = weight
    plate = (
        addresses["township_code"].astype(str)
        + "|"
        + addresses["road"].astype(object).fillna("").astype(str)
        + "|"
        + addresses["door_number"].astype(object).fillna("").astype(str)
    )
    has_rooms = plate.isin(plate[level == "room"]).to_numpy()
    rural = addresses["township"].astype(str).str.endswith(("镇", "乡")).to_numpy()
    house = (level == "door") & ~has_rooms
    w[house] = np.where(rural[house], HOUSE_WEIGHT_RURAL, HOUSE_WEIGHT_URBAN)
    return w


def sample_homes(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Indices of n homes: distinct while there are enough, weighted (Gumbel top-k)."""
    candidates = np.flatnonzero(weights > 0)
    keys = np.log(weights[candidates]) + rng.gumbel(size=len(candidates))
    first = candidates[np.argsort(-keys, kind="stable")[:n]]
    if len(first) == n:
        return rng.permutation(first)
    p = weights[candidates] / weights[candidates].sum()
    extra = rng.choice(candidates, n - len(first), p=p)
    return rng.permutation(np.concatenate([first, extra]))


def _ages(rng: np.random.Generator, position: np.ndarray, head_of: np.ndarray) -> np.ndarray:
    ages = np.arange(100)
    w = np.repeat(AGE_BANDS, 5)[:100]
    adult = np.where(ages >= 20, w, 0.0)
    n_h = int(head_of.max()) + 1
    head_age = rng.choice(ages, n_h, p=adult / adult.sum())[head_of]
    spouse = np.clip(head_age + np.rint(rng.normal(0, 3, len(head_of))), 18, 99)
    child = head_age - rng.integers(22, 37, len(head_of))
    child = np.where(child < 0, rng.integers(0, 3, len(head_of)), child)
    return np.select([position == 0, position == 1], [head_age, spouse], child).astype(np.int64)


def _sequences(
    rng: np.random.Generator, region: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """3-digit sequence codes, distinct within (region, birth date, sex); odd for men.

    A sequence has room for 500 people of one sex born on one day in one region; at very large
    scales the overflow is moved to the day before (as often as needed). Returns the (possibly
    moved) birth dates and the sequences.
    """
    birth = np.asarray(birth, dtype="datetime64[D]").copy()
    tiebreak = rng.random(len(birth))
    for _ in range(100_000):
        day = birth.astype(np.int64)
        order = np.lexsort((tiebreak, male, day, region))
        key = np.stack([region[order], day[order], male[order]])
        new = np.ones(len(day), dtype=bool)
        new[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
        start = np.maximum.accumulate(np.where(new, np.arange(len(day)), 0))
        rank = np.arange(len(day)) - start
        over = rank >= 500
        if not over.any():
            break
        birth[order[over]] -= np.timedelta64(1, "D")
    group = np.cumsum(new) - 1
    n_groups = int(group[-1]) + 1 if len(group) else 0
    offset = rng.integers(0, 500, n_groups)[group]
    step = np.array([1, 3, 7, 11, 13, 37, 73, 101])[rng.integers(0, 8, n_groups)][group]
    idx = np.empty(len(day), dtype=np.int64)
    idx[order] = (offset + rank * step) % 500
    return birth, idx * 2 + male.astype(np.int64)


def _names(rng: np.random.Generator, male: np.ndarray, head_of: np.ndarray) -> np.ndarray:
    surnames = _data_lines("surnames.txt")
    s_chars = np.array([s for s, _ in surnames], dtype=object)
    s_w = np.array([float(w) for _, w in surnames])
    given = _data_lines("given_chars.txt")
    g_chars = np.array([c for c, _ in given], dtype=object)
    tags = np.array([t for _, t in given])
    n = len(male)
    # Each household's head's surname; the spouse (position 1) has an own one.
    head_surname = rng.choice(len(s_chars), int(head_of.max()) + 1, p=s_w / s_w.sum())
    own_surname = rng.choice(len(s_chars), n, p=s_w / s_w.sum())
    position = np.arange(n) - np.searchsorted(head_of, head_of)
    surname = np.where(position == 1, own_surname, head_surname[head_of])
    male_pool = np.flatnonzero(tags != "f")
    female_pool = np.flatnonzero(tags != "m")

    def pick() -> np.ndarray:
        m = male_pool[rng.integers(0, len(male_pool), n)]
        f = female_pool[rng.integers(0, len(female_pool), n)]
        return g_chars[np.where(male, m, f)]

    first, second = pick(), pick()
    second = np.where(rng.random(n) < P_TWO_GIVEN_CHARS, second, "")
    return (s_chars[surname] + first + second).astype(object)


def generate_persons(
    addresses: pd.DataFrame, n_persons: int, rng: np.random.Generator
) -> pd.DataFrame:
    """The population register: ``n_persons`` people in households of 1-5 at addresses."""
    sizes = household_sizes(rng, n_persons)
    homes = sample_homes(rng, home_weights(addresses), len(sizes))
    head_of = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(n_persons) - np.repeat(np.cumsum(sizes) - sizes, sizes)

    ages = _ages(rng, position, head_of)
    days = rng.integers(0, 365, n_persons)
    birth = REFERENCE_DATE - (np.floor(ages * 365.25).astype(np.int64) + days)
    head_male = rng.random(len(sizes)) < 0.55
    male = np.where(
        position == 0,
        head_male[head_of],
        np.where(
            position == 1,
            ~head_male[head_of] ^ (rng.random(n_persons) < 0.03),
            rng.random(n_persons) < 0.51,
        ),
    )
    codes = np.array(list(REGIONS), dtype=np.int64)
    w = np.array(list(REGIONS.values()))
    region = rng.choice(codes, len(sizes), p=w / w.sum())[head_of]
    birth, sequence = _sequences(rng, region, birth, male)
    id_numbers = compose_id_numbers(region, birth, sequence)

    phone_h = rng.choice(PHONE_PREFIXES, len(sizes)) * 10**8 + rng.integers(0, 10**8, len(sizes))
    phone_p = rng.choice(PHONE_PREFIXES, n_persons) * 10**8 + rng.integers(0, 10**8, n_persons)
    phone = np.where((ages < 16) | (position == 0), phone_h[head_of], phone_p)

    home_rows = addresses.iloc[homes[head_of]]
    texts = write_many_like_clerks(home_rows, rng)
    return pd.DataFrame(
        {
            "person_id": np.arange(1, n_persons + 1, dtype=np.int64),
            "name": _names(rng, male, head_of),
            "id_number": id_numbers.astype(object),
            "sex": np.where(male, "男", "女").astype(object),
            "birth_date": birth.astype("datetime64[D]").astype(object),
            "phone": phone.astype(str).astype(object),
            "household_id": head_of.astype(np.int64) + 1,
            "household_address": texts,
            "eval_address_id": home_rows["address_id"].to_numpy(dtype=object),
        }
    )


def birth_date_of(id_number: str) -> dt.date:
    """The birth date written in an ID number."""
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
