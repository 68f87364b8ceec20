"""Play episodes concurrently with ``play``'s runner and score every step's format as it is recorded.

Concurrency model: ``concurrency`` episode workers (asyncio tasks) share one queue of problems.
Each worker owns one ``play.runner.SolverSlot`` (a thread with its own Gurobi environment), so
solver work of different episodes runs in parallel while the policy calls of all workers are in
flight together — which is what lets vLLM batch them. The loop itself is ``play.runner``'s, the
same one collectors use; this module scores its steps into results.json ``ScoredStep``s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from tqdm import tqdm

from eval.format_metrics import Names, score_answer
from eval.schema import ScoredStep
from ordebug.problems import Problem
from play.episode import PlaySettings
from play.errors import FEASIBLE_AT_RESET, Stop, describe
from play.record import PlayedEpisode, PlayedStep
from play.runner import SolverSlot, play_local

__all__ = ["FEASIBLE_AT_RESET", "EpisodeSettings", "PlayedEpisode", "play_all", "play_episode"]

#: eval's name for ``play.episode.PlaySettings`` (max_steps, layout, parse, time_limit…).
EpisodeSettings = PlaySettings


def model_names(problem: Problem) -> Names:
    """Constraint and variable names of the problem's original model (for args_valid)."""
    model = problem.read_model()
    try:
        model.update()
        return Names.of([c.ConstrName for c in model.getConstrs()], [v.VarName for v in model.getVars()])
    finally:
        model.dispose()


def scored_step(step: PlayedStep, names: Names) -> ScoredStep:
    """results.json's view of a played step: the parsed action, and the format score of its answer."""
    return ScoredStep(
        **step.shared_with(ScoredStep) | {"action": step.parsed, "format": score_answer(step.raw_output, names).format}
    )


async def scored(played: PlayedEpisode[PlayedStep], slot: SolverSlot) -> PlayedEpisode[ScoredStep]:
    """Score the format of every step; names an action may use: the constraints of the first
    observation, and the variables read from the model file only if an answer needs them
    (UPDATE_BOUNDS is rare, and a second read of a big model is not free)."""
    steps = played.steps
    constraints = list(steps[0].state.get("constraint_names", [])) if steps else []
    names = Names.of(constraints, None)
    if any("UPDATE_BOUNDS" in s.raw_output.upper() for s in steps):
        full = await slot.run(model_names, played.problem)
        names = Names(names.constraints, full.variables)
    return replace(played, steps=[scored_step(s, names) for s in steps])


async def play_episode(
    policy: object, problem: Problem, slot: SolverSlot, settings: PlaySettings
) -> PlayedEpisode[ScoredStep]:
    """Play one problem to SUBMIT, the step limit, or a policy failure (a spent budget is one too)."""
    try:
        played = await play_local(policy, problem, slot, settings)
    except Stop as exc:
        played = PlayedEpisode(problem, None, error=describe(exc))
    return await scored(played, slot)


async def play_all(
    policy: object,
    problems: Sequence[Problem],
    settings: PlaySettings,
    *,
    concurrency: int = 4,
    progress: bool = True,
    desc: str | None = None,
) -> list[PlayedEpisode[ScoredStep]]:
    """Play every problem once; results in the order of ``problems``."""
    # eval scores what a model said: a server-split reasoning goes back into the answer's <think>
    settings = replace(settings, merge_reasoning=True)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(problems)):
        queue.put_nowait(i)
    results: list[PlayedEpisode[ScoredStep] | None] = [None] * len(problems)
    bar = tqdm(
        total=len(problems),
        desc=desc or str(getattr(policy, "name", "policy")),
        unit="ep",
        disable=not progress,
        dynamic_ncols=True,
    )
    recovered = 0

    async def worker() -> None:
        nonlocal recovered
        slot = SolverSlot("ordebug-eval-solver")
        try:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                played = await play_episode(policy, problems[i], slot, settings)
                results[i] = played
                recovered += bool(played.record is not None and played.record.success)
                bar.update(1)
                bar.set_postfix(recovered=f"{recovered}/{bar.n}")
        finally:
            slot.close()

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(problems))))))
    finally:
        bar.close()
    return [r for r in results if r is not None]
