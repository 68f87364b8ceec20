"""Paired comparison of two policies on the same problems (and seeds), read from results.json files.

A study trains a baseline and a variant with the same seeds and evaluates both on the same
problems. Independent per-row CIs ignore that pairing: most of the spread of a metric is between
problems (some are hard for everyone), so the difference of two unpaired means is much less
certain than the per-problem differences say. Here:

- per-problem values come from ``results.json`` episodes: an episode metric is the episode's own
  value (``EpisodeResult.metrics``); a step rate (``format_ok``, ``invalid_action_rate``) is the
  share of that episode's steps (so its mean over problems weights problems equally, unlike the
  pooled value in ``Results.summary``);
- ``D[s, p] = variant[s, p] - baseline[s, p]`` for seed ``s`` and problem ``p`` where both are
  defined (a metric such as OP is undefined on some episodes; those pairs drop out);
- the difference is the mean of ``D``; its CI is a percentile bootstrap that resamples problems
  and, with two or more seeds, seeds too (two-level), keeping each (seed, problem) pair together;
- the unpaired CI, for contrast, resamples the two sides independently with the same scheme;
- wins count problems whose seed-averaged difference favours one side (direction from the
  metric's ``higher_is_better``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eval.metric_registry import REGISTRY
from eval.schema import Results
from eval.scoring import REPAIR_FIELDS, STEP_GETTERS
from foundation.stats import CONFIDENCE, N_RESAMPLES, percentile_interval, resampled_means
from ordebug.metrics import EPISODE_METRICS


def known_metrics() -> dict[str, bool]:
    """Every metric with a per-problem value: name -> higher_is_better (from the registry)."""
    return {name: REGISTRY[name].higher_is_better for name in (*EPISODE_METRICS, *REPAIR_FIELDS, *STEP_GETTERS)}


def per_problem(results: Results, metric: str) -> dict[str, float]:
    """problem_id -> the metric's value on that problem's episode (undefined ones left out)."""
    out: dict[str, float] = {}
    for ep in results.episodes:
        if not ep.metrics:  # an infrastructure error: not scored (as in Results.summary)
            continue
        if metric in STEP_GETTERS:
            flags = [v for v in (STEP_GETTERS[metric](s) for s in ep.steps) if v is not None]
            value: float | None = sum(map(bool, flags)) / len(flags) if flags else None
        else:
            raw = ep.metrics.get(metric)
            value = None if raw is None else float(raw)
        if value is not None:
            out[ep.problem_id] = value
    return out


@dataclass(frozen=True)
class PairedStat:
    """Variant minus baseline on one metric, over paired (seed, problem) cells."""

    metric: str
    higher_is_better: bool
    n_problems: int  # problems with at least one pair
    n_pairs: int  # (seed, problem) pairs where both sides are defined
    n_seeds: int
    baseline: float | None  # mean over the paired cells
    variant: float | None
    diff: float | None  # mean of the per-pair differences (= variant - baseline)
    ci: tuple[float, float] | None  # paired bootstrap CI of diff
    unpaired_ci: tuple[float, float] | None  # the same, resampling the two sides independently
    wins_variant: int  # problems where the variant is better (seed-averaged)
    wins_baseline: int
    ties: int

    @property
    def significant(self) -> bool:
        """The paired CI excludes 0."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)


def _grid(pairs: Sequence[tuple[dict[str, float], dict[str, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """(baseline, variant) as seeds x problems arrays, NaN where a pair is incomplete."""
    problems = sorted({p for b, v in pairs for p in b.keys() & v.keys()})
    base = np.full((len(pairs), len(problems)), np.nan)
    var = np.full_like(base, np.nan)
    for s, (b, v) in enumerate(pairs):
        for j, p in enumerate(problems):
            if p in b and p in v:
                base[s, j], var[s, j] = b[p], v[p]
    return base, var


def compare(pairs: Sequence[tuple[dict[str, float], dict[str, float]]], metric: str, higher_is_better: bool,
            *, n_boot: int = N_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0) -> PairedStat:
    """Paired statistics of variant - baseline; ``pairs`` holds one (baseline, variant) per seed,
    each problem_id -> value (as ``per_problem`` returns)."""
    base, var = _grid(pairs)
    diff = var - base
    defined = ~np.isnan(diff)
    n_pairs = int(defined.sum())
    if n_pairs == 0:
        return PairedStat(metric, higher_is_better, 0, 0, len(pairs), None, None, None, None, None, 0, 0, 0)
    rng = np.random.default_rng(seed)
    paired = percentile_interval(resampled_means(diff, rng, n_boot), confidence)
    unpaired = percentile_interval(resampled_means(var, rng, n_boot) - resampled_means(base, rng, n_boot), confidence)
    per_problem_diff = np.array([col[~np.isnan(col)].mean() for col in diff.T if (~np.isnan(col)).any()])
    better = per_problem_diff if higher_is_better else -per_problem_diff
    eps = 1e-12
    return PairedStat(
        metric=metric,
        higher_is_better=higher_is_better,
        n_problems=len(per_problem_diff),
        n_pairs=n_pairs,
        n_seeds=len(pairs),
        baseline=float(base[defined].mean()),
        variant=float(var[defined].mean()),
        diff=float(diff[defined].mean()),
        ci=paired,
        unpaired_ci=unpaired,
        wins_variant=int((better > eps).sum()),
        wins_baseline=int((better < -eps).sum()),
        ties=int((np.abs(better) <= eps).sum()),
    )


def compare_results(pairs: Sequence[tuple[Results, Results]], metrics: Sequence[str], *,
                    n_boot: int = N_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0) -> list[PairedStat]:
    """``compare`` for every metric of (baseline, variant) results paired by seed."""
    direction = known_metrics()
    out = []
    for m in metrics:
        values = [(per_problem(b, m), per_problem(v, m)) for b, v in pairs]
        info = pairs[0][0].metrics.get(m) if pairs else None
        better = info.higher_is_better if info is not None else direction.get(m, True)
        out.append(compare(values, m, better, n_boot=n_boot, confidence=confidence, seed=seed))
    return out
