"""The suppression rule on small, hand-made tables: primary suppression, complements inside a
row and between levels, and that no hidden cell is fixed by the published ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spatialsvc.thematic.suppress import primary, suppress
from spatialsvc.thematic.themes import LEGAL_ENTITY, LEVELS, POPULATION, THRESHOLD, Theme


def person_row(total: int, male: int, young: int, old: int, households: int) -> dict[str, int]:
    return {
        "pop_total": total,
        "pop_male": male,
        "pop_female": total - male,
        "age_0_14": young,
        "age_15_59": total - young - old,
        "age_60_plus": old,
        "households": households,
    }


def tables(
    grids: dict[str, dict[str, int]], grid_parent: dict[str, str], community_parent: dict[str, str]
):  # type: ignore[no-untyped-def]
    grid = pd.DataFrame.from_dict(grids, orient="index").astype(float)
    community = grid.groupby(pd.Series(grid_parent)).sum()
    township = community.groupby(pd.Series(community_parent)).sum()
    frames = {"grid": grid, "community": community, "township": township}
    parents = {"grid": pd.Series(grid_parent), "community": pd.Series(community_parent)}
    return frames, parents


def sums_of(frames, parents, theme: Theme):  # type: ignore[no-untyped-def]
    """Every sum the tables obey, written out independently of the module: (cells, coefs)."""
    keys = [(lv, code, col) for lv in LEVELS for code in frames[lv].index for col in theme.cells]
    at = {k: i for i, k in enumerate(keys)}
    rows = []
    for lv in LEVELS:
        for code in frames[lv].index:
            for total, parts in theme.relations:
                rows.append(
                    {at[(lv, code, total)]: 1.0, **{at[(lv, code, p)]: -1.0 for p in parts}}
                )
    for child, parent in (("grid", "community"), ("community", "township")):
        for code in frames[parent].index:
            kids = [c for c, p in parents[child].items() if p == code]
            for col in theme.cells:
                rows.append(
                    {at[(parent, code, col)]: 1.0, **{at[(child, c, col)]: -1.0 for c in kids}}
                )
    matrix = np.zeros((len(rows), len(keys)))
    for r, row in enumerate(rows):
        for c, v in row.items():
            matrix[r, c] = v
    return keys, matrix


def fixed_cells(frames, parents, theme, hidden):  # type: ignore[no-untyped-def]
    """Hidden cells whose value the sums and the visible cells determine (rank test)."""
    keys, matrix = sums_of(frames, parents, theme)
    flags = np.array([bool(hidden[lv].loc[code, col]) for lv, code, col in keys])
    h = np.flatnonzero(flags)
    a = matrix[:, h]
    rank = np.linalg.matrix_rank(a)
    out = []
    for j, cell in enumerate(h):
        unit = np.zeros((1, len(h)))
        unit[0, j] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            out.append(keys[cell])
    return out


GRIDS = {
    "g1": person_row(100, 3, 20, 20, 40),
    "g2": person_row(50, 25, 10, 15, 20),
    "g3": person_row(80, 40, 2, 30, 30),
    "g4": person_row(60, 30, 12, 18, 25),
    "g5": person_row(70, 35, 14, 21, 28),
    "g6": person_row(0, 0, 0, 0, 0),
}
GRID_PARENT = {"g1": "c1", "g2": "c1", "g3": "c2", "g4": "c2", "g5": "c3", "g6": "c3"}
COMMUNITY_PARENT = {"c1": "t1", "c2": "t1", "c3": "t1"}


def test_primary_hides_counts_under_the_threshold_and_gated_rows() -> None:
    frames, _ = tables(
        {"a": person_row(100, 3, 20, 20, 40), "b": person_row(12, 6, 6, 0, 3)}, {}, {}
    )
    hidden = primary(frames["grid"], POPULATION)
    assert hidden.loc["a"].to_dict() == {c: c == "pop_male" for c in POPULATION.cells}
    assert hidden.loc["b"].all()  # 3 households: the whole row


def test_amounts_go_with_few_entities_or_one_dominant_entity() -> None:
    row = {c: 0.0 for c in LEGAL_ENTITY.counts}
    frame = pd.DataFrame(
        [
            {**row, "entities": 4, "entities_c": 4, **{f"{a}": 10.0 for a in LEGAL_ENTITY.amounts}},
            {
                **row,
                "entities": 9,
                "entities_c": 9,
                **{f"{a}": 100.0 for a in LEGAL_ENTITY.amounts},
            },
            {
                **row,
                "entities": 9,
                "entities_c": 9,
                **{f"{a}": 100.0 for a in LEGAL_ENTITY.amounts},
            },
        ],
        index=["few", "dominated", "spread"],
    )
    for a in LEGAL_ENTITY.amounts:
        frame[f"{a}_max"] = [5.0, 90.0, 20.0]
    hidden = primary(frame, LEGAL_ENTITY)
    assert hidden.loc["few", list(LEGAL_ENTITY.amounts)].all()
    assert hidden.loc["dominated", list(LEGAL_ENTITY.amounts)].all()
    assert not hidden.loc["spread", list(LEGAL_ENTITY.amounts)].any()


def test_no_hidden_cell_is_fixed_by_the_published_ones() -> None:
    frames, parents = tables(GRIDS, GRID_PARENT, COMMUNITY_PARENT)
    hidden = suppress(frames, parents, POPULATION)
    first = {lv: primary(frames[lv], POPULATION) for lv in LEVELS}
    for lv in LEVELS:  # every primary cell stays hidden
        assert not (first[lv] & ~hidden[lv]).to_numpy().any()
    assert hidden["grid"].loc["g1", "pop_male"]
    assert fixed_cells(frames, parents, POPULATION, hidden) == []
    # and without the complements the male count of g1 would be given away
    assert ("grid", "g1", "pop_male") in fixed_cells(frames, parents, POPULATION, first)


def test_hidden_zeros_are_not_given_away_by_a_zero_remainder() -> None:
    frames, parents = tables(GRIDS, GRID_PARENT, COMMUNITY_PARENT)
    hidden = suppress(frames, parents, POPULATION)
    # g6 is empty; its community c3 would show g5's total alone: g5's total must go too
    assert hidden["grid"].loc["g6"].all()
    c3 = ["g5", "g6"]
    for col in POPULATION.cells:
        if not hidden["community"].loc["c3", col]:
            hidden_values = [frames["grid"].loc[g, col] for g in c3 if hidden["grid"].loc[g, col]]
            assert not hidden_values or sum(hidden_values) > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_tables_leave_nothing_fixed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grids, grid_parent = {}, {}
    for i in range(18):
        total = int(rng.choice([0, 2, 6, 9, 30, 120]))
        male = int(rng.integers(0, total + 1))
        young = int(rng.integers(0, total + 1))
        old = int(rng.integers(0, total - young + 1))
        grids[f"g{i:02d}"] = person_row(total, male, young, old, max(total // 3, int(total > 0)))
        grid_parent[f"g{i:02d}"] = f"c{i // 4}"
    community_parent = {c: "t1" if c < "c3" else "t2" for c in set(grid_parent.values())}
    frames, parents = tables(grids, grid_parent, community_parent)
    hidden = suppress(frames, parents, POPULATION)
    assert fixed_cells(frames, parents, POPULATION, hidden) == []
    for lv in LEVELS:
        visible = frames[lv][list(POPULATION.counts)].where(~hidden[lv])
        assert (visible.stack().dropna() >= THRESHOLD).all()
