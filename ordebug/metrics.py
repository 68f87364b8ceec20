"""Episode metrics, declared once by name with their direction and aggregation.

Definitions (``r`` = an EpisodeRecord, ``p`` = its Problem):

* ``rr@k`` (k = 5, 10, 20) — recovered within k steps: the episode ended with the model
  OPTIMAL (``r.success``) and the step from which it stayed OPTIMAL (``r.recovered_step``)
  is ≤ k. ``recovery`` is the same without the k.
* ``da_iis`` — diagnosis overlap: Jaccard |B ∩ I| / |B ∪ I| of the constraints the agent
  blamed (targets of DROP_CONSTRAINT / RELAX_CONSTRAINT / UPDATE_RHS) and the IIS
  constraints of the initial observation (the IIS the agent was shown; for 19 type-F
  problems of the user's ``hard`` set Gurobi 13 finds another valid IIS than the recorded
  one). None when the initial IIS has no constraints.
* ``da_target`` — ground-truth target hit: the share of the problem's targets the agent
  blamed (any model-changing action, UPDATE_BOUNDS variables included). Targets come from
  ``target_name``: a comma-separated list, where ``constr:var`` (type C) counts as ``constr``.
  1/0 for single targets, partial credit for multi-target types (E, G). None without a target.
* ``op`` — objective preservation: 1 − |Z − Z0| / |Z0| clipped to [0, 1], Z the final
  objective, Z0 the original one. Rule for Z0 = 0 (|Z0| < 1e-9): the denominator is 1, i.e.
  1 − |Z| (absolute error). 0 when the episode did not recover; None when Z0 is unknown.
* ``te`` — tool efficiency: 1 / solver calls made by the agent's steps (optimize + computeIIS;
  reset's initial solve and IIS are free; 0 calls counts as 1).
* ``fp`` — fix preservation: share of the original constraints still in the final model
  (relaxed ones count as kept). 0 when the episode did not recover.
* ``first_step_repair`` — the first action alone made the model OPTIMAL (1/0): what a
  single-step RL stage (one completion applied to the initial model) rewards. None when the
  model was OPTIMAL before any step.
* ``steps`` and ``invalid_rate`` — steps taken, and the share of them that were invalid.

Every metric aggregates by the mean over episodes where it is defined, with a seeded
percentile-bootstrap confidence interval; the number of undefined episodes is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from foundation.errors import unknown_name
from ordebug.actions import ActionName, parse_action
from ordebug.episode import EpisodeRecord
from ordebug.errors import OrDebugError
from ordebug.problems import Problem

ZERO_OBJECTIVE_TOL = 1e-9
_CONSTRAINT_ACTIONS = {ActionName.DROP_CONSTRAINT, ActionName.RELAX_CONSTRAINT, ActionName.UPDATE_RHS}

MetricFn = Callable[[EpisodeRecord, "Problem | None"], "float | None"]


@dataclass(frozen=True)
class Metric:
    """A registered metric: how to compute it per episode and how to read it."""

    name: str
    fn: MetricFn
    higher_is_better: bool
    description: str
    aggregation: str = "mean"


def blamed_constraints(record: EpisodeRecord) -> list[str]:
    """Constraints the agent changed (DROP/RELAX/UPDATE_RHS), in order of first change."""
    out: list[str] = []
    for text in record.changes:
        action = parse_action(text, lenient=True)
        if action.name in _CONSTRAINT_ACTIONS and action.target not in out:
            out.append(action.target)
    return out


def _rr(k: int) -> MetricFn:
    def fn(r: EpisodeRecord, p: Problem | None) -> float:
        return float(r.success and r.recovered_step is not None and r.recovered_step <= k)

    return fn


def _recovery(r: EpisodeRecord, p: Problem | None) -> float:
    return float(r.success)


def _da_iis(r: EpisodeRecord, p: Problem | None) -> float | None:
    iis = set(r.initial_iis_constraints)
    if not iis:
        return None
    blamed = set(blamed_constraints(r))
    return len(blamed & iis) / len(blamed | iis)


def _da_target(r: EpisodeRecord, p: Problem | None) -> float | None:
    targets = set(p.target_names()) if p is not None else set()
    if not targets:
        return None
    return len(targets & set(r.blamed)) / len(targets)


def objective_preservation(z: float | None, z0: float | None) -> float | None:
    """1 − |Z − Z0| / |Z0| in [0, 1]; denominator 1 when Z0 = 0; 0 without Z; None without Z0."""
    if z0 is None or not math.isfinite(z0):
        return None
    if z is None or not math.isfinite(z):
        return 0.0
    denom = abs(z0) if abs(z0) >= ZERO_OBJECTIVE_TOL else 1.0
    return min(1.0, max(0.0, 1.0 - abs(z - z0) / denom))


def _op(r: EpisodeRecord, p: Problem | None) -> float | None:
    z0 = r.original_objective if r.original_objective is not None else (p.original_objective if p else None)
    return objective_preservation(r.objective if r.success else None, z0)


def _te(r: EpisodeRecord, p: Problem | None) -> float:
    return 1.0 / max(1, r.solver_calls)


def _fp(r: EpisodeRecord, p: Problem | None) -> float | None:
    if r.n_original_constraints == 0:
        return None
    return r.n_kept_constraints / r.n_original_constraints if r.success else 0.0


def _first_step_repair(r: EpisodeRecord, p: Problem | None) -> float | None:
    if r.initial_status == "OPTIMAL":
        return None
    return 1.0 if r.steps and r.steps[0].valid and r.steps[0].status == "OPTIMAL" else 0.0


def _steps(r: EpisodeRecord, p: Problem | None) -> float:
    return float(r.n_steps)


def _invalid(r: EpisodeRecord, p: Problem | None) -> float | None:
    return r.n_invalid / r.n_steps if r.n_steps else None


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("rr@5", _rr(5), True, "recovered to OPTIMAL within 5 steps"),
        Metric("rr@10", _rr(10), True, "recovered to OPTIMAL within 10 steps"),
        Metric("rr@20", _rr(20), True, "recovered to OPTIMAL within 20 steps"),
        Metric("recovery", _recovery, True, "episode ended with the model OPTIMAL"),
        Metric("da_iis", _da_iis, True, "Jaccard of blamed constraints and the initial IIS"),
        Metric("da_target", _da_target, True, "share of ground-truth targets the agent changed"),
        Metric("op", _op, True, "objective preservation 1-|Z-Z0|/|Z0| (denominator 1 when Z0=0)"),
        Metric("te", _te, True, "1 / solver calls"),
        Metric("fp", _fp, True, "share of original constraints kept"),
        Metric("first_step_repair", _first_step_repair, True, "the first action alone made the model OPTIMAL"),
        Metric("steps", _steps, False, "steps taken"),
        Metric("invalid_rate", _invalid, False, "share of steps that were invalid"),
    )
}
DEFAULT_METRICS: tuple[str, ...] = tuple(METRICS)


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; an unknown name fails with 'did you mean' and the list."""
    try:
        return METRICS[name]
    except KeyError:
        raise OrDebugError(unknown_name("metric", name, tuple(METRICS))) from None


def episode_metrics(
    record: EpisodeRecord, problem: Problem | None = None, names: Iterable[str] = DEFAULT_METRICS
) -> dict[str, float | None]:
    """Every requested metric for one episode (None where undefined)."""
    return {name: get_metric(name).fn(record, problem) for name in names}


class MetricSummary(BaseModel):
    """One aggregated metric."""

    model_config = ConfigDict(extra="forbid")
    name: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_missing: int
    higher_is_better: bool
    aggregation: str


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (deterministic for a seed)."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def aggregate(
    rows: Sequence[Mapping[str, float | None]],
    names: Iterable[str] | None = None,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricSummary]:
    """Aggregate per-episode metric rows (from episode_metrics) into summaries with CIs."""
    names = list(names) if names is not None else [n for n in METRICS if any(n in row for row in rows)]
    out: dict[str, MetricSummary] = {}
    for name in names:
        metric = get_metric(name)
        values = [row[name] for row in rows if row.get(name) is not None]
        missing = len(rows) - len(values)
        if metric.aggregation != "mean":  # pragma: no cover - only mean is registered today
            raise OrDebugError(f"metric {name!r}: unsupported aggregation {metric.aggregation!r}")
        if values:
            lo, hi = bootstrap_ci(values, n_boot=n_boot, confidence=confidence, seed=seed)
            value = float(np.mean(values))
        else:
            lo = hi = value = None
        out[name] = MetricSummary(
            name=name, value=value, ci_low=lo, ci_high=hi, n=len(values), n_missing=missing,
            higher_is_better=metric.higher_is_better, aggregation=metric.aggregation,
        )  # fmt: skip
    return out
