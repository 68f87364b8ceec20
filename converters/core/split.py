"""Leakage-free splits: every sample of a problem lands in the same split (rule: ``SPLIT_RULE``)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from converters.core.errors import ConvertError
from converters.core.samples import Sample

SPLITS: tuple[str, ...] = ("train", "val", "test")

#: The rule, as the README and every dataset card state it.
SPLIT_RULE = (
    "Grouped by problem id: a problem's split is a pure function of (seed, problem_id). "
    "u = first 8 bytes of sha256('ordebug-split:{seed}:{problem_id}') / 2^64; u < test -> test, "
    "u < test + val -> val, else train. It does not depend on the other problems, their order or "
    "their source, so datasets converted with the same seed never put one problem in the train split "
    "of one and the test split of another, and converters.core.split.split_of(problem_id, seed=, val=, test=) "
    "recomputes it from the id alone. Samples without a problem id are their own group. Small inputs: "
    "when a split asked for (fraction > 0) comes out empty while there are at least three problems, "
    "the train problem with the smallest u moves into it (listed under split_notes). Holdouts "
    "(--holdout-type / --holdout-family) are taken out first into their own 'holdout' split; "
    "--mix/--cap select before the split, repeats (weight > 1) happen in train only."
)


def unit_hash(seed: int, group: str) -> float:
    """A group's position in [0, 1) for a seed."""
    digest = hashlib.sha256(f"ordebug-split:{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(problem_id: str, *, seed: int = 0, val: float = 0.1, test: float = 0.1) -> str:
    """The split of a problem under the rule above (ignoring the small-input adjustment)."""
    u = unit_hash(seed, problem_id)
    if u < test:
        return "test"
    return "val" if u < test + val else "train"


def check_fractions(val: float, test: float) -> None:
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ConvertError(f"--val {val} and --test {test} must be in [0, 1) and sum to less than 1")


def assign_splits(
    groups: Collection[str], *, seed: int, val: float, test: float
) -> tuple[dict[str, str], list[str]]:
    """{group: split} for every group, plus notes on small-input adjustments."""
    check_fractions(val, test)
    u = {g: unit_hash(seed, g) for g in groups}
    out = {
        g: "test" if x < test else "val" if x < test + val else "train" for g, x in u.items()
    }  # = split_of
    notes: list[str] = []
    if len(groups) >= 3:
        for name, frac in (("test", test), ("val", val)):
            if frac > 0 and name not in out.values():
                train = sorted((g for g, s in out.items() if s == "train"), key=lambda g: u[g])
                if len(train) > 1:
                    out[train[0]] = name
                    notes.append(f"{name} was empty: moved problem {train[0]!r} (smallest hash) from train")
    return out, notes


def check_holdout(
    samples: Sequence[Sample], kept: Collection[int], *, types: Collection[str] = (), families: Collection[str] = ()
) -> None:
    """A holdout value no kept sample has is a typo, not an empty split: say so, with the values there are.

    ``--holdout-type Z`` once exited 0 with no holdout split at all.
    """
    for option, asked, key, norm in (("--holdout-type", types, "error_type", str.upper),
                                     ("--holdout-family", families, "family", str.lower)):
        if not asked:
            continue
        present = sorted({norm(str(samples[i].meta[key])) for i in kept})
        missing = [a for a in asked if norm(a) not in present]
        if missing:
            raise ConvertError(
                f"{option} {','.join(missing)}: no sample of the inputs has that {key.replace('_', ' ')}",
                fix=f"use one of: {', '.join(present) or '(none: nothing was kept)'}",
            )


def holdout_mask(
    samples: Sequence[Sample], *, types: Collection[str] = (), families: Collection[str] = ()
) -> list[bool]:
    """Which samples are held out: error type in ``types`` or family in ``families`` (case-insensitive)."""
    t = {x.upper() for x in types}
    f = {x.lower() for x in families}
    if not t and not f:
        return [False] * len(samples)
    return [s.meta["error_type"].upper() in t or s.meta["family"].lower() in f for s in samples]
