"""Episode metrics of the benchmark: the per-episode functions, by name.

Their direction, aggregation and description are declared once, with every other reported
metric, in ``eval/metric_registry.py`` (importing it checks both agree); the summary and its
bootstrap intervals are computed there (``eval.scoring``, ``foundation.stats``). Definitions
(``r`` = an EpisodeRecord, ``p`` = its Problem):

* ``rr@k`` (k = 5, 10, 20) — recovered within k steps: the episode ended with the model
  OPTIMAL (``r.success``) and the step from which it stayed OPTIMAL (``r.recovered_step``)
  is ≤ k. ``recovery`` is the same without the k.
* ``rr_first@k`` (k = 5, 10, 15, 20) — the benchmark's RR@k: some step ≤ k left the model
  OPTIMAL (the first success within k steps), whatever came after. ``rr@15`` is this project's
  stricter ``rr@k`` at k = 15, the benchmark's leaderboard column.
* ``da_recall`` — the benchmark's DA: recall over the IIS, Σ|B ∩ I| / Σ|I| summed over episodes
  (aggregated ``micro``: each episode weighs by its IIS size ``iis_size``; per episode
  |B ∩ I| / |I|), B and I as for ``da_iis``. Quote this one beside the benchmark's published DA,
  not ``da_iis``.
* ``iis_size`` — constraints in the initial IIS (the weight of ``da_recall``).
* ``da_iis`` — diagnosis overlap: Jaccard |B ∩ I| / |B ∪ I| of the constraints the agent
  blamed (targets of DROP_CONSTRAINT / RELAX_CONSTRAINT / UPDATE_RHS) and the IIS
  constraints of the initial observation (the IIS the agent was shown; for 19 type-F
  problems of OR-Debug-Bench's ``hard`` set Gurobi 13 finds another valid IIS than the
  recorded one). None when the initial IIS has no constraints.
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
* ``steps`` and ``invalid_action_rate`` — steps taken, and the share of them the environment
  rejected (``invalid_rate`` before; old trajectory lines keep that key).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ordebug.actions import ActionName, parse_action
from ordebug.episode import EpisodeRecord
from ordebug.problems import Problem

ZERO_OBJECTIVE_TOL = 1e-9
_CONSTRAINT_ACTIONS = {ActionName.DROP_CONSTRAINT, ActionName.RELAX_CONSTRAINT, ActionName.UPDATE_RHS}

MetricFn = Callable[[EpisodeRecord, "Problem | None"], "float | None"]


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


def _rr_first(k: int) -> MetricFn:
    def fn(r: EpisodeRecord, p: Problem | None) -> float:
        if r.initial_status == "OPTIMAL":
            return 1.0
        return float(any(s.status == "OPTIMAL" and s.index <= k for s in r.steps))

    return fn


def _recovery(r: EpisodeRecord, p: Problem | None) -> float:
    return float(r.success)


def _da_iis(r: EpisodeRecord, p: Problem | None) -> float | None:
    iis = set(r.initial_iis_constraints)
    if not iis:
        return None
    blamed = set(blamed_constraints(r))
    return len(blamed & iis) / len(blamed | iis)


def _iis_size(r: EpisodeRecord, p: Problem | None) -> float | None:
    return float(len(set(r.initial_iis_constraints))) or None


def _da_recall(r: EpisodeRecord, p: Problem | None) -> float | None:
    iis = set(r.initial_iis_constraints)
    if not iis:
        return None
    return len(set(blamed_constraints(r)) & iis) / len(iis)


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


#: name -> per-episode value (None where undefined); declared in eval/metric_registry.py's TABLE.
EPISODE_METRICS: dict[str, MetricFn] = {
    "rr@5": _rr(5),
    "rr@10": _rr(10),
    "rr@15": _rr(15),
    "rr@20": _rr(20),
    **{f"rr_first@{k}": _rr_first(k) for k in (5, 10, 15, 20)},
    "recovery": _recovery,
    "da_iis": _da_iis,
    "da_recall": _da_recall,
    "iis_size": _iis_size,
    "da_target": _da_target,
    "op": _op,
    "te": _te,
    "fp": _fp,
    "first_step_repair": _first_step_repair,
    "steps": _steps,
    "invalid_action_rate": _invalid,
}


def episode_metrics(
    record: EpisodeRecord, problem: Problem | None = None, names: Iterable[str] | None = None
) -> dict[str, float | None]:
    """The episode metrics ``names`` (all by default) for one episode (None where undefined)."""
    chosen = EPISODE_METRICS if names is None else {n: EPISODE_METRICS[n] for n in names}
    return {name: fn(record, problem) for name, fn in chosen.items()}
