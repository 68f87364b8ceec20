"""Two tiny benchmark problems whose every metric can be computed by hand (eval tests).

Both minimise x + y with x, y >= 0; constraints are rows (not bounds) so the IIS holds rows only.

``one_conflict`` (type D, target c3, Z0 = 7):
    c0: x + y <= 10    c1: x >= 4    c2: y >= 3    c3: x + y >= 12  (the injected row)
    IIS = [c0, c3]. Without c3 the optimum is x + y = 7.

``two_conflicts`` (type E, targets c1 and c3, Z0 = 6):
    c0: x <= 2    c1: x >= 5    c2: y <= 1    c3: y >= 3
    Two independent conflicts; Gurobi reports [c0, c1] first, then [c2, c3] once c0 is gone.
"""

from __future__ import annotations

from pathlib import Path

import gurobipy as gp
from gurobipy import GRB

from ordebug.problems import Problem, load_benchmark, write_benchmark


def _model(name: str, rows: list[tuple[dict[str, float], str, float]]) -> gp.Model:
    env = gp.Env(empty=True)
    env.setParam("OutputFlag", 0)
    env.start()
    m = gp.Model(name, env=env)
    x = m.addVar(name="x")
    y = m.addVar(name="y")
    m.setObjective(x + y, GRB.MINIMIZE)
    vars_ = {"x": x, "y": y}
    for i, (coeffs, sense, rhs) in enumerate(rows):
        expr = gp.quicksum(c * vars_[v] for v, c in coeffs.items())
        m.addLConstr(expr, sense, rhs, name=f"c{i}")
    m.update()
    return m


def write_hand_set(out_dir: Path) -> list[Problem]:
    """Write both problems as a benchmark set in ``out_dir``; returns them (one_conflict first)."""
    one = _model(
        "one_conflict",
        [({"x": 1, "y": 1}, "<", 10), ({"x": 1}, ">", 4), ({"y": 1}, ">", 3), ({"x": 1, "y": 1}, ">", 12)],
    )
    two = _model(
        "two_conflicts", [({"x": 1}, "<", 2), ({"x": 1}, ">", 5), ({"y": 1}, "<", 1), ({"y": 1}, ">", 3)]
    )
    entries = [
        (
            {
                "problem_id": "one_conflict",
                "error_type": "D",
                "target_name": "c3",
                "original_objective": 7.0,
                "ground_truth_fix": "Remove c3",
                "difficulty": "easy",
                "problem_type": "lp",
            },
            one,
        ),
        (
            {
                "problem_id": "two_conflicts",
                "error_type": "E",
                "target_name": "c1,c3",
                "original_objective": 6.0,
                "ground_truth_fix": "Restore c1 and c3",
                "difficulty": "medium",
                "problem_type": "lp",
            },
            two,
        ),
    ]
    write_benchmark(out_dir, entries, {"dataset_name": "eval_hand_set"})
    return load_benchmark(out_dir)
