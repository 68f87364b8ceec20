"""Probe repairs on copies of a model: what would each candidate action do?

The what-if actions (``ordebug.whatif``) answer with these, and the agents use them to compare
repairs before they commit to one. Every function
works on a copy (the episode's model is never touched) and applies actions with exactly the
semantics ``ordebug.episode.DebugEnv`` documents (RELAX loosens ``<=`` up, ``>=`` down, turns
``=`` into the range rhs ± a; constraints are addressed by name, a relaxed equality being two
rows under one name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gurobipy as gp
from gurobipy import GRB

from ordebug import solver
from ordebug.actions import Action, ActionName
from ordebug.oracle import round_up

SENSE_TEXT = {GRB.LESS_EQUAL: "<=", GRB.GREATER_EQUAL: ">=", GRB.EQUAL: "="}


def rows_by_name(model: gp.Model) -> dict[str, list[gp.Constr]]:
    out: dict[str, list[gp.Constr]] = {}
    for c in model.getConstrs():
        out.setdefault(c.ConstrName, []).append(c)
    return out


def apply_action(model: gp.Model, action: Action) -> None:
    """Apply a model-changing action in place, as DebugEnv does (KeyError for unknown names)."""
    name = action.name
    if name is ActionName.UPDATE_BOUNDS:
        var = model.getVarByName(action.target)
        if var is None:
            raise KeyError(action.target)
        lb = action.lb
        ub = action.ub if action.ub is not None else var.UB
        var.LB = -GRB.INFINITY if math.isinf(lb) else lb
        var.UB = GRB.INFINITY if math.isinf(ub) else ub
        model.update()
        return
    rows = rows_by_name(model)[action.target]
    if name is ActionName.DROP_CONSTRAINT:
        for row in rows:
            model.remove(row)
    elif name is ActionName.UPDATE_RHS:
        for row in rows:
            row.RHS = action.value
    elif name is ActionName.RELAX_CONSTRAINT:
        amount = action.amount
        if len(rows) == 1 and rows[0].Sense == GRB.EQUAL:
            row, rhs = rows[0], rows[0].RHS
            expr = model.getRow(row)
            row.Sense, row.RHS = GRB.GREATER_EQUAL, rhs - amount
            model.addLConstr(expr, GRB.LESS_EQUAL, rhs + amount, name=action.target)
        else:
            for row in rows:
                row.RHS = row.RHS + amount if row.Sense == GRB.LESS_EQUAL else row.RHS - amount
    else:
        raise ValueError(f"{action} does not change the model")
    model.update()


@dataclass(frozen=True)
class Outcome:
    """What the model looks like after a candidate action."""

    status: str
    objective: float | None

    @property
    def optimal(self) -> bool:
        return self.status == "OPTIMAL"


def try_action(model: gp.Model, action: Action) -> Outcome:
    """Status and objective of ``model`` with ``action`` applied (on a copy)."""
    copy = model.copy()
    apply_action(copy, action)
    result = solver.solve(copy)
    return Outcome(result.status, result.objective)


def min_constraint_relaxation(model: gp.Model, name: str) -> float | None:
    """The least amount that RELAX_CONSTRAINT(name, amount) needs to make the model feasible,
    with every other element unchanged; None when relaxing this constraint alone cannot."""
    copy = model.copy()
    rows = rows_by_name(copy).get(name, [])
    if not rows:
        return None
    copy.feasRelax(0, False, None, None, None, rows, [1.0] * len(rows))
    result = solver.solve(copy)
    if result.status != "OPTIMAL" or result.objective is None:
        return None
    x = [v.X for v in copy.getVars()[: model.NumVars]]
    need = _violation(model, rows_by_name(model)[name], x)
    return need if need > 0 else None


def min_bound_change(model: gp.Model, name: str) -> tuple[float, float] | None:
    """New (lb, ub) of variable ``name`` that make the model feasible with nothing else changed,
    moving the bound as little as possible; None when this variable's bounds alone cannot."""
    copy = model.copy()
    var = copy.getVarByName(name)
    if var is None:
        return None
    copy.feasRelax(0, False, [var], [1.0], [1.0], None, None)
    result = solver.solve(copy)
    if result.status != "OPTIMAL":
        return None
    value = var.X
    orig = model.getVarByName(name)
    lb, ub = orig.LB, orig.UB
    if value < lb:
        lb = value
    elif value > ub:
        ub = value
    else:
        return None
    return _round_out(lb, up=False), _round_out(ub, up=True)


def _round_out(x: float, *, up: bool) -> float:
    """Round a bound outward to 6 significant digits (never tighter than needed)."""
    if x == 0 or not math.isfinite(x) or abs(x) >= GRB.INFINITY:
        return -math.inf if x <= -GRB.INFINITY else math.inf if x >= GRB.INFINITY else x
    if (x > 0) == up:
        return math.copysign(round_up(abs(x)), x)
    exp = math.floor(math.log10(abs(x))) - 5
    q = 10.0**exp
    return math.copysign(round(math.floor(abs(x) / q + 1e-9) * q, max(0, -exp)), x)


def relax_amount(model: gp.Model, name: str, need: float) -> Action | None:
    """RELAX_CONSTRAINT(name, amount) with ``need`` rounded up to a readable amount that works."""
    for amount in (round_up(need), round_up(need * (1 + 1e-6) + 1e-6)):
        action = Action(name=ActionName.RELAX_CONSTRAINT, target=name, values=(amount,))
        if try_action(model, action).optimal:
            return action
    return None


def _violation(model: gp.Model, rows: list[gp.Constr], x: list[float]) -> float:
    need = 0.0
    for row in rows:
        expr = model.getRow(row)
        act = sum(expr.getCoeff(i) * x[expr.getVar(i).index] for i in range(expr.size()))
        if row.Sense == GRB.LESS_EQUAL:
            need = max(need, act - row.RHS)
        elif row.Sense == GRB.GREATER_EQUAL:
            need = max(need, row.RHS - act)
        else:
            need = max(need, abs(act - row.RHS))
    return need


def unbinding_relaxation(model: gp.Model, name: str) -> tuple[float, float] | None:
    """(amount, objective): the least RELAX_CONSTRAINT amount after which relaxing ``name`` further
    no longer improves the objective — the constraint stays in the model but stops cutting off the
    best solution the other constraints allow. None when dropping it would not leave the model
    OPTIMAL (then only the feasibility minimum makes sense)."""
    rows = rows_by_name(model).get(name, [])
    objective = model.getObjective()
    if not rows or not isinstance(objective, gp.LinExpr):
        return None
    dropped = model.copy()
    for row in rows_by_name(dropped)[name]:
        dropped.remove(row)
    free = solver.solve(dropped)
    if free.status != "OPTIMAL" or free.objective is None:
        return None
    copy = model.copy()
    copy_rows = rows_by_name(copy)[name]
    _require_objective(copy, free.objective)
    copy.update()
    copy.feasRelax(0, False, None, None, None, copy_rows, [1.0] * len(copy_rows))
    result = solver.solve(copy)
    if result.status != "OPTIMAL":
        return None
    x = [v.X for v in copy.getVars()[: model.NumVars]]
    return _violation(model, rows_by_name(model)[name], x), free.objective


def unbinding_bound(model: gp.Model, name: str, lb: float, ub: float) -> tuple[float, float, float] | None:
    """(lb, ub, objective): the bound that moved to (lb, ub) moved on until moving it further no
    longer improves the objective; None when freeing that bound would not leave the model OPTIMAL."""
    orig = model.getVarByName(name)
    objective = model.getObjective()
    if orig is None or not isinstance(objective, gp.LinExpr):
        return None
    moving_lb = lb < orig.LB
    free_model = model.copy()
    var = free_model.getVarByName(name)
    if moving_lb:
        var.LB = -GRB.INFINITY
    else:
        var.UB = GRB.INFINITY
    free = solver.solve(free_model)
    if free.status != "OPTIMAL" or free.objective is None:
        return None
    copy = model.copy()
    _require_objective(copy, free.objective)
    cvar = copy.getVarByName(name)
    copy.update()
    copy.feasRelax(
        0,
        False,
        [cvar],
        [1.0 if moving_lb else GRB.INFINITY],
        [GRB.INFINITY if moving_lb else 1.0],
        None,
        None,
    )
    result = solver.solve(copy)
    if result.status != "OPTIMAL":
        return None
    value = cvar.X
    if moving_lb:
        return _round_out(min(value, lb), up=False), ub, free.objective
    return lb, _round_out(max(value, ub), up=True), free.objective


def _require_objective(model: gp.Model, objective: float) -> None:
    """Constrain ``model`` to reach ``objective`` (within 1e-7 relative): what feasRelax must then buy."""
    goal = model.getObjective()
    tol = 1e-7 * max(1.0, abs(objective))
    if model.ModelSense == GRB.MINIMIZE:
        model.addLConstr(goal, GRB.LESS_EQUAL, objective + tol, name="__objective_goal")
    else:
        model.addLConstr(goal, GRB.GREATER_EQUAL, objective - tol, name="__objective_goal")


def relaxation_reaching(model: gp.Model, names: list[str], objective: float | None) -> list[Action]:
    """RELAX_CONSTRAINT actions on ``names`` only, by the least amounts that together reach
    ``objective`` when possible (else the least amounts that restore feasibility); [] when
    relaxing those constraints cannot repair the model."""
    rows = rows_by_name(model)
    names = [n for n in names if n in rows]
    if not names:
        return []
    for with_goal in (True, False) if objective is not None else (False,):
        copy = model.copy()
        if with_goal:
            if not isinstance(copy.getObjective(), gp.LinExpr):
                continue
            _require_objective(copy, objective)
            copy.update()
        crow = rows_by_name(copy)
        relax_rows = [r for n in names for r in crow[n]]
        copy.feasRelax(0, not with_goal, None, None, None, relax_rows, [1.0] * len(relax_rows))
        result = solver.solve(copy)
        if result.status != "OPTIMAL":
            continue
        x = [v.X for v in copy.getVars()[: model.NumVars]]
        actions = []
        for n in names:
            need = _violation(model, rows[n], x)
            if need > 1e-9:
                actions.append(Action(name=ActionName.RELAX_CONSTRAINT, target=n, values=(round_up(need),)))
        if actions:
            return actions
    return []


def try_actions(model: gp.Model, actions: list[Action]) -> Outcome:
    """Status and objective of ``model`` with every one of ``actions`` applied (on a copy)."""
    copy = model.copy()
    for action in actions:
        apply_action(copy, action)
    result = solver.solve(copy)
    return Outcome(result.status, result.objective)
