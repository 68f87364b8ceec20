"""Percentile-bootstrap confidence intervals, written once: plain, clustered and paired.

Every interval the project reports (eval's summaries, the offline scorers, the studies' paired
comparisons) comes from here and uses :data:`N_RESAMPLES` draws unless a caller (a study's
``n_boot`` key) asks for another count. All draws come from ``numpy.random.default_rng(seed)``,
so an interval is deterministic for a seed.

- :func:`mean_ci` — plain: the mean of independent values (one per episode).
- :func:`pooled_rate_ci` — clustered: a rate pooled over steps, resampling whole episodes
  (the steps of one episode are correlated, so resampling steps would understate the spread).
- :func:`resampled_means` + :func:`percentile_interval` — paired/two-level: a seeds × problems
  array (NaN where undefined) resampled by problem and, with several seeds, by seed too; a
  paired difference is this applied to ``variant - baseline``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

#: Bootstrap resamples of every reported interval (one count for the whole project).
N_RESAMPLES = 2000
#: Coverage of every reported interval.
CONFIDENCE = 0.95


def percentile_interval(draws: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The central ``confidence`` interval of bootstrap draws (NaN draws dropped; None if none left)."""
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return None
    tail = (1.0 - confidence) / 2
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def mean_ci(
    values: Sequence[float], *, n_boot: int = N_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of independent values (a single value is its own CI)."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        raise ValueError("mean_ci needs at least one value")
    if len(arr) == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    tail = (1.0 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def pooled_rate_ci(
    hits: Sequence[float], totals: Sequence[float], *, n_boot: int = N_RESAMPLES,
    confidence: float = CONFIDENCE, seed: int = 0,
) -> tuple[float, float] | None:
    """CI of ``sum(hits) / sum(totals)`` resampling whole clusters (episodes); None without any total."""
    h, t = np.asarray(hits, dtype=float), np.asarray(totals, dtype=float)
    keep = t > 0
    h, t = h[keep], t[keep]
    if len(t) == 0:
        return None
    if len(t) == 1:
        return float(h[0] / t[0]), float(h[0] / t[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(t), size=(n_boot, len(t)))
    return percentile_interval(h[idx].sum(axis=1) / t[idx].sum(axis=1), confidence)


def resampled_means(x: np.ndarray, rng: np.random.Generator, n_boot: int = N_RESAMPLES) -> np.ndarray:
    """Bootstrap means of a seeds × problems array (NaN = undefined): problems resampled, seeds too
    when there are several; each (seed, problem) cell stays whole, so pairs stay paired."""
    n_seeds, n_problems = x.shape
    si = rng.integers(0, n_seeds, size=(n_boot, n_seeds)) if n_seeds > 1 else np.zeros((n_boot, 1), int)
    pi = rng.integers(0, n_problems, size=(n_boot, n_problems))
    sample = x[si[:, :, None], pi[:, None, :]]
    with warnings.catch_warnings():  # an all-NaN resample (few pairs) warns; percentile_interval drops it
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(sample.reshape(n_boot, -1), axis=1)
