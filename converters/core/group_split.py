"""Train/val assignment grouped by an id (task or trace): a group never has rows in two splits.

Two rules, both deterministic for a seed:
- ``rank``: sort groups by a seeded hash and put the first ``round(val * n)`` in val (at least one
  when ``val > 0`` and there are two or more groups, never all). Exact counts; for few groups
  (tool traces: 20-30 tasks).
- ``threshold``: a group is in val when its seeded hash is below ``val``. The assignment of a
  group never depends on which other groups are present, so datasets built from subsets of the
  same traces (steps -> summaries) agree on every trace's split. Same floor/ceiling as ``rank``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from converters.core.split import unit_hash

SplitMethod = Literal["rank", "threshold"]


#: A uniform number in [0, 1) from (seed, group), stable across runs and machines: the same hash the
#: OR-Debug converter splits problems with (one rule for every grouped split in the project).
group_hash = unit_hash


def split_groups(groups: Iterable[str], val: float, seed: int = 0, *,
                 method: SplitMethod = "rank", forced_val: Iterable[str] = ()) -> dict[str, str]:
    """Map each distinct group to "train" or "val". ``forced_val`` groups always go to val."""
    unique = sorted(set(groups))
    forced = set(forced_val)
    if forced:
        return {g: "val" if g in forced else "train" for g in unique}
    if val <= 0 or len(unique) < 2:
        return dict.fromkeys(unique, "train")
    ranked = sorted(unique, key=lambda g: group_hash(seed, g))
    if method == "rank":
        n_val = round(val * len(unique))
        chosen = set(ranked[:n_val])
    else:
        chosen = {g for g in unique if group_hash(seed, g) < val}
    if not chosen:
        chosen = {ranked[0]}
    if len(chosen) == len(unique):
        chosen.discard(ranked[-1])
    return {g: "val" if g in chosen else "train" for g in unique}
