"""Small-count suppression that cannot be undone by subtraction.

Primary suppression hides a count under :data:`~spatialsvc.thematic.themes.THRESHOLD`; a
row whose total (or gate, e.g. households) is under it is hidden whole (for its theme); an
amount is hidden with its row's count, or when one record makes more than
:data:`~spatialsvc.thematic.themes.DOMINANCE` of it.

Published cells are tied by sums: inside a row (``pop_total = pop_male + pop_female``) and
between levels (a community's cell is the sum of its grids' cells).  Someone holding the published
tables knows every visible cell and every sum, so a hidden cell is given away when it is the
only unknown of a sum, or more generally when the sums fix it: when its unit vector lies in the
row space of the sums restricted to the hidden cells.  And since counts and amounts are never
negative, hidden cells of a sum whose known remainder is 0 are all 0.  Complementary
suppression hides, for each such cell, the smallest visible cell sharing a sum with it, and
checks again until no hidden cell is determined.

Everything here is pure: frames in, a boolean frame per level out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse
import scipy.sparse.csgraph

from spatialsvc.thematic.themes import DOMINANCE, LEVELS, THRESHOLD, Theme

_TOL = 1e-9


def primary(frame: pd.DataFrame, theme: Theme) -> pd.DataFrame:
    """Primary suppression of one level's frame (index: unit code; columns: the theme's cells
    and ``<amount>_max``, the largest single record of each amount)."""
    hidden = pd.DataFrame(False, index=frame.index, columns=list(theme.cells))
    counts = frame[list(theme.counts)]
    hidden[list(theme.counts)] = (counts < THRESHOLD).to_numpy()
    gate = frame[theme.total] < THRESHOLD
    for name in theme.gates:
        gate |= frame[name] < THRESHOLD
    hidden.loc[gate, :] = True
    for name in theme.amounts:
        total = frame[name].astype(float)
        top = frame[f"{name}_max"].astype(float)
        hidden[name] = (gate | ((total > 0) & (top > DOMINANCE * total))).to_numpy()
    return hidden


@dataclass
class _System:
    """Every cell of a theme at every level, and the sums that tie them."""

    keys: list[tuple[str, str, str]] = field(default_factory=list)  # (level, code, column)
    values: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # sparse sums: row, column, coefficient
    cols: list[int] = field(default_factory=list)
    coefs: list[float] = field(default_factory=list)
    n_sums: int = 0

    def add_sum(self, total: int, parts: list[int]) -> None:
        """One sum: ``cell[total] = Σ cell[parts]``."""
        if not parts:
            return
        row = self.n_sums
        self.n_sums += 1
        for col, coef in [(total, 1.0), *((p, -1.0) for p in parts)]:
            self.rows.append(row)
            self.cols.append(col)
            self.coefs.append(coef)

    def matrix(self) -> scipy.sparse.csr_matrix:
        """The sums as a sparse matrix (sums × cells)."""
        shape = (self.n_sums, len(self.keys))
        return scipy.sparse.csr_matrix((self.coefs, (self.rows, self.cols)), shape=shape)


def _build(
    frames: Mapping[str, pd.DataFrame],
    parents: Mapping[str, pd.Series],
    theme: Theme,
) -> tuple[_System, dict[tuple[str, str, str], int]]:
    system = _System()
    index: dict[tuple[str, str, str], int] = {}
    for level in LEVELS:
        frame = frames[level]
        for column in theme.cells:
            for code, value in zip(frame.index, frame[column].to_numpy(dtype=float), strict=True):
                index[(level, str(code), column)] = len(system.keys)
                system.keys.append((level, str(code), column))
                system.values.append(float(value))
    for level in LEVELS:
        for code in frames[level].index:
            for total, parts in theme.relations:
                system.add_sum(
                    index[(level, str(code), total)], [index[(level, str(code), p)] for p in parts]
                )
    for child, parent in zip(LEVELS, LEVELS[1:], strict=False):
        groups = parents[child].groupby(parents[child]).groups
        for parent_code, child_codes in groups.items():
            if (parent, str(parent_code), theme.total) not in index:
                continue
            for column in theme.cells:
                system.add_sum(
                    index[(parent, str(parent_code), column)],
                    [index[(child, str(c), column)] for c in child_codes],
                )
    return system, index


def _peel(rows_of: dict[int, set[int]], cells_of: dict[int, set[int]]) -> list[tuple[int, int]]:
    """Take out, one by one, a hidden cell that is in a single sum, with that sum.

    Such a cell is free as far as the other cells are concerned (whatever they are, it takes
    up the difference), so its sum tells nothing about them.  Returns the (sum, cell) pairs in
    the order taken; ``rows_of`` and ``cells_of`` are left holding the rest (the core).
    """
    peeled = []
    queue = [c for c, rows in rows_of.items() if len(rows) == 1]
    while queue:
        cell = queue.pop()
        rows = rows_of.get(cell)
        if rows is None or len(rows) != 1:
            continue
        (row,) = rows
        peeled.append((row, cell))
        del rows_of[cell]
        for other in cells_of.pop(row):
            if other == cell or other not in rows_of:
                continue
            rows_of[other].discard(row)
            if len(rows_of[other]) == 1:
                queue.append(other)
    return peeled


def _orthonormal_columns(matrix: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the matrix's column space (as scipy.linalg.orth).

    LAPACK's divide-and-conquer SVD (gesdd, orth's default) fails to converge on some of these
    0/±1 matrices ("SVD did not converge"); the slower QR-iteration driver (gesvd) then does.
    """
    if matrix.size == 0:
        return np.zeros((matrix.shape[0], 0))
    try:
        u, s, _ = scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:
        u, s, _ = scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesvd")
    cutoff = np.finfo(float).eps * max(matrix.shape) * (s.max() if s.size else 0.0)
    rank = int((s > cutoff).sum())
    return u[:, :rank]


def _determined(sums: scipy.sparse.csr_matrix, hidden: np.ndarray) -> np.ndarray:
    """Hidden cells that the visible cells and the sums fix exactly.

    A hidden cell is fixed when its unit vector lies in the row space of the sums restricted
    to the hidden cells.  Cells alone in one sum are peeled off first (:func:`_peel`); the
    rest is solved per connected group with an SVD; a peeled cell is fixed when every other
    hidden cell of its sum is.
    """
    out = np.zeros(len(hidden), dtype=bool)
    h = np.flatnonzero(hidden)
    if not len(h):
        return out
    a_h = sums[:, h].tocsr()
    rows_of: dict[int, set[int]] = {}
    cells_of: dict[int, set[int]] = {}
    coo = a_h.tocoo()
    for r, c in zip(coo.row.tolist(), coo.col.tolist(), strict=True):
        rows_of.setdefault(c, set()).add(r)
        cells_of.setdefault(r, set()).add(c)
    members_of_row = {r: set(cs) for r, cs in cells_of.items()}
    peeled = _peel(rows_of, cells_of)
    fixed = np.zeros(len(h), dtype=bool)
    core_cells = np.array(sorted(c for c, rows in rows_of.items() if rows), dtype=int)
    core_rows = np.array(sorted(cells_of), dtype=int)
    if len(core_cells) and len(core_rows):
        core = a_h[core_rows][:, core_cells]
        inc = core.astype(bool).astype(np.int8)
        adjacency = (inc.T @ inc).tocsr()
        n_groups, group_of = scipy.sparse.csgraph.connected_components(adjacency, directed=False)
        for g in range(n_groups):
            members = np.flatnonzero(group_of == g)
            block = core[:, members]
            block = block[np.flatnonzero(np.diff(block.tocsr().indptr))].toarray()
            basis = _orthonormal_columns(block.T)  # the sums' row space over these cells
            leverage = (basis**2).sum(axis=1)
            fixed[core_cells[members[leverage > 1 - _TOL]]] = True
    for row, cell in reversed(peeled):
        fixed[cell] = all(fixed[c] for c in members_of_row[row] if c != cell)
    out[h[fixed]] = True
    return out


class _Cells:
    """The hidden cells and, for every sum, how many of its cells are hidden."""

    def __init__(self, sums: scipy.sparse.csr_matrix, values: np.ndarray, hidden: np.ndarray):
        self.sums = sums
        self.by_cell = sums.tocsc()
        self.values = values
        self.hidden = hidden
        self.count = np.asarray(sums[:, hidden].astype(bool).sum(axis=1)).ravel()

    def sums_of(self, cell: int) -> np.ndarray:
        """The sums a cell is in."""
        return self.by_cell.indices[self.by_cell.indptr[cell] : self.by_cell.indptr[cell + 1]]

    def cells_of(self, row: int) -> np.ndarray:
        """The cells of a sum."""
        return self.sums.indices[self.sums.indptr[row] : self.sums.indptr[row + 1]]

    def hide(self, cell: int) -> None:
        """Hide one more cell."""
        if not self.hidden[cell]:
            self.hidden[cell] = True
            self.count[self.sums_of(cell)] += 1

    def exposed(self) -> np.ndarray:
        """Sums that give a hidden cell away by themselves: one hidden cell; or hidden parts
        only (the total visible) that add up to 0, so that each is 0."""
        parts = -self.sums.minimum(0)
        total_hidden = np.asarray(self.sums.maximum(0)[:, self.hidden].sum(axis=1)).ravel()
        hidden_parts_sum = parts @ (self.values * self.hidden)
        zero = (self.count > 0) & (total_hidden == 0) & (np.abs(hidden_parts_sum) < _TOL)
        return np.flatnonzero((self.count == 1) | zero)

    def complement(self, rows: np.ndarray) -> int | None:
        """The visible cell of ``rows`` to hide: the one that leaves the fewest sums with a
        single hidden cell, then the smallest positive value."""
        best: tuple[int, int, float, int] | None = None
        for row in rows:
            for cell in self.cells_of(int(row)):
                if self.hidden[cell]:
                    continue
                opened = int((self.count[self.sums_of(cell)] == 0).sum())
                value = float(self.values[cell])
                key = (opened, 0 if value > 0 else 1, value, int(cell))
                if best is None or key < best:
                    best = key
        return None if best is None else best[3]

    def complement_near(self, cell: int) -> int | None:
        """A complement for a cell fixed by several sums together: from its own sums, else
        from the sums of the hidden cells it shares them with, and so on outwards."""
        seen_rows: set[int] = set()
        frontier = {cell}
        seen_cells = {cell}
        while frontier:
            rows = {int(r) for c in frontier for r in self.sums_of(c)} - seen_rows
            if not rows:
                return None
            seen_rows |= rows
            found = self.complement(np.array(sorted(rows)))
            if found is not None:
                return found
            members = {int(c) for r in rows for c in self.cells_of(r)}
            frontier = members - seen_cells
            seen_cells |= members
        return None

    def settle(self) -> None:
        """Hide complements until no sum gives a cell away by itself."""
        while True:
            rows = self.exposed()
            if not len(rows):
                return
            added = 0
            for row in rows:
                if self.count[row] == 1 or self._still_zero(int(row)):
                    cell = self.complement(np.array([row]))
                    if cell is not None:
                        self.hide(cell)
                        added += 1
            if not added:
                return  # every cell of those sums is hidden already

    def _still_zero(self, row: int) -> bool:
        cells = self.cells_of(row)
        coefs = self.sums.data[self.sums.indptr[row] : self.sums.indptr[row + 1]]
        hidden = self.hidden[cells]
        if not hidden.any() or (hidden & (coefs > 0)).any():
            return False
        return bool(abs(self.values[cells[hidden]].sum()) < _TOL)


def suppress(
    frames: Mapping[str, pd.DataFrame],
    parents: Mapping[str, pd.Series],
    theme: Theme,
) -> dict[str, pd.DataFrame]:
    """Which cells to publish as NULL, per level.

    ``frames[level]`` is indexed by unit code with the theme's cells (and ``<amount>_max``);
    ``parents[level]`` maps each unit code to its unit at the next level (grid and community).
    Every unit of a level must be present, with zeros where nothing was counted.

    First every sum is made to hide 0 or at least 2 cells (and no hidden parts adding up to 0),
    choosing complements that open the fewest new sums; then the whole system is checked, and
    cells it still fixes get a complement from one of their sums, until none is fixed.
    """
    system, index = _build(frames, parents, theme)
    values = np.asarray(system.values, dtype=float)
    hidden = np.zeros(len(values), dtype=bool)
    for level in LEVELS:
        first = primary(frames[level], theme)
        for column in theme.cells:
            for code, flag in zip(first.index, first[column].to_numpy(), strict=True):
                if flag:
                    hidden[index[(level, str(code), column)]] = True
    cells = _Cells(system.matrix(), values, hidden)
    while True:
        cells.settle()
        fixed = np.flatnonzero(_determined(cells.sums, cells.hidden))
        added = 0
        for cell in fixed:
            other = cells.complement_near(int(cell))
            if other is not None:
                cells.hide(other)
                added += 1
        if not added:
            break
    out: dict[str, pd.DataFrame] = {}
    for level in LEVELS:
        frame = frames[level]
        flags = pd.DataFrame(False, index=frame.index, columns=list(theme.cells))
        for column in theme.cells:
            flags[column] = [
                cells.hidden[index[(level, str(code), column)]] for code in frame.index
            ]
        out[level] = flags
    return out
