"""The small-count rule of every analysis output, for every caller.

- A count of persons or households from 1 to :data:`MAX_SUPPRESSED` (1-4) becomes null and its
  name goes into the output's ``suppressed`` list; 0 stays 0.
- Where parts add up to a total shown in the same output (male + female = total; the three age
  bands = total), one suppressed part would be the total minus the others: the smallest other
  part is suppressed too (complementary suppression), or the total if no part is left.
- Sums of money and employees over legal entities (registered capital, employees, revenue,
  tax) are suppressed when they cover 1 to 4 entities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

MAX_SUPPRESSED = 4  # counts 1..4 are suppressed
MIN_ENTITIES = 5  # money sums over fewer entities (but at least one) are suppressed


def small(count: int | None) -> bool:
    """True for a count the rule hides (1 to 4)."""
    return count is not None and 0 < count <= MAX_SUPPRESSED


def suppress_counts(
    counts: Mapping[str, int],
    groups: Iterable[tuple[str, Sequence[str]]] = (),
    prefix: str = "",
) -> tuple[dict[str, int | None], list[str]]:
    """Counts of persons with the rule applied: (values, names suppressed, prefixed).

    ``groups`` are (total, parts) whose parts add up to the total.
    """
    hidden = {name for name, value in counts.items() if small(value)}
    groups = list(groups)
    changed = True
    while changed:
        changed = False
        for total, parts in groups:
            members = [total, *parts]
            if sum(1 for m in members if m in hidden) != 1:
                continue
            # exactly one hidden member: it follows from the others; hide one more
            shown = [p for p in parts if p not in hidden and counts[p] > 0]
            extra = min(shown, key=lambda p: (counts[p], p)) if shown else total
            if extra in hidden:  # the only hidden member is the total, parts all 0
                continue
            hidden.add(extra)
            changed = True
    values = {name: (None if name in hidden else value) for name, value in counts.items()}
    return values, [prefix + name for name in counts if name in hidden]


def suppress_sums(
    sums: Mapping[str, float | int], entities: int, prefix: str = ""
) -> tuple[dict[str, float | int | None], list[str]]:
    """Sums over legal entities, hidden when they cover 1 to 4 entities."""
    if 0 < entities < MIN_ENTITIES:
        return dict.fromkeys(sums), [prefix + name for name in sums]
    return dict(sums), []
