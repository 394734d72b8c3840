"""What is aggregated: the themes, their levels, their cells and the sums that tie them.

A theme (population, legal entities) is counted at three levels, grid ⊂ community ⊂ township;
both themes of a level share one table, ``thematic.stats_<level>``.  Its cells are counts
(suppressed under :data:`THRESHOLD`) and amounts (sums of money or employees, suppressed with
their row's count or when one record dominates them).  :attr:`Theme.relations` are the sums
inside one row (``pop_total = pop_male + pop_female``); the sums between levels (a community
is the sum of its grids) hold for every cell.  :mod:`spatialsvc.thematic.suppress` keeps
every suppressed cell from being derived through either.
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD = 5
"""Counts under this are suppressed."""
DOMINANCE = 0.85
"""An amount is suppressed when one record makes more than this share of it."""

LEVELS: tuple[str, ...] = ("grid", "community", "township")
"""Finest first; each level's units lie inside one unit of the next."""

SECTIONS: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRST")
"""GB/T 4754-2017 industry sections."""


@dataclass(frozen=True)
class Theme:
    """One register's aggregates."""

    name: str
    total: str
    counts: tuple[str, ...]
    amounts: tuple[str, ...] = ()
    gates: tuple[str, ...] = ()
    relations: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def cells(self) -> tuple[str, ...]:
        """Every suppressible column: counts, then amounts."""
        return self.counts + self.amounts


def stats_table(level: str) -> str:
    """The table (and layer) holding the aggregates of ``level``, without its schema."""
    return f"stats_{level}"


POPULATION = Theme(
    name="population",
    total="pop_total",
    counts=(
        "pop_total",
        "pop_male",
        "pop_female",
        "age_0_14",
        "age_15_59",
        "age_60_plus",
        "households",
    ),
    # Fewer than 5 households: the row would describe single families.
    gates=("households",),
    relations=(
        ("pop_total", ("pop_male", "pop_female")),
        ("pop_total", ("age_0_14", "age_15_59", "age_60_plus")),
    ),
)

SECTION_COLUMNS: tuple[str, ...] = tuple(f"entities_{s.lower()}" for s in SECTIONS)

LEGAL_ENTITY = Theme(
    name="legal_entity",
    total="entities",
    counts=("entities", *SECTION_COLUMNS),
    amounts=("registered_capital", "employees", "revenue", "tax"),
    relations=(("entities", SECTION_COLUMNS),),
)

THEMES: dict[str, Theme] = {t.name: t for t in (POPULATION, LEGAL_ENTITY)}
