"""The oracle: a minimal repair by Gurobi's feasRelax, and the actions that carry it out.

Two stages, each on a copy of the model (the input is never changed):

1. **Fewest constraints.** ``feasRelax(relaxobjtype=2)`` over every constraint (and every
   variable bound with ``include_bounds``) minimises the *number* of relaxed elements
   (solved with IntegralityFocus=1 so the big-M indicator binaries cannot "trickle"; if a
   violation exceeds feasRelax's big-M of 1e6 this stage falls back to ``relaxobjtype=0``).
2. **Least violation among those.** ``feasRelax(relaxobjtype=0, minrelax=True)`` restricted
   to the elements stage 1 relaxed minimises the total violation and then, at that minimum,
   optimises the original objective (so the repair also keeps the objective as close as a
   minimal repair can).

The violations of the stage-2 solution become grammar actions: a ``<=``/``>=``/``=`` constraint
needing ``d`` more room gets ``RELAX_CONSTRAINT(c, d)`` (an equality becomes the range
rhs ± d, which contains the needed value); a bound gets ``UPDATE_BOUNDS(x, lb, ub)``. Amounts
are rounded *up* to 6 significant digits (readable, and never tighter than needed). The
repair is then verified: the actions are applied to a fresh copy, which is solved.

When constraint changes alone cannot restore feasibility (e.g. a variable whose lb > ub,
OR-Debug-Bench's type H), the repair is retried with bounds included. If stage 2 cannot be solved with
``minrelax`` (the original objective is unbounded on the relaxed model) it is solved without.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import gurobipy as gp
from gurobipy import GRB
from pydantic import BaseModel, ConfigDict, Field

from ordebug import solver
from ordebug.actions import Action, ActionName
from ordebug.problems import Problem, load_model_files

TOL = 1e-7  # below this an element counts as unchanged (Gurobi's feasibility tolerance is 1e-6)


class RepairChange(BaseModel):
    """One element the repair changes."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["constraint", "bound"]
    sense: str | None = Field(None, description="'<=', '>=', '=' or 'range' for constraints")
    violation: float = Field(description="how far the stage-2 solution violates the original element")
    amount: float = Field(description="the rounded-up relaxation applied (constraints)")
    lb: float | None = Field(None, description="new lower bound (bounds)")
    ub: float | None = Field(None, description="new upper bound (bounds)")


class Repair(BaseModel):
    """A minimal repair and what it achieves."""

    model_config = ConfigDict(extra="forbid")
    changes: list[RepairChange] = Field(default_factory=list)
    total_violation: float = 0.0
    n_changed: int = 0
    feasible: bool = Field(description="the repaired model has a feasible solution")
    status: str = Field(description="status of the repaired model (OPTIMAL expected)")
    objective: float | None = None
    solver_calls: int = 0
    include_bounds: bool = False

    def actions(self) -> list[Action]:
        """The grammar actions realising this repair (no SUBMIT)."""
        out = []
        for ch in self.changes:
            if ch.kind == "constraint":
                out.append(Action(name=ActionName.RELAX_CONSTRAINT, target=ch.name, values=(ch.amount,)))
            else:
                out.append(Action(name=ActionName.UPDATE_BOUNDS, target=ch.name, values=(ch.lb, ch.ub)))
        return out


def round_up(x: float, digits: int = 6) -> float:
    """Round a positive amount up to ``digits`` significant digits (1.23456789 -> 1.23457).

    Float noise below 1e-9 of a digit is ignored (2.0000000000000004 -> 2.0, not 2.00001).
    """
    if x <= 0 or not math.isfinite(x):
        return x
    exp = math.floor(math.log10(x)) - digits + 1
    q = 10.0**exp
    return round(math.ceil(x / q - 1e-9) * q, max(0, -exp))


def _round_out(x: float, up: bool) -> float:
    """Round a bound outward (up for ub, down for lb) to 6 significant digits."""
    if x == 0 or not math.isfinite(x):
        return x
    mag = round_up(abs(x)) if (x > 0) == up else _round_down(abs(x))
    return math.copysign(mag, x)


def _round_down(x: float, digits: int = 6) -> float:
    exp = math.floor(math.log10(x)) - digits + 1
    q = 10.0**exp
    return round(math.floor(x / q + 1e-9) * q, max(0, -exp))


def as_model(source: Problem | gp.Model | str | os.PathLike, env: gp.Env | None) -> gp.Model:
    if isinstance(source, gp.Model):
        source.update()
        return source
    if isinstance(source, (str, os.PathLike)):
        source = load_model_files(Path(source))[0]
    return source.read_model(env)


_ART_PREFIXES = {"ArtP_": "c", "ArtN_": "c", "ArtL_": "lb", "ArtU_": "ub"}


class _Stage(BaseModel):
    """Result of one feasRelax stage: per constraint the room needed, per variable (down, up)."""

    status: str
    calls: int
    constraints: dict[str, float] = Field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)


def _stage(model: gp.Model, objtype: int, minrelax: bool, constrs: set[str] | None, bounds: set[str]) -> _Stage:
    """feasRelax on a copy over the named constraints (None = all) and variables' bounds.

    Amounts are read from feasRelax's artificial variables (ArtP_/ArtN_ per row, ArtL_/ArtU_
    per bound), which the violation-minimising stage sets to exactly the violation (why: no
    per-row Python loop over the matrix, and the same numbers Gurobi used).
    """
    copy = model.copy()
    n_orig = copy.NumVars
    if objtype == 2:
        # feasRelax's count objective links each artificial to a binary by a big-M; without this
        # Gurobi may leave the binary at 5e-6 (within IntFeasTol) and relax for free.
        copy.Params.IntegralityFocus = 1
    rows = copy.getConstrs()
    if constrs is not None:
        rows = [c for c, n in zip(rows, copy.getAttr("ConstrName", rows), strict=True) if n in constrs]
    vars_ = copy.getVars() if bounds else []
    if bounds:
        vars_ = [v for v, n in zip(vars_, copy.getAttr("VarName", vars_), strict=True) if n in bounds]
    pen = [1.0] * len(vars_) or None
    copy.feasRelax(objtype, minrelax, vars_ or None, pen, pen, rows, [1.0] * len(rows))
    result = solver.solve(copy)
    calls = result.solver_calls + (1 if minrelax else 0)  # minrelax solves once inside feasRelax
    out = _Stage(status=result.status, calls=calls)
    if result.status != "OPTIMAL":
        return out
    art = copy.getVars()[n_orig:]
    for name, value in zip(copy.getAttr("VarName", art), copy.getAttr("X", art), strict=True):
        kind = _ART_PREFIXES.get(name[:5])
        if kind is None or value <= TOL:
            continue
        target = name[5:]
        if kind == "c":
            out.constraints[target] = max(out.constraints.get(target, 0.0), value)
        else:
            down, up = out.bounds.get(target, (0.0, 0.0))
            out.bounds[target] = (max(down, value), up) if kind == "lb" else (down, max(up, value))
    return out


def _apply(model: gp.Model, changes: list[RepairChange]) -> gp.Model:
    """A copy of ``model`` with the changes applied exactly as DebugEnv applies the actions."""
    copy = model.copy()
    by_name: dict[str, list[gp.Constr]] = {}
    for c in copy.getConstrs():
        by_name.setdefault(c.ConstrName, []).append(c)
    for ch in changes:
        if ch.kind == "bound":
            v = copy.getVarByName(ch.name)
            v.LB, v.UB = ch.lb, ch.ub
            continue
        rows = by_name[ch.name]
        if len(rows) == 1 and rows[0].Sense == GRB.EQUAL:
            row, rhs = rows[0], rows[0].RHS
            copy.update()
            expr = copy.getRow(row)
            row.Sense, row.RHS = GRB.GREATER_EQUAL, rhs - ch.amount
            copy.addLConstr(expr, GRB.LESS_EQUAL, rhs + ch.amount, name=ch.name)
        else:
            for row in rows:
                row.RHS = row.RHS + ch.amount if row.Sense == GRB.LESS_EQUAL else row.RHS - ch.amount
    copy.update()
    return copy


def minimal_repair(
    source: Problem | gp.Model | str | os.PathLike, *, include_bounds: bool = False, env: gp.Env | None = None
) -> Repair:
    """The two-stage minimal repair of an infeasible model (see the module docstring).

    A model that is already feasible gets an empty repair. Never modifies ``source``.
    """
    owned = not isinstance(source, gp.Model)
    model = as_model(source, env)
    check = model if owned else model.copy()  # never disturb a caller's model; ours is fresh
    base = solver.solve(check)
    calls = base.solver_calls
    if base.status != "INFEASIBLE":
        return Repair(feasible=check.SolCount > 0, status=base.status, objective=base.objective, solver_calls=calls)
    all_vars = set(model.getAttr("VarName", model.getVars()))
    stage1 = None
    for with_bounds in (True,) if include_bounds else (False, True):
        bounds = all_vars if with_bounds else set()
        stage1 = _stage(model, 2, False, None, bounds)
        calls += stage1.calls
        if stage1.status != "OPTIMAL":  # e.g. a violation beyond feasRelax's big-M of 1e6
            stage1 = _stage(model, 0, False, None, bounds)
            calls += stage1.calls
        if stage1.status == "OPTIMAL":
            break
    if stage1 is None or stage1.status != "OPTIMAL":
        return Repair(feasible=False, status=stage1.status if stage1 else "INFEASIBLE", solver_calls=calls,
                      include_bounds=True)  # fmt: skip
    chosen_c, chosen_b = set(stage1.constraints), set(stage1.bounds)
    stage2 = _stage(model, 0, True, chosen_c, chosen_b)
    calls += stage2.calls
    if stage2.status != "OPTIMAL":  # e.g. the original objective is unbounded on the relaxed model
        stage2 = _stage(model, 0, False, chosen_c, chosen_b)
        calls += stage2.calls
    if stage2.status != "OPTIMAL":
        stage2 = stage1
    senses = _senses(model)
    changes = [
        RepairChange(name=name, kind="constraint", sense=senses[name], violation=d, amount=round_up(d))
        for name, d in stage2.constraints.items()
    ]
    for name, (down, up) in stage2.bounds.items():
        var = model.getVarByName(name)
        lb = -math.inf if var.LB <= -GRB.INFINITY else _round_out(var.LB - down, up=False)
        ub = math.inf if var.UB >= GRB.INFINITY else _round_out(var.UB + up, up=True)
        changes.append(RepairChange(name=name, kind="bound", violation=max(down, up), amount=round_up(max(down, up)),
                                    lb=lb, ub=ub))  # fmt: skip
    repaired = _apply(model, changes)
    final = solver.solve(repaired)
    calls += final.solver_calls
    return Repair(
        changes=changes,
        total_violation=sum(ch.violation for ch in changes),
        n_changed=len(changes),
        feasible=final.status == "OPTIMAL" or repaired.SolCount > 0,
        status=final.status,
        objective=final.objective,
        solver_calls=calls,
        include_bounds=any(ch.kind == "bound" for ch in changes) or include_bounds,
    )


def _senses(model: gp.Model) -> dict[str, str]:
    """Constraint name -> '<=', '>=', '=' or 'range' (two rows under one name: a relaxed equality)."""
    out: dict[str, str] = {}
    constrs = model.getConstrs()
    for name, sense in zip(model.getAttr("ConstrName", constrs), model.getAttr("Sense", constrs), strict=True):
        text = {GRB.LESS_EQUAL: "<=", GRB.GREATER_EQUAL: ">=", GRB.EQUAL: "="}[sense]
        out[name] = "range" if name in out and out[name] != text else text
    return out
