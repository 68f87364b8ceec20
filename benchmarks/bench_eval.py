"""Harness overhead: episodes/s of `eval` with an instant policy against the bare Gurobi work.

Three loops over the same episodes (the drop-first-IIS baseline on OR-Debug-Bench's `test` set, or
`--problems DIR`), measured in this run:

1. bare gurobipy: read the model, optimize, computeIIS, then each recorded action as plain
   gurobipy calls (remove the row, re-optimize, IIS while infeasible) — the irreducible work;
2. DebugEnv alone: the same actions through `ordebug.episode.DebugEnv` (observation rendering,
   working copy, IIS description), no harness;
3. the harness: `eval.episodes.play_all` + scoring (format metrics per step, episode metrics),
   at concurrency 1 and 4.

Prints episodes/s and the ratio of each to the bare loop (1.0 = no overhead at all) and to
DebugEnv alone (what the harness itself adds on top of the environment).

    python benchmarks/bench_eval.py [--problems DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable

import gurobipy as gp
from gurobipy import GRB

from eval.episodes import EpisodeSettings, play_all
from eval.policies import make_baseline
from eval.scoring import episode_result, summarize
from foundation.paths import real_data_dir
from ordebug.actions import ActionName, parse_action
from ordebug.episode import DebugEnv
from ordebug.problems import Problem, load_problems
from ordebug.solver import gurobi_env

DEFAULT = real_data_dir()  # $ORDEBUG_SHARED_DATA, else the excerpt in tests/data


def bare_episode(problem: Problem, actions: list[str], env: gp.Env) -> None:
    """The solver work of one episode in plain gurobipy (what any harness must pay)."""
    m = gp.read(str(problem.model_path), env=env)
    m.optimize()
    if m.Status == GRB.INFEASIBLE:
        m.computeIIS()
    for text in actions:
        a = parse_action(text)
        if a.name is ActionName.DROP_CONSTRAINT:
            m.remove(m.getConstrByName(a.target))
            m.optimize()
            if m.Status == GRB.INFEASIBLE:
                m.computeIIS()
    m.dispose()


def env_episode(problem: Problem, actions: list[str]) -> None:
    env = DebugEnv(max_steps=20)
    env.reset(problem)
    for text in actions:
        env.step(parse_action(text))


def timed(loops: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best wall time of each loop over ``rounds`` interleaved rounds (A B C D A B C D …), so a
    burst of load from other users of the machine hits every loop alike."""
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(rounds):
        for name, fn in loops.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", default=str(DEFAULT / "or_debug_bench" / "test"))
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    problems = load_problems(args.problems)
    policy = make_baseline("drop_first", layout="legacy")
    settings = EpisodeSettings(max_steps=20)

    async def harness(concurrency: int):
        played = await play_all(policy, problems, settings, concurrency=concurrency, progress=False)
        eps = [episode_result(pl, None) for pl in played]
        summarize(eps)
        return played

    played = asyncio.run(harness(1))
    scripts = {pl.problem.problem_id: [s.action for s in pl.steps if s.action] for pl in played}
    n = len(problems)
    genv = gurobi_env()
    results = timed(
        {
            "bare gurobipy": lambda: [bare_episode(pr, scripts[pr.problem_id], genv) for pr in problems],
            "DebugEnv alone": lambda: [env_episode(pr, scripts[pr.problem_id]) for pr in problems],
            "harness, concurrency 1": lambda: asyncio.run(harness(1)),
            "harness, concurrency 4": lambda: asyncio.run(harness(4)),
        },
        args.rounds,
    )
    bare = results["bare gurobipy"]
    steps = sum(len(s) for s in scripts.values())
    print(f"{n} episodes, {steps} steps ({args.problems}); best of {args.rounds}; {os.cpu_count()} cores")
    env_t = results["DebugEnv alone"]
    print(f"{'loop':<24} {'episodes/s':>11} {'ratio to bare':>14} {'ratio to DebugEnv':>18}")
    for name, t in results.items():
        print(f"{name:<24} {n / t:>11.1f} {bare / t:>14.2f} {env_t / t:>18.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
