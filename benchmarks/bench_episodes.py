"""Episodes per second: oracle repair episodes in DebugEnv vs a bare gurobipy loop, same run.

    .venv/bin/python benchmarks/bench_episodes.py [--problems SPEC ...] [--rounds 3]

Ours, per problem: ``DebugEnv.reset`` (read + solve + IIS), ``oracle.repair_actions`` (check
solve, feasRelax count stage, feasRelax violation stage, verify solve), then every action
through ``env.step`` (re-solve, IIS while infeasible) and ``SUBMIT()``.

Baseline: the same Gurobi calls in a plain loop — read, optimize, computeIIS, the same two
feasRelax copies and solves, the verify solve, then the same changes applied to a copy and
re-solved one by one — with the repair's changes precomputed, so it carries none of our
parsing, bookkeeping, observation rendering or pydantic records. Prints both rates and the
ratio (goal >= 0.5). Best of ``--rounds`` to damp noise on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gurobipy as gp
from gurobipy import GRB

from foundation.paths import real_data_dir
from ordebug.episode import DebugEnv
from ordebug.oracle import minimal_repair, repair_actions
from ordebug.problems import load_problems
from ordebug.solver import gurobi_env

REPO = Path(__file__).resolve().parents[1]
SHARED = real_data_dir()  # $ORDEBUG_SHARED_DATA, else the excerpt in tests/data


def ours(problems) -> int:
    env = DebugEnv(max_steps=50)
    ok = 0
    for problem in problems:
        env.reset(problem)
        for action in repair_actions(problem):
            env.step(action)
        ok += env.record().success
    return ok


def _solve(model: gp.Model) -> int:
    model.optimize()
    if model.Status == GRB.INF_OR_UNBD:
        model.Params.DualReductions = 0
        model.reset()
        model.optimize()
    return model.Status


def _apply(model: gp.Model, name: str, change) -> None:
    if isinstance(change, tuple):  # (lb, ub) of a variable
        var = model.getVarByName(name)
        var.LB, var.UB = change
        return
    for c in model.getConstrs():
        if c.ConstrName == name:
            if c.Sense == GRB.EQUAL:  # a relaxed equality becomes a range: two rows
                model.update()
                model.addLConstr(model.getRow(c), GRB.LESS_EQUAL, c.RHS + change, name=name)
                c.Sense, c.RHS = GRB.GREATER_EQUAL, c.RHS - change
            else:
                c.RHS = c.RHS + change if c.Sense == GRB.LESS_EQUAL else c.RHS - change
            return


def _relax(model: gp.Model, objtype: int, minrelax: bool, names, bounds: bool) -> None:
    copy = model.copy()
    if objtype == 2:
        copy.Params.IntegralityFocus = 1
    rows = [c for c in copy.getConstrs() if names is None or c.ConstrName in names]
    vs = [v for v in copy.getVars() if names is None or v.VarName in names] if bounds else []
    pen = [1.0] * len(vs) or None
    copy.feasRelax(objtype, minrelax, vs or None, pen, pen, rows, [1.0] * len(rows))
    _solve(copy)


def bare(problems, plans) -> int:
    env = gurobi_env()
    ok = 0
    for problem, plan in zip(problems, plans, strict=True):
        model = gp.read(str(problem.model_path), env=env)
        if _solve(model) == GRB.INFEASIBLE:  # initial observation
            model.computeIIS()
        check = model.copy()  # oracle: check, count stage(s), violation stage, verify
        _solve(check)
        bounds = any(isinstance(c, tuple) for c in plan.values())
        if bounds:  # the constraint-only count stage that fails first
            _relax(model, 2, False, None, False)
        _relax(model, 2, False, None, bounds)
        _relax(model, 0, True, set(plan), bounds)
        verify = model.copy()
        for name, change in plan.items():
            _apply(verify, name, change)
        _solve(verify)
        work = model.copy()  # the episode: one change and re-solve per action
        for name, change in plan.items():
            _apply(work, name, change)
            if _solve(work) == GRB.INFEASIBLE:
                work.computeIIS()
        ok += work.Status == GRB.OPTIMAL
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="*", default=[str(SHARED / "or_debug_bench"),
                        str(SHARED / "netlib" / "infeasible")], help="problem specs (load_problems)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    problems = load_problems(args.problems)
    plans = [
        {c.name: c.amount if c.kind == "constraint" else (c.lb, c.ub) for c in minimal_repair(p).changes}
        for p in problems
    ]  # precomputed: the bare loop does the Gurobi work only
    n = len(problems)
    best_ours = best_bare = float("inf")
    for _ in range(args.rounds):
        t = time.perf_counter()
        ok_bare = bare(problems, plans)
        best_bare = min(best_bare, time.perf_counter() - t)
        t = time.perf_counter()
        ok_ours = ours(problems)
        best_ours = min(best_ours, time.perf_counter() - t)
    rate_ours, rate_bare = n / best_ours, n / best_bare
    ratio = rate_ours / rate_bare
    print(f"problems: {n} (from {', '.join(args.problems)}); best of {args.rounds} rounds")
    print(f"{'loop':<28}{'episodes/s':>12}{'solved':>9}")
    print(f"{'bare gurobipy (same solves)':<28}{rate_bare:>12.1f}{ok_bare:>9}")
    print(f"{'DebugEnv + oracle':<28}{rate_ours:>12.1f}{ok_ours:>9}")
    print(f"ratio ours/bare: {ratio:.2f} (goal >= 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
