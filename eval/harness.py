"""One evaluation end to end: play (or read) → score → results.json + report.md.

``evaluate_policy`` is the library entry point (the CLI and tests call it); it takes a
ready policy and problems, so anything that satisfies the Policy protocol can be scored.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.episodes import EpisodeSettings, play_all
from eval.errors import EvalConfigError
from eval.policies import close_policy, make_baseline
from eval.policies.base import Policy
from eval.provenance import git_state, versions
from eval.report_md import write_report
from eval.schema import EpisodeResult, GroupSummary, Results, Samples, ScoredStep, SkippedProblem
from eval.scoring import breakdown, episode_result, metric_infos, summarize
from foundation.atomic import write_atomic
from foundation.provenance import utc_now
from foundation.redact import redact
from ordebug.oracle import Repair, minimal_repair
from ordebug.problems import Problem
from play.record import PlayedEpisode


@dataclass
class EvalOptions:
    """Everything that shapes an evaluation besides the policy and the problems."""

    settings: EpisodeSettings = field(default_factory=EpisodeSettings)
    concurrency: int = 4
    baselines: Sequence[str] = ()
    oracle_cost: bool = True
    seed: int = 0
    progress: bool = True
    system: str | None = None
    problems_spec: str = ""
    problems_original: int | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)


def oracle_repairs(
    problems: Sequence[Problem], workers: int = 2, progress: bool = True
) -> dict[str, Repair | None]:
    """The oracle's minimal repair of every problem (the reference for repair cost)."""
    from tqdm import tqdm

    def one(p: Problem) -> tuple[str, Repair | None]:
        try:
            return p.problem_id, minimal_repair(p)  # this thread's own Gurobi env
        except Exception:  # noqa: BLE001 - no reference for this problem: cost fields become None
            return p.problem_id, None

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ordebug-oracle") as pool:
        it = pool.map(one, problems)
        return dict(tqdm(it, total=len(problems), desc="oracle repairs", unit="pb", disable=not progress))


def sampling_seed(policy_config: dict[str, Any]) -> int | None:
    """The sampling seed a policy reports (top-level ``seed`` or ``sampling.seed``), if any."""
    if isinstance(policy_config.get("seed"), int):
        return policy_config["seed"]
    sampling = policy_config.get("sampling")
    return sampling.get("seed") if isinstance(sampling, dict) else None


async def _play_scored(
    policy: Policy,
    problems: Sequence[Problem],
    opts: EvalOptions,
    repairs: dict[str, Repair | None],
    desc: str | None = None,
) -> tuple[list[EpisodeResult], list[PlayedEpisode[ScoredStep]]]:
    """Scored episodes, and apart from them the problems skipped unscored (feasible at reset)."""
    played = await play_all(
        policy, problems, opts.settings, concurrency=opts.concurrency, progress=opts.progress, desc=desc
    )
    scored = [episode_result(p, repairs.get(p.problem.problem_id)) for p in played if p.skipped is None]
    return scored, [p for p in played if p.skipped is not None]


async def evaluate_policy_async(policy: Policy, problems: Sequence[Problem], opts: EvalOptions) -> Results:
    start = time.perf_counter()
    repairs: dict[str, Repair | None] = {}
    if opts.oracle_cost:
        repairs = await asyncio.to_thread(
            oracle_repairs, problems, max(1, min(opts.concurrency, 4)), opts.progress
        )
    try:
        episodes, skipped_played = await _play_scored(policy, problems, opts, repairs)
        policy_config = policy.config()
    finally:
        await close_policy(policy)
    skipped_problems = [
        SkippedProblem(problem_id=p.problem.problem_id, source=p.problem.source, reason=str(p.skipped))
        for p in skipped_played
    ]
    if skipped_problems:
        print(
            f"warning: {len(skipped_problems)} problem(s) already OPTIMAL at reset are not debugging "
            f"problems; listed apart (results.json 'skipped') and kept out of every metric",
            file=sys.stderr,
        )
    if not episodes:
        raise EvalConfigError(
            f"{opts.problems_spec or 'the problems'}: every problem is already OPTIMAL at reset, so "
            f"there is nothing to debug",
            fix="evaluate on infeasible problems (e.g. a generated benchmark: make generate)",
        )
    main = summarize(episodes, seed=opts.seed)
    baselines: dict[str, GroupSummary] = {}
    baseline_breakdown: dict[str, dict[str, dict[str, GroupSummary]]] = {}
    skipped: dict[str, str] = {}
    for name in opts.baselines:
        if name == getattr(policy, "name", None):
            continue
        try:
            base = make_baseline(name, layout=opts.settings.layout, whatif=opts.settings.whatif)
        except Exception as exc:  # noqa: BLE001 - reported in config and on stderr, never silent
            skipped[name] = str(exc)
            print(f"warning: baseline {name} skipped: {exc}", file=sys.stderr)
            continue
        eps, _ = await _play_scored(base, problems, opts, repairs, desc=f"baseline {name}")
        baselines[name] = summarize(eps, seed=opts.seed)
        baseline_breakdown[name] = breakdown(eps, seed=opts.seed)
    errors = sum(ep.error is not None for ep in episodes)
    if errors:
        print(
            f"warning: {errors} episode(s) ended with an infrastructure error (see episodes[].error)",
            file=sys.stderr,
        )
    config = {
        "policy": policy_config,
        "problems": {"spec": opts.problems_spec, "n": len(problems)},
        "max_steps": opts.settings.max_steps,
        "layout": opts.settings.layout,
        "whatif": opts.settings.whatif,
        "parse": opts.settings.parse,
        "time_limit": opts.settings.time_limit,
        "system_prompt": opts.system,
        "concurrency": opts.concurrency,
        "baselines": list(opts.baselines),
        "baselines_skipped": skipped,
        "oracle_cost": opts.oracle_cost,
        **opts.extra_config,
    }
    return Results(
        mode="episodes",
        policy=policy.name,
        summary=main.summary,
        ci=main.ci,
        metrics=metric_infos(),
        breakdown=breakdown(episodes, seed=opts.seed),
        baselines=baselines,
        baseline_breakdown=baseline_breakdown,
        episodes=episodes,
        skipped=skipped_problems,
        config=config,
        versions=versions(),
        seeds={"bootstrap": opts.seed, "sampling": sampling_seed(policy_config)},
        git=git_state(),
        date=utc_now(),
        duration_s=round(time.perf_counter() - start, 3),
        samples=Samples(
            original=opts.problems_original if opts.problems_original is not None else len(problems),
            effective=sum(bool(ep.metrics) for ep in episodes),
            steps=sum(len(ep.steps) for ep in episodes),
            errors=errors,
            skipped=len(skipped_problems),
        ),
    )


def evaluate_policy(policy: Policy, problems: Sequence[Problem], opts: EvalOptions) -> Results:
    """Play ``problems`` with ``policy`` (and the baselines) and score everything."""
    return asyncio.run(evaluate_policy_async(policy, problems, opts))


def write_outputs(
    results: Results,
    out_dir: Path,
    *,
    run_dir: Path | None = None,
    trainer_logs: Sequence[tuple[str, Path]] = (),
) -> tuple[Path, Path]:
    """results.json (atomically) and report.md with its plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    # error texts inside may quote an endpoint: no key piece or URL credential reaches the file
    write_atomic(results_path, redact(results.model_dump_json(indent=1)) + "\n")
    report = write_report(results, out_dir, run_dir=run_dir, trainer_logs=trainer_logs)
    return results_path, report
