"""The diagnostics section: solver evidence about candidate repairs, shown without spending a step.

While the model is infeasible the environment (``ordebug.episode.DebugEnv``, rich layout)
computes, on copies of the working model:

* for each IIS member (the first ``MAX_MEMBERS``), the least single change that alone makes
  the model OPTIMAL, printed as the exact benchmark action that realises it
  (``RELAX_CONSTRAINT(c, 8.20229)`` or ``UPDATE_BOUNDS(x, lb, ub)``), its size relative to the
  element, the objective it leaves and, where it applies, the action from which the element no
  longer limits the objective (and that objective);
* when no member suffices alone, the least combined repair (``ordebug.oracle.minimal_repair``:
  fewest constraints, then least change) and the same constraints relaxed until they no longer
  limit the objective, each as a list of actions with the objective it leaves.

So an agent that writes only from the screen can pick a repair that keeps the objective, and
its first step can be that repair. Evidence that would exceed the licence's size limit or the
time budget is replaced by one line saying so; the episode goes on without it.
"""

from __future__ import annotations

import time

import gurobipy as gp

from ordebug import solver
from ordebug.actions import Action, ActionName, parse_action
from ordebug.errors import OrDebugError
from ordebug.observation import CombinedRepair, DiagnosticFix, Diagnostics, SweepPoint
from ordebug.oracle import minimal_repair
from ordebug.probe import relaxation_reaching, rows_by_name, try_action, try_actions
from ordebug.whatif import SingleFix, bound_fix, constraint_fix, percent_text

#: Members whose single change is computed (why: the section must stay short enough to read).
MAX_MEMBERS = 20
#: IIS constraints for which the combined repair that starts from them is shown (why: each costs
#: a few solves, and the section must stay short).
MAX_STARTS = 8
#: Constraints whose objective between the least and the wider relaxation is shown, and at how
#: many amounts (why: enough to stop near the right amount, few enough to read).
MAX_SWEEPS = 5
SWEEP_POINTS = 4
#: Below this relative objective change between least and wider there is nothing to sweep.
SWEEP_MIN_GAIN = 0.01
#: Seconds of solver work per observation before the section stops and says so.
TIME_LIMIT_S = 20.0


def as_shown(fix: SingleFix) -> DiagnosticFix:
    """A whatif.SingleFix as the observation stores (and prints) it."""
    return DiagnosticFix(
        target=fix.target, kind=fix.kind, current=fix.current, least=str(fix.least),
        least_objective=fix.least_objective, percent=fix.percent(), relative=fix.relative,
        wider=str(fix.wider) if fix.wider is not None else None, wider_objective=fix.wider_objective,
        order=fix.order,
    )  # fmt: skip


def sweep(model: gp.Model, fix: DiagnosticFix, points: int = SWEEP_POINTS) -> list[SweepPoint]:
    """The objective at ``points`` amounts evenly between the least and the wider relaxation of
    ``fix``'s constraint (4 significant digits; each verified OPTIMAL, else left out). Why: when the
    right amount lies between the two (a requirement tightened past what the model allows, whose
    original value is not on screen), the objectives along the way show how much each amount
    gives back, so a repair can stop where it keeps the objective instead of at either end."""
    least, wider = parse_action(fix.least).amount, parse_action(fix.wider).amount
    if not (fix.least_objective is not None and fix.wider_objective is not None):
        return []
    if abs(fix.wider_objective - fix.least_objective) <= SWEEP_MIN_GAIN * max(1.0, abs(fix.least_objective)):
        return []  # why: the objective hardly moves between them, nothing to choose
    out = []
    for k in range(1, points + 1):
        amount = float(f"{least + (wider - least) * k / (points + 1):.4g}")
        if not least < amount < wider:
            continue
        action = Action(name=ActionName.RELAX_CONSTRAINT, target=fix.target, values=(amount,))
        outcome = try_action(model, action)
        if outcome.optimal:
            out.append(SweepPoint(amount=amount, objective=outcome.objective))
    return out


def _fits_licence(model: gp.Model, extra_vars: int, extra_constrs: int) -> bool:
    limit = solver.size_limit()
    return limit is None or (model.NumVars + extra_vars <= limit and model.NumConstrs + extra_constrs <= limit)


def compute(
    model: gp.Model,
    constraints: list[str],
    bounds: list[str],
    *,
    time_limit: float = TIME_LIMIT_S,
    max_members: int = MAX_MEMBERS,
) -> Diagnostics:
    """The diagnostics of ``model`` with IIS ``constraints`` + ``bounds`` (``model`` is not changed)."""
    model.update()
    members = len(constraints) + len(bounds)
    # a single member's probes add at most 2 variables per row and one objective row; the
    # combined repair relaxes every row (and bound) at once: feasRelax copies count too
    if not _fits_licence(model, 4, 2):
        return Diagnostics(members=members, note=_skipped("the licence's size limit", members))
    deadline = time.monotonic() + time_limit
    fixes: list[SingleFix] = []
    checked = 0
    note = None
    try:
        for kind, names in (("c", constraints), ("b", bounds)):
            for name in names:
                if checked >= max_members:
                    break
                if time.monotonic() > deadline:
                    note = f"Diagnostics stopped at the time limit ({time_limit:g} s) after {checked} of {members} members."
                    break
                fix = (constraint_fix if kind == "c" else bound_fix)(model, name, checked)
                if fix is not None:
                    fixes.append(fix)
                checked += 1
    except (gp.GurobiError, OrDebugError):
        return Diagnostics(members=members, note=_skipped("the licence's size limit or a solver error", members))
    shown_fixes = [as_shown(f) for f in fixes]
    for fix in [f for f in shown_fixes if f.kind == "relax" and f.wider is not None][:MAX_SWEEPS]:
        if time.monotonic() > deadline:
            break
        try:
            fix.between = sweep(model, fix)
        except (gp.GurobiError, OrDebugError):
            break
    fixed = {f.target for f in fixes}
    shown = (constraints + bounds)[:checked]
    diag = Diagnostics(
        checked=checked, members=members, fixes=shown_fixes,
        no_single=[m for m in shown if m not in fixed], note=note,
    )  # fmt: skip
    if fixes or note is not None:
        return diag
    if not _fits_licence(model, 2 * (model.NumConstrs + model.NumVars), 2):
        diag.note = "No combined repair shown: computing it would exceed the licence's size limit."
        return diag
    try:
        diag.combined = combined_repairs(model, constraints[:max_members], deadline=deadline)
    except (gp.GurobiError, OrDebugError):
        diag.note = "No combined repair shown: the solver could not compute it (licence or solver error)."
    if not diag.combined and diag.note is None:
        diag.note = "No combination of constraint relaxations restores feasibility."
    return diag


def combined_repairs(
    model: gp.Model, iis_constraints: list[str], *, deadline: float | None = None, max_starts: int = MAX_STARTS
) -> list[CombinedRepair]:
    """The least combined repair; the same constraints relaxed until they no longer limit the
    objective (the objective the model has without them); and the IIS constraints relaxed together
    that far (why: when the conflict is between the IIS members themselves, e.g. an upper and a
    lower limit on one expression, that repair keeps the objective). Then, for each of the first
    ``max_starts`` IIS constraints, the repair that starts from it (see ``_starting_from``). Each
    verified OPTIMAL; identical plans are shown once."""
    least = minimal_repair(model, include_bounds=False)
    if not least.changes:
        return []
    actions = least.actions()
    out = [_shown(model, "least", actions, least.objective)]
    names = [a.target for a in actions if a.target in rows_by_name(model)]
    for kind, group in (("free", names), ("iis", iis_constraints)):
        free = _freed(model, group)
        if free is not None and all(free.actions != c.actions for c in out):
            out.append(free.model_copy(update={"kind": kind}))
    for name in iis_constraints[:max_starts]:
        if deadline is not None and time.monotonic() > deadline:
            break
        start = _starting_from(model, name)
        if start is not None and all(start.actions != c.actions for c in out):
            out.append(start)
    return out


def _starting_from(model: gp.Model, name: str) -> CombinedRepair | None:
    """IIS constraint ``name`` together with the least other constraints the model still needs
    changed once ``name`` no longer binds (fewest, then least change, as ``minimal_repair``), all
    relaxed until they no longer limit the objective. Why: when conflicts cascade, the least
    combined repair may change an ordinary requirement of the model instead of the element that
    caused the first conflict; this shows, per member, the repair that treats it as the cause."""
    without = model.copy()
    for row in rows_by_name(without).get(name, []):
        without.remove(row)
    without.update()
    rest = minimal_repair(without, include_bounds=False)
    if not rest.feasible and not rest.changes:
        return None
    group = [name] + [a.target for a in rest.actions() if a.target in rows_by_name(model) and a.target != name]
    free = _freed(model, group)
    return free.model_copy(update={"kind": "start", "start": name}) if free is not None else None


def _freed(model: gp.Model, names: list[str]) -> CombinedRepair | None:
    """``names`` relaxed together until they no longer limit the objective, when that is OPTIMAL."""
    objective = _objective_without(model, names)
    if objective is None:
        return None
    actions = relaxation_reaching(model, names, objective)
    if not actions:
        return None
    outcome = try_actions(model, actions)
    if not outcome.optimal:
        return None
    return _shown(model, "free", actions, outcome.objective)


def _shown(model: gp.Model, kind: str, actions: list[Action], objective: float | None) -> CombinedRepair:
    """A combined repair as the section prints it, with its size: the sum over its changes of the
    amount relative to the constraint's rhs (max(1, |rhs|), as for single changes)."""
    rows = rows_by_name(model)
    relative = sum(
        a.amount / max(1.0, max(abs(r.RHS) for r in rows[a.target]))
        for a in actions
        if a.name is ActionName.RELAX_CONSTRAINT and a.target in rows
    )
    return CombinedRepair(
        kind=kind, actions=[str(a) for a in actions], objective=objective, relative=relative,
        percent=percent_text(relative),
    )  # fmt: skip


def _objective_without(model: gp.Model, names: list[str]) -> float | None:
    copy = model.copy()
    rows = rows_by_name(copy)
    for name in names:
        for row in rows.get(name, []):
            copy.remove(row)
    copy.update()
    result = solver.solve(copy)
    return result.objective if result.status == "OPTIMAL" else None


def _skipped(why: str, members: int) -> str:
    return f"Diagnostics not computed for this model ({members} IIS members): they would exceed {why}."
