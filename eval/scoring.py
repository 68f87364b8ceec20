"""From played episodes to scored results: per-episode metrics, summaries, breakdowns.

Episode metrics come from ``ordebug.metrics`` (the benchmark's one definition: RR@k, DA, OP,
TE, FP, steps); the step-level format rates are ours (``eval.format_metrics``). Summaries are
computed from ``EpisodeResult`` rows only, so anyone can recompute them from results.json.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from eval.format_metrics import STEP_RATES
from eval.metric_registry import REGISTRY, info
from eval.schema import EpisodeResult, GroupSummary, MetricInfo, ScoredStep
from ordebug.metrics import METRICS, aggregate, episode_metrics
from ordebug.oracle import Repair
from play.record import PlayedEpisode

#: Repair-cost fields (episode level), until ordebug.metrics defines them (see world_api.md).
REPAIR_FIELDS = tuple(name for name, spec in REGISTRY.items() if spec.kind == "repair")

N_BOOT = 1000


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
    """Definition of every key in a summary (from eval.metric_registry)."""
    pooled = "pooled over all steps (CI: bootstrap over episodes)"
    infos = {
        name: info(name, f"{spec.aggregation} over episodes where defined", "episode")
        for name, spec in METRICS.items()
    }
    infos |= {name: info(name, "mean over episodes where defined", "episode") for name in REPAIR_FIELDS}
    infos |= {name: info(name, pooled, "step") for name in (*STEP_RATES, "invalid_action_rate")}
    infos["n"] = info("n", "count", "episode", "episodes scored")
    infos["n_steps"] = info("n_steps", "count", "step")
    return infos


def _step_counts(
    episodes: Sequence[EpisodeResult], getter: Callable[[ScoredStep], bool | None]
) -> np.ndarray:
    """Per episode: (steps where ``getter`` is true, steps where it is defined)."""
    counts = np.zeros((2, len(episodes)))
    for i, ep in enumerate(episodes):
        for step in ep.steps:
            v = getter(step)
            if v is not None:
                counts[0, i] += bool(v)
                counts[1, i] += 1
    return counts


def cluster_ci(counts: np.ndarray, seed: int, n_boot: int = N_BOOT) -> list[float] | None:
    """Bootstrap CI of a pooled rate, resampling whole episodes (steps of one episode correlate)."""
    hits, totals = counts
    keep = totals > 0
    hits, totals = hits[keep], totals[keep]
    if len(totals) == 0:
        return None
    if len(totals) == 1:
        v = float(hits[0] / totals[0])
        return [v, v]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(totals), size=(n_boot, len(totals)))
    rates = hits[idx].sum(axis=1) / totals[idx].sum(axis=1)
    return [float(np.quantile(rates, 0.025)), float(np.quantile(rates, 0.975))]


STEP_GETTERS: dict[str, Callable[[ScoredStep], bool | None]] = {
    key: (lambda s, f=field: getattr(s.format, f)) for key, (field, _) in STEP_RATES.items()
}
STEP_GETTERS["invalid_action_rate"] = lambda s: not s.valid


def summarize(episodes: Sequence[EpisodeResult], *, seed: int = 0, n_boot: int = N_BOOT) -> GroupSummary:
    """Summary values and bootstrap CIs of a set of episodes (those with metrics)."""
    scored = [ep for ep in episodes if ep.metrics]
    rows = [ep.metrics for ep in scored]
    names = list(METRICS) + list(REPAIR_FIELDS)
    summary: dict[str, float | int | None] = {}
    ci: dict[str, list[float] | None] = {}
    agg = aggregate(rows, [n for n in METRICS], n_boot=n_boot, seed=seed) if rows else {}
    for name in names:
        if name in agg:
            s = agg[name]
            summary[name] = s.value
            ci[name] = [s.ci_low, s.ci_high] if s.ci_low is not None else None
        else:
            values = [row[name] for row in rows if row.get(name) is not None]
            summary[name] = float(np.mean(values)) if values else None
            ci[name] = (
                cluster_ci(np.stack([np.array(values, float), np.ones(len(values))]), seed, n_boot)
                if values
                else None
            )
    for key, getter in STEP_GETTERS.items():
        counts = _step_counts(scored, getter)
        total = counts[1].sum()
        summary[key] = float(counts[0].sum() / total) if total else None
        ci[key] = cluster_ci(counts, seed, n_boot) if total else None
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
