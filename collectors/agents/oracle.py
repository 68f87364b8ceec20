"""The oracle agent: a privileged teacher that knows the ground truth and repairs exactly.

It reads what the problem's metadata says went wrong (``ground_truth.repair`` edits of generated
sets; ``target_name`` and the ``ground_truth_fix`` text of the user's sets) and the original
objective, and builds candidate repair plans from them, each checked on a copy of the working
model:

* the exact inverse where an action expresses it: a removed-by-injection constraint ->
  ``DROP_CONSTRAINT``; a changed rhs -> ``UPDATE_RHS``; changed bounds -> ``UPDATE_BOUNDS``;
* where no action expresses it (a flipped sense, a changed coefficient, a changed variable
  type): the targeted constraints relaxed by just the amounts that give back the original
  objective (feasRelax restricted to the targets, with the objective held at its original value);
* the feasRelax minimal repair of the whole model (ordebug.oracle) as a last resort.

The plan that ends OPTIMAL with the best objective preservation, then the most constraints
kept, then the fewest steps, is followed one action per step (recomputed each step from the
working model, so the agent stays stateless). Its ``<think>`` text is written from what the
observation shows — the status, the IIS, the element acted on — never from the ground truth.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import gurobipy as gp
from gurobipy import GRB

from collectors.agents.base import AgentTurn, DecisionContext
from collectors.agents.probe import apply_action, rows_by_name
from ordebug import solver
from ordebug.actions import Action, ActionName
from ordebug.edits import parse_edits
from ordebug.errors import OrDebugError
from ordebug.metrics import objective_preservation
from ordebug.observation import fmt_num
from ordebug.oracle import minimal_repair, round_up
from ordebug.problems import Problem

_RESTORE_BOUND = re.compile(r"Restore\s+([\w\[\],.]+?)\.(LB|UB)\s*=\s*([-+0-9.eE]+)")
_CORRECT_RHS = re.compile(r"CORRECT:\s*RELAX\s+(\S+)\s+to\s+RHS\s*=\s*([-+0-9.eE]+)")
_NAME = re.compile(r"[A-Za-z_][\w\[\],.:]*")


@dataclass
class Plan:
    source: str
    actions: list[Action]


@dataclass
class Scored:
    plan: Plan
    optimal: bool
    op: float
    fp: float

    def key(self) -> tuple[bool, float, float, int]:
        return (self.optimal, round(self.op, 6), round(self.fp, 9), -len(self.plan.actions))


def _edit_plans(model: gp.Model, problem: Problem) -> list[Plan]:
    """Exact inverses of structured ground-truth edits (generated sets)."""
    gt = problem.metadata.get("ground_truth")
    raw = gt.get("repair") if isinstance(gt, dict) else None
    if not raw:
        return []
    try:
        edits = parse_edits(raw, where=problem.problem_id)
    except OrDebugError:
        return []
    rows = rows_by_name(model)
    exact: list[Action] = []
    inexpressible: list[str] = []
    for e in edits:
        op = e.op
        if op == "remove_constraint" and e.constraint in rows:
            exact.append(Action(name=ActionName.DROP_CONSTRAINT, target=e.constraint))
        elif op == "set_rhs" and e.constraint in rows:
            if any(abs(r.RHS - e.rhs) > 1e-9 for r in rows[e.constraint]):
                exact.append(Action(name=ActionName.UPDATE_RHS, target=e.constraint, values=(e.rhs,)))
        elif op in ("set_bounds", "set_vtype"):
            var = model.getVarByName(e.variable)
            if var is None:
                continue
            lb = e.lb if e.lb is not None else var.LB
            ub = e.ub if e.ub is not None else var.UB
            if abs(lb - var.LB) > 1e-12 or abs(ub - var.UB) > 1e-12:
                exact.append(
                    Action(name=ActionName.UPDATE_BOUNDS, target=e.variable, values=(_inf(lb), _inf(ub)))
                )
        elif op in ("set_sense", "set_coef") and e.constraint in rows:
            inexpressible.append(e.constraint)
    plans = []
    if exact:
        plans.append(Plan("ground truth (exact)", exact))
    if inexpressible:
        targeted = _targeted_relaxation(model, inexpressible, problem.original_objective)
        if targeted:
            plans.append(Plan("ground truth (relaxed to the original objective)", exact + targeted))
    return plans


def _inf(x: float) -> float:
    return math.inf if x >= GRB.INFINITY else -math.inf if x <= -GRB.INFINITY else x


def _text_plans(model: gp.Model, problem: Problem) -> list[Plan]:
    """Plans read from the user's ground-truth text and targets (their benchmark sets)."""
    text = problem.ground_truth_fix or ""
    rows = rows_by_name(model)
    plans: list[Plan] = []
    bounds = []
    for name, which, value in _RESTORE_BOUND.findall(text):
        var = model.getVarByName(name)
        if var is not None:
            v = float(value) + 0.0
            lb, ub = (v, _inf(var.UB)) if which == "LB" else (_inf(var.LB), v)
            if lb <= ub:
                bounds.append(Action(name=ActionName.UPDATE_BOUNDS, target=name, values=(lb, ub)))
    if bounds:
        plans.append(Plan("ground truth (restore bounds)", bounds))
    rhs = [
        Action(name=ActionName.UPDATE_RHS, target=name, values=(float(value),))
        for name, value in _CORRECT_RHS.findall(text)
        if name in rows
    ]
    if rhs:
        plans.append(Plan("ground truth (restore rhs)", rhs))
    mentioned = list(dict.fromkeys(n.strip(".,'") for n in _NAME.findall(text) if n.strip(".,'") in rows))
    if "remove" in text.lower() and mentioned:
        plans.append(
            Plan(
                "ground truth (remove)",
                [Action(name=ActionName.DROP_CONSTRAINT, target=n) for n in mentioned],
            )
        )
    targets = [t for t in problem.target_names() if t in rows] or mentioned
    if targets:
        targeted = _targeted_relaxation(model, targets, problem.original_objective)
        if targeted:
            plans.append(Plan("ground truth targets (relaxed to the original objective)", targeted))
    return plans


def _targeted_relaxation(model: gp.Model, names: list[str], z0: float | None) -> list[Action]:
    """Relax only ``names``, by the least amounts that give back objective ``z0`` when possible
    (else the least amounts that restore feasibility, objective optimised among them)."""
    rows = rows_by_name(model)
    names = [n for n in names if n in rows]
    if not names:
        return []
    for with_goal in (True, False) if z0 is not None else (False,):
        copy = model.copy()
        crow = rows_by_name(copy)
        relax_rows = [r for n in names for r in crow[n]]
        if with_goal:
            tol = 1e-7 * max(1.0, abs(z0))
            goal = copy.getObjective()
            if not isinstance(goal, gp.LinExpr):
                continue
            sense = GRB.GREATER_EQUAL if copy.ModelSense == GRB.MAXIMIZE else GRB.LESS_EQUAL
            copy.addLConstr(goal, sense, z0 - tol if sense == GRB.GREATER_EQUAL else z0 + tol, name="__goal")
            copy.update()
        copy.feasRelax(0, not with_goal, None, None, None, relax_rows, [1.0] * len(relax_rows))
        result = solver.solve(copy)
        if result.status != "OPTIMAL":
            continue
        x = {v.VarName: v.X for v in copy.getVars()[: model.NumVars]}
        actions = []
        for n in names:
            need = 0.0
            for row in rows[n]:
                expr = model.getRow(row)
                act = sum(expr.getCoeff(i) * x[expr.getVar(i).VarName] for i in range(expr.size()))
                d = (
                    act - row.RHS
                    if row.Sense == GRB.LESS_EQUAL
                    else row.RHS - act
                    if row.Sense == GRB.GREATER_EQUAL
                    else abs(act - row.RHS)
                )
                need = max(need, d)
            if need > 1e-9:
                actions.append(Action(name=ActionName.RELAX_CONSTRAINT, target=n, values=(round_up(need),)))
        if actions:
            return actions
    return []


def _score(model: gp.Model, plan: Plan, z0: float | None, n_original: int) -> Scored | None:
    copy = model.copy()
    try:
        for action in plan.actions:
            apply_action(copy, action)
    except (KeyError, ValueError, gp.GurobiError):
        return None
    result = solver.solve(copy)
    optimal = result.status == "OPTIMAL"
    op = objective_preservation(result.objective if optimal else None, z0)
    kept = len(rows_by_name(copy))
    return Scored(plan, optimal, op if op is not None else 0.0, kept / max(1, n_original))


class OracleAgent:
    """See the module docstring. Privileged: reads ``ctx.problem``'s ground truth."""

    name = "oracle"

    def config(self) -> dict[str, Any]:
        return {"policy": "exact inverse of the ground truth where actions allow, else relax targets to Z0"}

    def plans(self, model: gp.Model, problem: Problem) -> list[Plan]:
        plans = _edit_plans(model, problem) + _text_plans(model, problem)
        repair = minimal_repair(model)
        if repair.changes:
            plans.append(Plan("minimal repair", repair.actions()))
        return plans

    def best_plan(self, model: gp.Model, problem: Problem, n_original: int) -> Scored | None:
        scored = [
            s
            for p in self.plans(model, problem)
            if p.actions
            for s in [_score(model, p, problem.original_objective, n_original)]
            if s
        ]
        return max(scored, key=Scored.key) if scored else None

    def decide(self, ctx: DecisionContext) -> AgentTurn:
        state = ctx.state
        if state.status == "OPTIMAL":
            obj = f" (objective {fmt_num(state.objective)})" if state.objective is not None else ""
            return AgentTurn.scripted(
                f"The model is OPTIMAL{obj}: the conflict is resolved, so I submit the repaired model.",
                Action(name=ActionName.SUBMIT),
            )
        model = ctx.current_model()
        n_original = ctx.problem.n_constraints or len(rows_by_name(model))
        best = self.best_plan(model, ctx.problem, n_original) if state.status == "INFEASIBLE" else None
        if best is None or not best.plan.actions:
            if state.status == "INFEASIBLE" and not state.iis_constraints and not state.iis_bounds:
                return AgentTurn.scripted(
                    "No IIS is shown yet; I compute it first.", Action(name=ActionName.GET_IIS)
                )
            return AgentTurn.scripted(
                f"The status is {state.status} and no change I can make repairs it, so I submit.",
                Action(name=ActionName.SUBMIT),
            )
        action = best.plan.actions[0]
        return AgentTurn.scripted(_reasoning(ctx, model, action, len(best.plan.actions) - 1), action)


def _iis_line(ctx: DecisionContext) -> str:
    s = ctx.state
    parts = []
    if s.iis_constraints:
        parts.append(
            f"constraints {', '.join(s.iis_constraints[:12])}{' …' if len(s.iis_constraints) > 12 else ''}"
        )
    if s.iis_bounds:
        parts.append(f"the bounds of {', '.join(s.iis_bounds[:12])}{' …' if len(s.iis_bounds) > 12 else ''}")
    return f"The model is INFEASIBLE and the IIS holds {' and '.join(parts) or 'nothing yet'}."


def _algebra(ctx: DecisionContext, name: str) -> str:
    if ctx.layout != "rich":
        return ""
    for line in ctx.state.iis_details + ctx.state.bounds:
        if line.startswith(f"{name}:"):
            return f" ({line})"
    return ""


def _reasoning(ctx: DecisionContext, model: gp.Model, action: Action, remaining: int) -> str:
    target = action.target or ""
    in_iis = target in ctx.state.iis_constraints or target in ctx.state.iis_bounds
    where = (
        "is part of this conflict"
        if in_iis
        else "is not in the IIS, but it feeds the conflict through the variables it shares with the IIS members"
    )
    lines = [_iis_line(ctx), f"{target}{_algebra(ctx, target)} {where}."]
    if action.name is ActionName.DROP_CONSTRAINT:
        lines.append(
            f"{target} is a requirement that cannot hold together with the others; removing it resolves the conflict it causes."
        )
    elif action.name is ActionName.RELAX_CONSTRAINT:
        lines.append(
            f"Loosening {target} by {fmt_num(action.amount)} makes room for a feasible solution while the constraint "
            "stays in the model; a larger change would give away more than the conflict requires."
        )
    elif action.name is ActionName.UPDATE_RHS:
        lines.append(
            f"Its right-hand side is what conflicts; setting it to {fmt_num(action.value)} removes the conflict and keeps the constraint."
        )
    elif action.name is ActionName.UPDATE_BOUNDS:
        lb, ub = action.values
        var = model.getVarByName(target)
        now = f"[{fmt_num(var.LB)}, {fmt_num(var.UB)}]" if var is not None else "its bounds"
        lines.append(
            f"Its bounds {now} are too tight for the constraints it appears in; setting them to [{fmt_num(lb)}, {fmt_num(ub)}] resolves that."
        )
    if remaining:
        lines.append(
            "The conflict involves more than this one element, so I expect another step after the IIS is recomputed."
        )
    return "\n".join(lines)
