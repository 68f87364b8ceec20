"""Small hand-built infeasible models for the ordebug tests (real gurobipy, written as MPS).

Each builder writes ``<name>.mps`` into a folder and returns a Problem for it, so the tests
exercise the same read path as user files. Values are chosen so results can be computed by hand.
"""

from __future__ import annotations

from pathlib import Path

import gurobipy as gp
from gurobipy import GRB

from ordebug.problems import Problem
from ordebug.solver import gurobi_env


def _write(model: gp.Model, folder: Path, name: str, **meta) -> Problem:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.mps"
    model.update()
    model.write(str(path))
    return Problem(problem_id=name, model_path=path, **meta)


def capacity_demand(folder: Path) -> Problem:
    """min x + 2y, x,y in [0,10];  cap: x + y <= 4;  dem: x + y >= 6  (IIS = [cap, dem]).

    RELAX(cap, 2) makes it feasible with optimum x=6, y=0 -> objective 6.
    """
    m = gp.Model("capacity_demand", env=gurobi_env())
    x = m.addVar(ub=10, name="x")
    y = m.addVar(ub=10, name="y")
    m.addConstr(x + y <= 4, name="cap")
    m.addConstr(x + y >= 6, name="dem")
    m.addConstr(x - y <= 8, name="side")
    m.setObjective(x + 2 * y, GRB.MINIMIZE)
    return _write(m, folder, "capacity_demand", error_type="D", target_name="dem", original_objective=4.0)


def equality(folder: Path) -> Problem:
    """min x + y, x,y in [0,5];  bal: x + y = 12  (infeasible: at most 10)."""
    m = gp.Model("equality", env=gurobi_env())
    x = m.addVar(ub=5, name="x")
    y = m.addVar(ub=5, name="y")
    m.addConstr(x + y == 12, name="bal")
    m.setObjective(x + y, GRB.MINIMIZE)
    return _write(m, folder, "equality", error_type="A", target_name="bal")


def bound_conflict(folder: Path) -> Problem:
    """min x, x in [0,3];  need: x >= 5  (IIS = need + x's upper bound)."""
    m = gp.Model("bound_conflict", env=gurobi_env())
    x = m.addVar(ub=3, name="x")
    m.addConstr(x >= 5, name="need")
    m.setObjective(x, GRB.MINIMIZE)
    return _write(m, folder, "bound_conflict", error_type="H", target_name="x")


def unbounded_after_drop(folder: Path) -> Problem:
    """max x, x,y >= 0;  neg: x + y <= -1. Dropping neg leaves an UNBOUNDED model."""
    m = gp.Model("unbounded_after_drop", env=gurobi_env())
    x = m.addVar(name="x")
    y = m.addVar(name="y")
    m.addConstr(x + y <= -1, name="neg")
    m.setObjective(x, GRB.MAXIMIZE)
    return _write(m, folder, "unbounded_after_drop")


def oversize(folder: Path, n_vars: int = 2001) -> Path:
    """A model over the pip licence's 2000-variable limit (writing it needs no optimize)."""
    m = gp.Model("oversize", env=gurobi_env())
    xs = m.addVars(n_vars, ub=1, name="x")
    m.addConstr(xs.sum() >= 1, name="one")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "oversize.mps"
    m.update()
    m.write(str(path))
    return path
