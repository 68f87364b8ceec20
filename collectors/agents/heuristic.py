"""The heuristic agent: IIS-driven, least change first, relax rather than drop.

It sees what the observation shows (status, IIS, model size, names; the algebra in the rich
layout) and probes the working model it is repairing, as any debugger can, but never the ground
truth (a test erases every ground-truth field and gets identical trajectories). Each step:

1. OPTIMAL -> ``SUBMIT()``. INFEASIBLE without an IIS on screen -> ``GET_IIS()``.
2. Candidates, each checked by solving a copy with the action applied: for every IIS constraint
   the least ``RELAX_CONSTRAINT`` amount that alone restores feasibility (feasRelax restricted to
   that constraint); for every IIS bound the least ``UPDATE_BOUNDS`` move.
3. The size of a change is the least move relative to the element (amount / max(1, |rhs|)).
   Among changes within ``COMPARABLE`` (1.5x) of the smallest, the one that keeps the best
   objective wins (an equally small repair that leaves the optimum worse keeps an artificial
   restriction); IIS order breaks ties.
4. The chosen element is relaxed until it stops cutting off the best solution the rest of the
   model allows (the least amount reaching the objective the model would have without that
   restriction), not just to the feasibility edge: the constraint stays in the model (fix
   preservation 1) and no longer pins the optimum to the edge of the conflict (objective
   preservation). When dropping it would not leave the model OPTIMAL, the least amount is used.
5. No single element repairs the model (cascading conflicts): the first change of the minimal
   multi-element repair (ordebug.oracle.minimal_repair: fewest elements, least violation), then
   the next IIS. A constraint is dropped only when no relaxation can help.

The ``<think>`` text states those facts: what the IIS holds, what each candidate would need and
what objective it leaves, and why the chosen one changes the model least.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gurobipy as gp

from collectors.agents.base import AgentTurn, DecisionContext
from collectors.agents.probe import (
    SENSE_TEXT,
    min_bound_change,
    min_constraint_relaxation,
    relax_amount,
    rows_by_name,
    try_action,
    unbinding_bound,
    unbinding_relaxation,
)
from ordebug.actions import Action, ActionName
from ordebug.observation import fmt_num
from ordebug.oracle import minimal_repair

#: Probe at most this many IIS members per step (why: a huge IIS would make one step take minutes).
MAX_PROBES = 40
#: Changes within this factor of the least one count as equally small (then the objective decides).
COMPARABLE = 1.5


@dataclass(frozen=True)
class Candidate:
    action: Action  # what would be applied
    kind: str  # "relax" | "bound" | "drop"
    amount: float  # the least move of the element that restores feasibility
    scale: float  # the element's size the move is compared with
    objective: float | None  # objective after ``action``
    order: int  # position in the IIS listing
    min_objective: float | None = None  # objective after the least move (when ``action`` moves further)

    @property
    def relative(self) -> float:
        return self.amount / self.scale

    def key(self) -> tuple[float, int, int]:
        return (round(self.relative, 9), {"relax": 0, "bound": 1, "drop": 2}[self.kind], self.order)


def choose(candidates: list[Candidate], model_sense: int) -> tuple[Candidate, list[Candidate]]:
    """The least change; among changes of comparable size (within ``COMPARABLE`` times the least),
    the one that keeps the best objective (why: an equally small repair that leaves the optimum
    worse keeps an artificial restriction). Returns the choice and the comparable group."""
    least = min(c.relative for c in candidates)
    near = [c for c in candidates if c.relative <= least * COMPARABLE + 1e-12]

    def worse(c: Candidate) -> float:  # model_sense: 1 minimise, -1 maximise
        return c.objective * model_sense if c.objective is not None else float("inf")

    best = min(near, key=lambda c: (round(worse(c), 9), c.key()))
    return best, near


def _constraint_candidates(model: gp.Model, names: list[str]) -> list[Candidate]:
    rows = rows_by_name(model)
    out = []
    for i, name in enumerate(names[:MAX_PROBES]):
        need = min_constraint_relaxation(model, name)
        if need is None:
            continue
        least = relax_amount(model, name, need)
        if least is None:
            continue
        rhs = max(abs(r.RHS) for r in rows[name])
        least_objective = try_action(model, least).objective
        action, objective = least, least_objective
        free = unbinding_relaxation(model, name)
        if free is not None and free[0] > need * (1 + 1e-6):
            wider = relax_amount(model, name, free[0])
            outcome = try_action(model, wider) if wider is not None else None
            if outcome is not None and outcome.optimal:
                action, objective = wider, outcome.objective
        out.append(Candidate(action, "relax", need, max(1.0, rhs), objective, i, least_objective))
    return out


def _bound_candidates(model: gp.Model, names: list[str], offset: int) -> list[Candidate]:
    out = []
    for i, name in enumerate(names[:MAX_PROBES]):
        change = min_bound_change(model, name)
        if change is None:
            continue
        var = model.getVarByName(name)
        lb, ub = change
        if lb > ub:  # e.g. a binary variable whose [0, 1] box no single move can fix
            continue
        action = Action(name=ActionName.UPDATE_BOUNDS, target=name, values=(lb, ub))
        outcome = try_action(model, action)
        if not outcome.optimal:
            continue
        moved = max(var.LB - lb, ub - var.UB, 0.0)
        scale = max(1.0, abs(var.LB if lb != var.LB else var.UB))
        least_objective = outcome.objective
        free = unbinding_bound(model, name, lb, ub)
        if free is not None and (free[0], free[1]) != (lb, ub):
            wider = Action(name=ActionName.UPDATE_BOUNDS, target=name, values=(free[0], free[1]))
            wider_outcome = try_action(model, wider)
            if wider_outcome.optimal:
                action, outcome = wider, wider_outcome
        out.append(Candidate(action, "bound", moved, scale, outcome.objective, offset + i, least_objective))
    return out


def _describe_constraint(model: gp.Model, name: str) -> str:
    rows = rows_by_name(model).get(name, [])
    if len(rows) == 1:
        return f"{SENSE_TEXT[rows[0].Sense]} {fmt_num(rows[0].RHS)}"
    return "a range"


class HeuristicAgent:
    """See the module docstring. Stateless: everything comes from the context of each step."""

    name = "heuristic"

    def config(self) -> dict[str, Any]:
        return {
            "policy": "least relative change among single-element repairs of the IIS; relax before drop",
            "max_probes": MAX_PROBES,
        }

    def decide(self, ctx: DecisionContext) -> AgentTurn:
        state = ctx.state
        if state.status == "OPTIMAL":
            obj = f" with objective {fmt_num(state.objective)}" if state.objective is not None else ""
            reasoning = (
                f"The model is OPTIMAL{obj} after {_changes(ctx)}. The repair is complete, so I submit it."
            )
            return AgentTurn.scripted(reasoning, Action(name=ActionName.SUBMIT))
        if state.status != "INFEASIBLE":
            reasoning = (
                f"The status is {state.status}, not INFEASIBLE: there is no conflict left to repair "
                "with the actions I have, so I submit the model as it is."
            )
            return AgentTurn.scripted(reasoning, Action(name=ActionName.SUBMIT))
        if not state.iis_constraints and not state.iis_bounds:
            reasoning = "The model is INFEASIBLE but no IIS is shown yet. I compute the IIS to see which constraints conflict."
            return AgentTurn.scripted(reasoning, Action(name=ActionName.GET_IIS))

        model = ctx.current_model()
        candidates = _constraint_candidates(model, state.iis_constraints)
        candidates += _bound_candidates(model, state.iis_bounds, len(state.iis_constraints))
        iis_text = _iis_text(state.iis_constraints, state.iis_bounds)
        if candidates:
            best, near = choose(candidates, model.ModelSense)
            reasoning = _single_fix_reasoning(model, iis_text, best, candidates, near)
            return AgentTurn.scripted(reasoning, best.action)
        return self._multi_fix(model, iis_text, state.iis_constraints)

    def _multi_fix(self, model: gp.Model, iis_text: str, iis_constraints: list[str]) -> AgentTurn:
        repair = minimal_repair(model, include_bounds=False)
        if repair.changes:
            changes = sorted(repair.changes, key=lambda ch: (ch.name not in iis_constraints, -ch.violation))
            first = changes[0]
            action = repair.actions()[repair.changes.index(first)]
            listed = ", ".join(f"{ch.name} by {fmt_num(ch.amount)}" for ch in changes)
            reasoning = (
                f"{iis_text} No single constraint or bound in it restores feasibility on its own: relaxing "
                f"any one of them still leaves a conflict, so the conflicts cascade. The smallest combined "
                f"repair relaxes {len(changes)} constraint(s): {listed}. I start with {first.name}, "
                f"currently {_describe_constraint(model, first.name)}, and will re-check the IIS afterwards."
            )
            return AgentTurn.scripted(reasoning, action)
        for name in iis_constraints:
            drop = Action(name=ActionName.DROP_CONSTRAINT, target=name)
            if try_action(model, drop).optimal:
                reasoning = (
                    f"{iis_text} No relaxation amount repairs the model, but removing {name} leaves it "
                    "OPTIMAL, so I drop that constraint as a last resort."
                )
                return AgentTurn.scripted(reasoning, drop)
        first = iis_constraints[0] if iis_constraints else None
        if first is None:
            reasoning = (
                f"{iis_text} Only variable bounds conflict and no bound move repairs the model; I submit."
            )
            return AgentTurn.scripted(reasoning, Action(name=ActionName.SUBMIT))
        reasoning = (
            f"{iis_text} Neither a relaxation nor a single removal repairs the model. I remove {first}, the "
            "first IIS constraint, to break this conflict and look at the next IIS."
        )
        return AgentTurn.scripted(reasoning, Action(name=ActionName.DROP_CONSTRAINT, target=first))


def _iis_text(constraints: list[str], bounds: list[str]) -> str:
    parts = []
    if constraints:
        parts.append(
            f"{len(constraints)} constraint(s) ({', '.join(constraints[:12])}{' …' if len(constraints) > 12 else ''})"
        )
    if bounds:
        parts.append(
            f"the bounds of {len(bounds)} variable(s) ({', '.join(bounds[:12])}{' …' if len(bounds) > 12 else ''})"
        )
    return f"The model is INFEASIBLE; the IIS holds {' and '.join(parts)}."


def _changes(ctx: DecisionContext) -> str:
    changes = [h for h in ctx.history if not h.startswith(("GET_IIS", "CHECK_SLACK"))]
    if not changes:
        return "no changes"
    return "applying " + ", ".join(changes[-3:])


def _single_fix_reasoning(
    model: gp.Model, iis_text: str, best: Candidate, candidates: list[Candidate], near: list[Candidate]
) -> str:
    goal = "maximising" if model.ModelSense == -1 else "minimising"
    lines = [
        iis_text,
        f"Single changes that would each make the model feasible ({goal}; least change first):",
    ]
    ranked = sorted(candidates, key=Candidate.key)
    for cand in ranked[:6]:
        lines.append(f"- {_candidate_text(model, cand)}")
    if len(ranked) > 6:
        lines.append(f"- … and {len(ranked) - 6} more, each a larger change")
    target = best.action.target
    if len(near) > 1:
        others = ", ".join(c.action.target for c in near if c is not best)
        lines.append(
            f"Changing {target} is about as small as changing {others}, and it gives up the least of the "
            f"objective ({_obj(best.objective)} against {', '.join(_obj(c.objective) for c in near if c is not best)})."
        )
    else:
        lines.append(f"Changing {target} is the smallest change ({_pct(best)} of its size).")
    if best.kind == "relax" and best.min_objective is not None and best.action.amount > _least(best):
        lines.append(
            f"Relaxing {target} by the bare minimum would leave it binding (objective {_obj(best.min_objective)}); "
            f"relaxed by {fmt_num(best.action.amount)} it no longer cuts off the best solution the other "
            f"constraints allow (objective {_obj(best.objective)}). So I relax it by {fmt_num(best.action.amount)} "
            "and keep every constraint in the model."
        )
    else:
        lines.append(f"So I {_verb(best)}; every constraint stays in the model.")
    return "\n".join(lines)


def _least(cand: Candidate) -> float:
    return cand.amount * (1 + 1e-6) + 1e-9


def _obj(value: float | None) -> str:
    return "none" if value is None else fmt_num(value)


def _pct(cand: Candidate) -> str:
    return f"{100 * cand.relative:.3g}%"


def _candidate_text(model: gp.Model, cand: Candidate) -> str:
    target = cand.action.target
    if cand.kind == "relax":
        text = (
            f"relax {target} ({_describe_constraint(model, target)}) by at least {fmt_num(cand.amount)} "
            f"({_pct(cand)} of its rhs): objective {_obj(cand.min_objective)}"
        )
        if cand.action.amount > _least(cand):
            text += f", or {_obj(cand.objective)} once relaxed by {fmt_num(cand.action.amount)}"
        return text
    lb, ub = cand.action.values
    var = model.getVarByName(target)
    return (
        f"move the bounds of {target} from [{fmt_num(var.LB)}, {fmt_num(var.UB)}] to "
        f"[{fmt_num(lb)}, {fmt_num(ub)}] ({_pct(cand)} of the bound): objective {_obj(cand.objective)}"
    )


def _verb(cand: Candidate) -> str:
    if cand.kind == "relax":
        return f"relax {cand.action.target} by {fmt_num(cand.action.amount)}"
    lb, ub = cand.action.values
    return f"set the bounds of {cand.action.target} to [{fmt_num(lb)}, {fmt_num(ub)}]"
