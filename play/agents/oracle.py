"""The oracle agent: a privileged teacher that knows the ground truth and repairs exactly.

It reads what the problem's metadata says went wrong (``ground_truth.repair`` edits of generated
sets; ``target_name`` and the ``ground_truth_fix`` text of OR-Debug-Bench's sets) and the original
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

With the what-if actions offered (``ctx.whatif``, the default for new data) every number it writes
is on the student's screen: it still *chooses* the element with the ground truth, but before
changing it asks ``WHATIF_RELAX(element)`` and then applies whichever of the two repairs the answer
shows (the least one, or the one that no longer limits the objective) preserves the objective
best. An exact inverse that needs a hidden number (``UPDATE_RHS`` to the original rhs) is replaced
that way; a ``DROP_CONSTRAINT`` needs no number and is kept. When the element is not on screen or
cannot repair the model alone, it falls back to the heuristic's grounded WHATIF_IIS flow.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import gurobipy as gp
from gurobipy import GRB

from ordebug import solver
from ordebug.actions import Action, ActionName, parse_action
from ordebug.edits import parse_edits
from ordebug.errors import OrDebugError
from ordebug.metrics import objective_preservation
from ordebug.observation import MAX_IIS_ITEMS, MAX_NAMES, fmt_num
from ordebug.oracle import minimal_repair
from ordebug.probe import apply_action, relaxation_reaching, rows_by_name
from ordebug.problems import Problem
from ordebug.whatif import SingleFix, bound_fix, constraint_fix, iis_fixes
from play.agents.base import AgentTurn, DecisionContext
from play.agents.heuristic import ASK, HeuristicAgent, iis_text, pending_plan

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
    """Plans read from OR-Debug-Bench's ground-truth text and targets (their benchmark sets)."""
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
    (else the least amounts that restore feasibility)."""
    return relaxation_reaching(model, names, z0)


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
        if ctx.whatif:
            return self._grounded(ctx, model, action, n_original)
        if state.diagnostics is not None:
            return self._from_diagnostics(ctx, model, best.plan, n_original)
        return AgentTurn.scripted(_reasoning(ctx, model, action, len(best.plan.actions) - 1), action)

    def _from_diagnostics(self, ctx: DecisionContext, model: gp.Model, plan: Plan, n_original: int) -> AgentTurn:
        """Of the repairs the diagnostics section shows (each single change, the amounts in between
        its least and wider relaxation, each combined repair),
        and the ground truth's removals when they need no number, the one that preserves the
        objective best (then touches the ground-truth element, keeps the most constraints, takes
        the fewest steps); its first action now, written from the screen."""
        state, target = ctx.state, plan.actions[0].target or ""
        diag = state.diagnostics
        options: list[tuple[str, list[Action], float | None]] = []
        for fix in diag.fixes:
            options.append((f"single:{fix.target}:least", [parse_action(fix.least)], fix.least_objective))
            if fix.wider is not None:
                options.append((f"single:{fix.target}:wider", [parse_action(fix.wider)], fix.wider_objective))
            for point in fix.between:
                relax = Action(name=ActionName.RELAX_CONSTRAINT, target=fix.target, values=(point.amount,))
                options.append((f"single:{fix.target}:between", [relax], point.objective))
        for combined in diag.combined:
            options.append((f"combined:{combined.kind}", [parse_action(a) for a in combined.actions], combined.objective))
        drops = plan.actions
        if drops and all(a.name is ActionName.DROP_CONSTRAINT and _visible(ctx, a.target) for a in drops):
            options.append(("drop", list(drops), None))
        z0 = ctx.problem.original_objective
        scored = []
        for label, actions, objective in options:
            s = _score(model, Plan(label, actions), z0, n_original)
            if s is not None:
                touches = any(a.target == target for a in actions)
                scored.append(((s.optimal, round(s.op, 4), touches, round(s.fp, 9), -len(actions)), label, actions, objective))
        if not scored:
            return HeuristicAgent().diagnostics_turn(ctx, iis_text(state.iis_constraints, state.iis_bounds))
        _, label, actions, objective = max(scored, key=lambda t: t[0])
        first = actions[0]
        if label == "drop":
            return AgentTurn.scripted(_reasoning(ctx, model, first, len(actions) - 1), first)
        name = first.target or ""
        lines = [_iis_line(ctx)]
        if label.startswith("single"):
            lines.append(f"{name}{_algebra(ctx, name)} {_where(ctx, name)}.")
            if label.endswith("least"):
                lines.append(
                    f"The diagnostics show that {first} restores feasibility with objective {_obj(objective)}; "
                    f"I apply it: it moves {name} only as far as the conflict requires."
                )
            elif label.endswith("between"):
                lines.append(
                    f"The diagnostics show the objective between the least and the widest relaxation of {name}: "
                    f"{first} leaves {_obj(objective)}. I apply it: {name} moves past the conflict but keeps "
                    "limiting the model, no further than the objective calls for."
                )
            else:
                lines.append(
                    f"The diagnostics show that with {first} {name} no longer limits the objective "
                    f"({_obj(objective)}); I apply it: {name} stays in the model without cutting off the best solution."
                )
        else:
            lines.append(
                f"No IIS member restores feasibility alone. The diagnostics show the combined repair "
                f"{'; '.join(map(str, actions))} with objective {_obj(objective)}, which keeps every constraint; "
                f"I start it with {first}, and the diagnostics are recomputed after this change."
            )
        return AgentTurn.scripted("\n".join(lines), first)

    def _grounded(self, ctx: DecisionContext, model: gp.Model, action: Action, n_original: int) -> AgentTurn:
        """Act on the privileged choice with numbers the observation shows (see the module doc)."""
        state, target = ctx.state, action.target or ""
        if action.name is ActionName.DROP_CONSTRAINT and _visible(ctx, target):
            return AgentTurn.scripted(_reasoning(ctx, model, action, 0), action)
        heuristic = HeuristicAgent()
        conflict = iis_text(state.iis_constraints, state.iis_bounds)
        recent = _answers_on_this_model(ctx)
        if pending_plan(ctx) is not None or str(ASK) not in recent:
            return heuristic.grounded_turn(ctx, conflict)  # first question: WHATIF_IIS (or a shown plan goes on)
        members = (state.iis_constraints + state.iis_bounds)[:MAX_IIS_ITEMS]
        ask = str(_ask(target))
        if target not in members and _visible(ctx, target) and ask not in recent:
            reasoning = (
                f"{conflict}\n{target}{_algebra(ctx, target)} {_where(ctx, target)}. I also ask the solver "
                f"how far {target} must move to restore feasibility and what objective that leaves."
            )
            return AgentTurn.scripted(reasoning, _ask(target))
        fixes = [f for f in iis_fixes(model, state.iis_constraints, state.iis_bounds) if f.text() in recent[str(ASK)]]
        if ask in recent:
            fix = (constraint_fix if target in rows_by_name(model) else bound_fix)(model, target)
            if fix is not None and fix.text() in recent[ask]:
                fixes.append(fix)
        if not fixes:  # no single change works: the heuristic acts on the combined repair shown
            return heuristic.grounded_turn(ctx, conflict)
        return self._apply_shown(ctx, model, fixes, n_original, target)

    def _apply_shown(
        self, ctx: DecisionContext, model: gp.Model, fixes: list[SingleFix], n_original: int, target: str
    ) -> AgentTurn:
        """Of the repairs the what-if answers show, the one that preserves the objective best
        (then the ground-truth element, then the most constraints kept)."""
        z0 = ctx.problem.original_objective
        options = [(f, a) for f in fixes for a in ([f.least] + ([f.wider] if f.wider is not None else []))]
        scored = [
            ((s.optimal, round(s.op, 4), f.target == target, s.fp), f, a)
            for f, a in options
            if (s := _score(model, Plan("shown", [a]), z0, n_original))
        ]
        _, fix, chosen = max(scored, key=lambda t: t[0]) if scored else (None, fixes[0], fixes[0].least)
        target = fix.target
        objective = fix.least_objective if chosen == fix.least else fix.wider_objective
        lines = [f"{target}{_algebra(ctx, target)} {_where(ctx, target)}."]
        if chosen == fix.least:
            lines.append(
                f"The what-if answer shows that {chosen} restores feasibility with objective {_obj(objective)}; "
                f"I apply it: it moves {target} only as far as the conflict requires."
            )
        else:
            lines.append(
                f"The what-if answer shows that with {chosen} {target} no longer limits the objective "
                f"({_obj(objective)}); I apply it: {target} stays in the model without cutting off the best solution."
            )
        return AgentTurn.scripted("\n".join(lines), chosen)


def _answers_on_this_model(ctx: DecisionContext) -> dict[str, str]:
    """What-if answers given since the last model change (action text -> result): they describe
    the current model, so their numbers may be used now."""
    out: dict[str, str] = {}
    for entry in reversed(ctx.state.history):
        if not entry.valid:
            continue
        if parse_action(entry.action).changes_model:
            break
        out.setdefault(entry.action, entry.result)
    return out


def _ask(target: str) -> Action:
    return Action(name=ActionName.WHATIF_RELAX, target=target)


def _visible(ctx: DecisionContext, name: str) -> bool:
    """Whether the observation names ``name`` (the rich layout's capped IIS and name lists)."""
    s = ctx.state
    return name in s.iis_constraints[:MAX_IIS_ITEMS] + s.iis_bounds[:MAX_IIS_ITEMS] + s.constraint_names[:MAX_NAMES]


def _where(ctx: DecisionContext, target: str) -> str:
    if target in ctx.state.iis_constraints or target in ctx.state.iis_bounds:
        return "is part of this conflict"
    return "is not in the IIS, but it feeds the conflict through the variables it shares with the IIS members"


def _obj(value: float | None) -> str:
    return "none" if value is None else fmt_num(value)


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
