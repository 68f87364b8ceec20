"""What-if answers: solver facts about candidate repairs, computed on copies and shown as text.

The what-if actions (``WHATIF_RELAX``, ``WHATIF_DROP``, ``WHATIF_IIS``; see ``ordebug.actions``
and docs/actions.md) never change the episode's model. They exist so that a number an agent
needs from the solver (how far a constraint must move, what objective a repair leaves) is
*observable*: the environment prints it in the next observation, and a trained model learns to
ask the same question instead of inventing the number.

Every amount is printed as the exact action that realises it (``RELAX_CONSTRAINT(c, 8.20229)``,
canonical text), so an agent copies the action from the screen; objectives use ``fmt_num``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import gurobipy as gp

from ordebug.actions import Action, ActionName
from ordebug.observation import fmt_num
from ordebug.oracle import minimal_repair
from ordebug.probe import (
    SENSE_TEXT,
    min_bound_change,
    min_constraint_relaxation,
    relax_amount,
    rows_by_name,
    try_action,
    unbinding_bound,
    unbinding_relaxation,
)

#: WHATIF_IIS answers for at most this many IIS members (why: one step must stay short to read).
MAX_WHATIF_MEMBERS = 20
#: How WHATIF_IIS introduces a combined repair (agents read the plan back from this line).
PLAN_HEAD = "Least combined repair (fewest constraints, then least change): "


def percent_text(relative: float) -> str:
    """A relative size as the observation prints it: 3 significant digits, never in exponent form
    (``1e+03%`` reads as a formula, not an amount a student can quote)."""
    return f"{Decimal(f'{100 * relative:.3g}'):f}%"  # 3 digits, then positional: 1e+03 -> 1000


@dataclass(frozen=True)
class SingleFix:
    """The least change of one element that alone makes the model OPTIMAL, and how far to go.

    ``least`` is the least such action (amount rounded up to 6 significant digits and
    verified); ``wider`` (or None) moves the element on until moving it further no longer
    improves the objective, verified OPTIMAL. ``need`` is the unrounded least move and
    ``scale`` what it is compared with (max(1, |rhs|) or max(1, |bound|)).
    """

    kind: Literal["relax", "bound"]
    target: str
    least: Action
    least_objective: float | None
    need: float
    scale: float
    wider: Action | None = None
    wider_objective: float | None = None
    order: int = 0
    current: str = ""  # the element as it is now: '>= 25.9609' or '[0, 10]'

    @property
    def relative(self) -> float:
        return self.need / self.scale

    @property
    def action(self) -> Action:
        """The change an agent that keeps the objective would apply: wider when there is one."""
        return self.wider if self.wider is not None else self.least

    @property
    def objective(self) -> float | None:
        return self.wider_objective if self.wider is not None else self.least_objective

    def percent(self) -> str:
        """The relative size as printed (and as an agent may quote it)."""
        return percent_text(self.relative)

    def text(self) -> str:
        """One what-if line: the least action, its objective, and the wider action when there is one."""
        what = "rhs" if self.kind == "relax" else "bound"
        line = (
            f"{self.target} ({self.current}): {self.least} restores feasibility "
            f"({self.percent()} of its {what}), objective {_obj(self.least_objective)}"
        )
        if self.wider is not None:
            line += f"; {self.wider} no longer limits the objective: {_obj(self.wider_objective)}"
        return line


def _obj(value: float | None) -> str:
    return "none" if value is None else fmt_num(value)


def constraint_fix(model: gp.Model, name: str, order: int = 0) -> SingleFix | None:
    """The least RELAX_CONSTRAINT of ``name`` alone that makes ``model`` OPTIMAL (None: it cannot)."""
    rows = rows_by_name(model).get(name)
    if not rows:
        return None
    need = min_constraint_relaxation(model, name)
    if need is None:
        return None
    least = relax_amount(model, name, need)
    if least is None:
        return None
    least_objective = try_action(model, least).objective
    wider = wider_objective = None
    free = unbinding_relaxation(model, name)
    if free is not None and free[0] > need * (1 + 1e-6):
        candidate = relax_amount(model, name, free[0])
        outcome = try_action(model, candidate) if candidate is not None else None
        if outcome is not None and outcome.optimal and candidate != least:
            wider, wider_objective = candidate, outcome.objective
    current = f"{SENSE_TEXT[rows[0].Sense]} {fmt_num(rows[0].RHS)}" if len(rows) == 1 else "a range"
    scale = max(1.0, max(abs(r.RHS) for r in rows))
    return SingleFix("relax", name, least, least_objective, need, scale, wider, wider_objective, order, current)


def bound_fix(model: gp.Model, name: str, order: int = 0) -> SingleFix | None:
    """The least UPDATE_BOUNDS of variable ``name`` alone that makes ``model`` OPTIMAL (None: it cannot)."""
    var = model.getVarByName(name)
    change = min_bound_change(model, name) if var is not None else None
    if change is None or change[0] > change[1]:  # e.g. a binary whose [0, 1] box no single move fixes
        return None
    lb, ub = change
    least = Action(name=ActionName.UPDATE_BOUNDS, target=name, values=(lb, ub))
    outcome = try_action(model, least)
    if not outcome.optimal:
        return None
    need = max(var.LB - lb, ub - var.UB, 0.0)
    scale = max(1.0, abs(var.LB if lb != var.LB else var.UB))
    wider = wider_objective = None
    free = unbinding_bound(model, name, lb, ub)
    if free is not None and (free[0], free[1]) != (lb, ub):
        candidate = Action(name=ActionName.UPDATE_BOUNDS, target=name, values=(free[0], free[1]))
        wider_outcome = try_action(model, candidate)
        if wider_outcome.optimal:
            wider, wider_objective = candidate, wider_outcome.objective
    current = f"[{fmt_num(var.LB)}, {fmt_num(var.UB)}]"
    return SingleFix("bound", name, least, outcome.objective, need, scale, wider, wider_objective, order, current)


def iis_fixes(
    model: gp.Model, constraints: list[str], bounds: list[str], limit: int = MAX_WHATIF_MEMBERS
) -> list[SingleFix]:
    """The single fixes of the first ``limit`` IIS members (constraints, then bounds)."""
    members = [("c", n) for n in constraints] + [("b", n) for n in bounds]
    out = []
    for order, (kind, name) in enumerate(members[:limit]):
        fix = constraint_fix(model, name, order) if kind == "c" else bound_fix(model, name, order)
        if fix is not None:
            out.append(fix)
    return out


def combined_repair(model: gp.Model) -> list[Action]:
    """The minimal multi-element repair (ordebug.oracle.minimal_repair: fewest constraints, then
    least violation; bounds only when constraints alone cannot), as actions; [] when none exists."""
    return minimal_repair(model, include_bounds=False).actions()


# ------------------------------------------------------------------------------------------------
# the three answers


def answer_relax(model: gp.Model, name: str, *, is_constraint: bool) -> str:
    """WHATIF_RELAX(name): the least single change of ``name`` that restores feasibility."""
    fix = constraint_fix(model, name) if is_constraint else bound_fix(model, name)
    if fix is None:
        what = "relaxing" if is_constraint else "moving the bounds of"
        return f"What-if (model unchanged): {what} {name} alone cannot make the model OPTIMAL."
    return f"What-if (model unchanged): {fix.text()}."


def answer_drop(model: gp.Model, name: str) -> str:
    """WHATIF_DROP(name): status and objective of the model without constraint ``name``."""
    outcome = try_action(model, Action(name=ActionName.DROP_CONSTRAINT, target=name))
    obj = f", objective {fmt_num(outcome.objective)}" if outcome.objective is not None else ""
    return f"What-if (model unchanged): without {name} the model is {outcome.status}{obj}."


def answer_iis(model: gp.Model, constraints: list[str], bounds: list[str]) -> str:
    """WHATIF_IIS(): WHATIF_RELAX for each IIS member, and the combined repair when none suffices alone."""
    n = len(constraints) + len(bounds)
    fixes = iis_fixes(model, constraints, bounds)
    shown = min(n, MAX_WHATIF_MEMBERS)
    head = f"What-if for each IIS member alone (model unchanged; {shown} of {n} members checked):"
    lines = [head] + [f"- {fix.text()}" for fix in fixes]
    if fixes:
        alone = {f.target for f in fixes}
        rest = [m for m in (constraints + bounds)[:MAX_WHATIF_MEMBERS] if m not in alone]
        if rest:
            lines.append(f"- cannot restore feasibility alone: {', '.join(rest)}")
        return "\n".join(lines)
    lines.append("- no member restores feasibility alone")
    plan = combined_repair(model)
    if plan:
        lines.append(PLAN_HEAD + "; ".join(map(str, plan)))
    else:
        lines.append("No combination of constraint relaxations restores feasibility.")
    return "\n".join(lines)
