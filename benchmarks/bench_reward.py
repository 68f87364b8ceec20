"""Reward throughput (completions/s): rl.reward.SolverReward vs a bare gurobipy loop, same run.

    .venv/bin/python benchmarks/bench_reward.py [--problems SPEC ...] [--per-state 2] [--workers 2] [--rounds 3]

States: the initial state of every problem (the rows ``make rl-data`` exports, legacy layout).
Completions: ``--per-state`` per state (GRPO scores a group of ``num_generations`` completions of
one prompt, 8 in rl/configs/grpo_qwen3.yaml): ``DROP_CONSTRAINT`` of the first IIS constraint,
``RELAX_CONSTRAINT`` (by 5.0) of the last, then the others in turn, each in the SFT answer format.
With more completions than a small IIS has distinct actions some repeat; the reward scores a
repeat once per state (the baseline solves it again), so the header says how many are distinct:
the default 2 per state are all distinct, the headline comparison.

Ours: ``SolverReward`` as GRPO calls it (its worker processes, the default ``workers``) scoring the
whole batch: parse, rebuild the state through the reward's own ``DebugEnv`` (read, solve; no
diagnostics, and no IIS, which only observations show), apply, re-solve, metrics.
Baseline: the same actions in a plain single-process loop — read the model, apply the change to
it, optimize, read the status — with the targets precomputed: no parsing, no environment, no IIS
of the initial state, no metrics. Prints both rates, the ratio (goal >= 0.5) and the single-process
reward (``workers=0``) beside them. Best of ``--rounds`` to damp noise on a shared machine; the
"CPU ratio" column compares this process's CPU time (bare loop / in-process reward), which other
work on a busy machine inflates far less than wall time (the pooled reward's CPU is in its workers).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import gurobipy as gp
from gurobipy import GRB

from ordebug.problems import load_problems
from ordebug.solver import gurobi_env
from play.episode import PlaySettings
from rl.config import load_reward_config
from rl.export import state_row
from rl.reward import SolverReward

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ORDEBUG_SHARED_DATA", REPO.parent / "shared" / "data"))


def batch(problems, per_state: int = 2) -> tuple[list[str], list[dict], list[tuple[str, str, str]]]:
    """Completions, their rows, and (model file, action, constraint) for the baseline."""
    settings = PlaySettings()
    completions, rows, plain = [], [], []
    for problem in problems:
        row = state_row(problem, settings, "system", [], "train")
        iis = json.loads(row["iis_constraints"])
        if row["status"] != "INFEASIBLE" or not iis:
            continue
        for j in range(per_state):
            action = ("DROP_CONSTRAINT", "RELAX_CONSTRAINT")[j % 2]
            name = iis[(j // 2) % len(iis)] if action == "DROP_CONSTRAINT" else iis[-1 - (j // 2) % len(iis)]
            args = name if action == "DROP_CONSTRAINT" else f"{name}, 5.0"
            completions.append(f"<think>\nfrom the IIS\n</think>\n\nAction: {action}({args})")
            rows.append(row)
            plain.append((row["model_file"], action, name))
    return completions, rows, plain


def baseline(plain: list[tuple[str, str, str]]) -> int:
    env = gurobi_env()
    ok = 0
    for path, action, name in plain:
        model = gp.read(path, env=env)
        constr = model.getConstrByName(name)
        if action == "DROP_CONSTRAINT":
            model.remove(constr)
        elif constr.Sense == GRB.EQUAL:  # the environment's RELAX of an equality: a range
            row, rhs = model.getRow(constr), constr.RHS
            constr.Sense, constr.RHS = GRB.GREATER_EQUAL, rhs - 5.0
            model.addLConstr(row, GRB.LESS_EQUAL, rhs + 5.0)
        else:
            constr.RHS += 5.0 if constr.Sense == GRB.LESS_EQUAL else -5.0
        model.optimize()
        ok += model.Status == GRB.OPTIMAL
        model.dispose()
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", nargs="+", default=[str(SHARED / "or_debug_bench" / "test")])
    p.add_argument("--workers", type=int, default=None, help="reward processes (default: rl/configs/reward.yaml)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--per-state", type=int, default=2, help="completions per state (GRPO's num_generations)")
    args = p.parse_args()
    config = load_reward_config()
    if args.workers is not None:
        config = config.model_copy(update={"workers": args.workers})
    completions, rows, plain = batch(load_problems(args.problems), args.per_state)
    columns = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    n = len(completions)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # this process's CPU seconds: what a busy machine's other work does not inflate
    counts: dict[str, int] = {}
    with SolverReward(config) as pooled, SolverReward(config.model_copy(update={"workers": 0})) as local:
        pooled(completions[:2], **{k: v[:2] for k, v in columns.items()})  # start the workers outside the clock
        runs = {
            "bare gurobipy loop": lambda: baseline(plain),
            f"SolverReward (workers={config.workers})": lambda: sum(s.outcome for s in _scores(pooled, completions, columns)),
            "SolverReward (workers=0)": lambda: sum(s.outcome for s in _scores(local, completions, columns)),
        }  # fmt: skip
        for _ in range(args.rounds):
            for name, fn in runs.items():
                t, c = time.perf_counter(), time.process_time()
                counts[name] = int(fn())
                timings[name] = min(timings.get(name, float("inf")), time.perf_counter() - t)
                cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - c)
    base = n / timings["bare gurobipy loop"]
    distinct = len(set(zip(columns["problem_id"], completions, strict=True)))
    print(f"{n} completions ({distinct} distinct), {args.per_state} per state, best of {args.rounds} rounds")
    print(f"{'':34} {'completions/s':>14} {'ratio':>7} {'CPU ratio':>10} {'OPTIMAL after':>14}")
    for name, seconds in timings.items():
        rate = n / seconds
        # CPU ratio: bare CPU time / ours, both in this process (the worker pool's CPU is elsewhere: "-")
        cpu_ratio = "-" if name.endswith(f"workers={config.workers})") and config.workers else \
            f"{cpu['bare gurobipy loop'] / cpu[name]:.2f}"  # fmt: skip
        print(f"{name:34} {rate:14.1f} {rate / base:7.2f} {cpu_ratio:>10} {counts[name]:14d}")
    ratio = n / timings[f"SolverReward (workers={config.workers})"] / base
    print(f"ratio {ratio:.2f} (goal >= 0.5)")
    return 0


def _scores(reward: SolverReward, completions, columns):
    reward(completions, **columns)
    return reward.last_scores


if __name__ == "__main__":
    raise SystemExit(main())
