"""Mixing sources: exact dedup, then per-source weights and caps, all deterministic for a seed.

- Dedup keeps the first sample of each key (``Sample.key``: normalised user turn + answer), in
  input order (files as given; within a trajectory file, by problem id), so put the source you
  trust most first. A source mixed at weight 0 comes last: its
  copy of a sample another source also holds must not win the dedup and then be left out, taking
  the other source's copy with it.
- ``--cap SOURCE=N`` keeps at most N samples of a source; ``--mix SOURCE=W`` with W < 1 keeps
  round(W x n) of them. Which ones: the lowest ``sha256(seed, key)`` ranks, so a smaller
  selection is always a subset of a larger one.
- W > 1 repeats a source's *train* samples: floor(W) copies each, plus one more copy of the
  lowest-ranked (W - floor(W)) share. Val and test never hold repeats.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence

from converters.core.errors import ConvertError
from converters.core.samples import Sample


def parse_assignments(items: Iterable[str], what: str, *, integer: bool) -> dict[str, float]:
    """``["teacher=1", "heuristic=0.3"]`` -> {"teacher": 1.0, "heuristic": 0.3}."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            number = int(value) if integer else float(value)
        except ValueError:
            number = -1
        if not sep or not name or number < 0 or not math.isfinite(number):
            kind = "a whole number >= 0" if integer else "a number >= 0"
            raise ConvertError(
                f"{what} {item!r} is not SOURCE=VALUE with VALUE {kind}", fix=f"e.g. {what} heuristic=2"
            )
        out[name] = float(number)
    return out


def rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"ordebug-mix:{seed}:{key}".encode()).digest()


def dedup(keys: Sequence[Hashable], last: Sequence[bool] | None = None) -> tuple[list[int], list[int]]:
    """Indices of the first occurrence of each key, and of the later (dropped) ones, both ascending.
    Indices with ``last[i]`` true only count as first when no other index holds their key."""
    order = sorted(range(len(keys)), key=lambda i: bool(last[i])) if last is not None else range(len(keys))
    seen: set[Hashable] = set()
    keep, dropped = [], []
    for i in order:
        if keys[i] in seen:
            dropped.append(i)
        else:
            seen.add(keys[i])
            keep.append(i)
    return sorted(keep), sorted(dropped)


def select(
    indices: Sequence[int],
    samples: Sequence[Sample],
    *,
    weights: Mapping[str, float],
    caps: Mapping[str, float],
    seed: int,
) -> tuple[list[int], dict[str, dict[str, int]]]:
    """Apply weights < 1 and caps per source; keep input order. Returns kept indices and drops per source."""
    if not weights and not caps:
        return list(indices), {}
    known = {s.meta["source"] for s in samples}  # a source whose samples were all duplicates is still known
    for name in (*weights, *caps):
        if name not in known:
            raise ConvertError(f"--mix/--cap names source {name!r}, but the inputs hold {sorted(known)}")
    by_source: dict[str, list[int]] = {}
    for i in indices:
        by_source.setdefault(samples[i].meta["source"], []).append(i)
    dropped: dict[str, dict[str, int]] = {}
    keep: set[int] = set()
    for source, members in by_source.items():
        if source not in weights and source not in caps:
            keep.update(members)
            continue
        n = len(members)
        target = n
        w = weights.get(source, 1.0)
        if w < 1:
            target = round(w * n)
        cap = caps.get(source)
        by_weight = n - target
        if cap is not None and cap < target:
            target = int(cap)
        ordered = sorted(members, key=lambda i: rank(seed, samples[i].key))
        keep.update(ordered[:target])
        dropped[source] = {"mix_weight": by_weight, "mix_cap": n - target - by_weight}
    return [i for i in indices if i in keep], dropped


def repeat_train(
    train: Sequence[int], samples: Sequence[Sample], *, weights: Mapping[str, float], seed: int
) -> list[int]:
    """Train indices with sources of weight > 1 repeated (copies follow the originals' order)."""
    extra: list[int] = []
    for source, w in weights.items():
        if w <= 1:
            continue
        members = [i for i in train if samples[i].meta["source"] == source]
        whole, frac = int(w), w - int(w)
        ordered = sorted(members, key=lambda i: rank(seed, samples[i].key))
        partial = set(ordered[: round(frac * len(members))])
        for i in members:
            extra.extend([i] * (whole - 1 + (i in partial)))
    return list(train) + extra
