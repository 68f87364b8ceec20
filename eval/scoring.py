"""From played episodes to scored results: per-episode metrics, summaries, breakdowns.

Episode metrics come from ``ordebug.metrics`` (the benchmark's one definition: RR@k, DA, OP,
TE, FP, steps); the step-level format rates are ours (``eval.format_metrics``). Names,
directions and aggregations come from ``eval.metric_registry``; intervals from ``foundation.stats``. Summaries are
computed from ``EpisodeResult`` rows only, so anyone can recompute them from results.json.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from eval.metric_registry import STEP_RATES, get, info, names
from eval.schema import EpisodeResult, GroupSummary, MetricInfo, ScoredStep
from foundation.stats import N_RESAMPLES, mean_ci, pooled_rate_ci
from ordebug.metrics import EPISODE_METRICS, episode_metrics
from ordebug.oracle import Repair
from play.record import PlayedEpisode

#: Repair-cost fields (episode level), computed here against the oracle.
REPAIR_FIELDS = names(kind="repair")


def episode_result(played: PlayedEpisode[ScoredStep], repair: Repair | None) -> EpisodeResult:
    """Score one played episode (metrics by ordebug.metrics, plus repair cost against the oracle)."""
    p, r = played.problem, played.record
    metrics: dict[str, float | int | None] = {}
    if r is not None:
        metrics.update(episode_metrics(r, p))
        cost = len(r.blamed) if r.success else None
        oracle_cost = repair.n_changed if repair is not None and repair.feasible else None
        metrics["repair_cost"] = cost
        metrics["oracle_cost"] = oracle_cost
        metrics["repair_excess"] = (
            cost - oracle_cost if cost is not None and oracle_cost is not None else None
        )
    return EpisodeResult(
        problem_id=p.problem_id,
        error_type=p.error_type,
        difficulty=p.difficulty,
        problem_type=p.problem_type,
        source=p.source,
        # results.json has no separate "gave up": the policy ended it without submitting
        terminated_by="terminated" if played.terminated_by == "agent_gave_up" else played.terminated_by,  # type: ignore[arg-type]
        final_status=r.final_status if r is not None else "ERROR",
        objective=r.objective if r is not None else None,
        n_steps=len(played.steps),
        metrics=metrics,
        oracle=repair.model_dump(mode="json") if repair is not None else None,
        steps=played.steps,
        error=played.error,
    )


def metric_infos() -> dict[str, MetricInfo]:
    """Definition of every key in a summary, from the registry's table (eval.metric_registry)."""
    infos = {name: info(name) for name in (*EPISODE_METRICS, *REPAIR_FIELDS, *STEP_GETTERS)}
    infos["n"] = info("n", description="episodes scored")
    infos["n_steps"] = info("n_steps")
    return infos


def _step_counts(
    episodes: Sequence[EpisodeResult], getter: Callable[[ScoredStep], bool | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Per episode: (steps where ``getter`` is true, steps where it is defined)."""
    hits, totals = np.zeros(len(episodes)), np.zeros(len(episodes))
    for i, ep in enumerate(episodes):
        for step in ep.steps:
            v = getter(step)
            if v is not None:
                hits[i] += bool(v)
                totals[i] += 1
    return hits, totals


#: The step-pooled metrics: name -> its value on one step (None where undefined).
STEP_GETTERS: dict[str, Callable[[ScoredStep], bool | None]] = {
    key: (lambda s, f=key: getattr(s.format, f)) for key in STEP_RATES  # each is a StepFormat field
}
STEP_GETTERS["invalid_action_rate"] = lambda s: not s.valid


def _interval(ci: tuple[float, float] | None) -> list[float] | None:
    return list(ci) if ci is not None else None


def summarize(episodes: Sequence[EpisodeResult], *, seed: int = 0, n_boot: int = N_RESAMPLES) -> GroupSummary:
    """Summary values and bootstrap CIs of a set of episodes (those with metrics), each metric
    aggregated as the registry declares: ``mean`` over episodes (plain bootstrap), ``micro`` (a ratio
    of sums over episodes) or ``pooled`` over steps (both: bootstrap over episodes)."""
    scored = [ep for ep in episodes if ep.metrics]
    summary: dict[str, float | int | None] = {}
    ci: dict[str, list[float] | None] = {}
    for name in (*EPISODE_METRICS, *REPAIR_FIELDS):
        spec = get(name)
        if spec.aggregation == "micro":  # a ratio of sums: Σ value·weight / Σ weight over episodes
            pairs = [(float(v), float(ep.metrics[spec.weight])) for ep in scored
                     if (v := ep.metrics.get(name)) is not None and ep.metrics.get(spec.weight) is not None]
            hits, totals = np.array([v * w for v, w in pairs]), np.array([w for _, w in pairs])
            total = totals.sum()
            summary[name] = float(hits.sum() / total) if total else None
            ci[name] = _interval(pooled_rate_ci(hits, totals, n_boot=n_boot, seed=seed)) if total else None
            continue
        if spec.aggregation != "mean":  # invalid_action_rate: pooled over steps, below
            continue
        values = [float(v) for ep in scored if (v := ep.metrics.get(name)) is not None]
        summary[name] = float(np.mean(values)) if values else None
        ci[name] = _interval(mean_ci(values, n_boot=n_boot, seed=seed)) if values else None
    for key, getter in STEP_GETTERS.items():
        hits, totals = _step_counts(scored, getter)
        total = totals.sum()
        summary[key] = float(hits.sum() / total) if total else None
        ci[key] = _interval(pooled_rate_ci(hits, totals, n_boot=n_boot, seed=seed)) if total else None
    summary["n"] = len(scored)
    summary["n_steps"] = sum(len(ep.steps) for ep in scored)
    return GroupSummary(summary=summary, ci=ci)


_DIFFICULTY_ORDER = {"easy": 0, "medium": 1, "hard": 2}


def _group_order(group: str) -> tuple[int, str]:
    """Difficulties easy < medium < hard, then everything else alphabetically, "?" last."""
    return (_DIFFICULTY_ORDER.get(group, 3 if group != "?" else 4), group)


def breakdown(episodes: Sequence[EpisodeResult], *, seed: int = 0) -> dict[str, dict[str, GroupSummary]]:
    """Summaries by error type and by difficulty ("?" when the problem does not say)."""
    out: dict[str, dict[str, GroupSummary]] = {}
    for key in ("error_type", "difficulty"):
        groups: dict[str, list[EpisodeResult]] = defaultdict(list)
        for ep in episodes:
            groups[getattr(ep, key) or "?"].append(ep)
        out[key] = {g: summarize(groups[g], seed=seed) for g in sorted(groups, key=_group_order)}
    return out
