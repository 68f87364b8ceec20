"""Play episodes concurrently: a policy against DebugEnv, every step scored as it happens.

Concurrency model: ``concurrency`` episode workers (asyncio tasks) share one queue of
problems. Each worker owns one thread with its own Gurobi environment (a gurobipy Env must not
be used by two threads at once), so solver work of different episodes runs in parallel while
the policy calls of all workers are in flight together — which is what lets vLLM batch them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from tqdm import tqdm

from eval.format_metrics import Names, score_answer
from eval.policies.base import Policy
from eval.schema import StepRecord
from ordebug.actions import Action, ActionName
from ordebug.episode import DebugEnv, EpisodeRecord
from ordebug.problems import Problem
from ordebug.prompts import user_message

ParseMode = Literal["lenient", "strict"]


@dataclass
class PlayedEpisode:
    """One finished episode, before metrics: the environment's record and our step records."""

    problem: Problem
    record: EpisodeRecord | None
    steps: list[StepRecord]
    terminated_by: str
    error: str | None = None
    skipped: str | None = None  # why it was not played (FEASIBLE_AT_RESET); then it is never scored


#: The model is already OPTIMAL at reset: not a debugging problem, kept out of every metric.
FEASIBLE_AT_RESET = "feasible_at_reset"


@dataclass(frozen=True)
class EpisodeSettings:
    max_steps: int = 20
    layout: str = "legacy"
    whatif: bool = False  # offer the what-if actions (as the training data's episodes did)
    parse: ParseMode = "lenient"
    time_limit: float | None = None


class SolverSlot:
    """One worker thread (and so one Gurobi environment) for one episode at a time."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ordebug-eval-solver")

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def model_names(problem: Problem) -> Names:
    """Constraint and variable names of the problem's original model (for args_valid)."""
    model = problem.read_model()
    try:
        model.update()
        return Names.of([c.ConstrName for c in model.getConstrs()], [v.VarName for v in model.getVars()])
    finally:
        model.dispose()


class EpisodeNames:
    """Names an episode's actions may use: constraints from the first observation (the original
    model's rows); variables read from the model file only if an action needs them (UPDATE_BOUNDS
    is rare, and a second read of a big model is not free)."""

    def __init__(self, problem: Problem, constraints: list[str]) -> None:
        self.problem = problem
        self.names = Names.of(constraints, None)

    async def for_text(self, text: str, slot: SolverSlot) -> Names:
        if self.names.variables is None and "UPDATE_BOUNDS" in text.upper():
            full = await slot.run(model_names, self.problem)
            self.names = Names(self.names.constraints, full.variables)
        return self.names


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


async def play_episode(
    policy: Policy, problem: Problem, slot: SolverSlot, settings: EpisodeSettings
) -> PlayedEpisode:
    """Play one problem to SUBMIT, the step limit, or a policy failure."""
    env = DebugEnv(
        max_steps=settings.max_steps, layout=settings.layout, time_limit=settings.time_limit, whatif=settings.whatif
    )
    steps: list[StepRecord] = []
    try:
        obs, info = await slot.run(env.reset, problem)
    except Exception as exc:  # noqa: BLE001 - an unreadable model fails its episode, not the batch
        return PlayedEpisode(problem, None, steps, "error", f"{type(exc).__name__}: {exc}")
    if info["state"].status == "OPTIMAL":
        return PlayedEpisode(problem, None, steps, "skipped", skipped=FEASIBLE_AT_RESET)
    names = EpisodeNames(problem, list(info["state"].constraint_names))
    history: list[dict[str, str]] = []
    terminated_by, error = "step_limit", None
    while True:
        t0 = time.perf_counter()
        try:
            raw = await policy.act(obs, info["state"], list(history), problem=problem)
        except Exception as exc:  # noqa: BLE001 - recorded, counted, reported; the batch goes on
            terminated_by, error = "error", f"{type(exc).__name__}: {exc}"
            break
        latency = time.perf_counter() - t0
        if not isinstance(raw, str):
            terminated_by, error = "error", f"policy returned {type(raw).__name__}, expected str"
            break
        scored = score_answer(raw, await names.for_text(raw, slot))
        action, parse_error = scored.action(settings.parse)
        # No parsed action: the environment gets the raw text (it counts an invalid step, as in
        # collection). In strict mode it gets a marker instead, so it cannot parse leniently what
        # we refused.
        step_input: Action | str = (
            action
            if action is not None
            else (raw if settings.parse == "lenient" else f"<not a strict answer: {parse_error}>")
        )
        calls_before = info["solver_calls"]
        try:
            obs_next, _, terminated, truncated, info = await slot.run(env.step, step_input)
        except Exception as exc:  # noqa: BLE001 - a solver failure ends this episode, not the batch
            terminated_by, error = "error", f"{type(exc).__name__}: {exc}"
            break
        steps.append(
            StepRecord(
                index=len(steps) + 1,
                observation=obs,
                raw_output=raw,
                action=str(action) if action is not None else None,
                parse_error=parse_error,
                valid=bool(info["valid"]),
                env_error=info["error"],
                result=info["result"],
                status=info["status"],
                objective=_finite(info["objective"]),
                solver_calls=info["solver_calls"] - calls_before,
                latency_s=round(latency, 6),
                format=scored.format,
            )
        )
        history += [{"role": "user", "content": user_message(obs)}, {"role": "assistant", "content": raw}]
        obs = obs_next
        if terminated:
            submitted = action is not None and action.name is ActionName.SUBMIT and info["valid"]
            terminated_by = "submit" if submitted else "terminated"
            break
        if truncated:
            break
    record = env.record()  # plain Python state, no solver call: no thread hop needed
    return PlayedEpisode(problem, record, steps, terminated_by, error)


async def play_all(
    policy: Policy,
    problems: Sequence[Problem],
    settings: EpisodeSettings,
    *,
    concurrency: int = 4,
    progress: bool = True,
    desc: str | None = None,
) -> list[PlayedEpisode]:
    """Play every problem once; results in the order of ``problems``."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(problems)):
        queue.put_nowait(i)
    results: list[PlayedEpisode | None] = [None] * len(problems)
    bar = tqdm(
        total=len(problems), desc=desc or policy.name, unit="ep", disable=not progress, dynamic_ncols=True
    )
    recovered = 0

    async def worker() -> None:
        nonlocal recovered
        slot = SolverSlot()
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
