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

With the what-if actions offered (``ctx.whatif``; the default for new data) the same decision is
*written* only from what the student sees: at a conflict it first asks ``WHATIF_IIS()``, whose
answer (the next observation) prints each member's least repair, its relative size, the objective
it leaves and the wider repair; the next step picks by the rules above from exactly those lines
(recomputed with the same ``ordebug.whatif`` functions and checked against the text shown) and
copies the printed action. No single fix: the printed combined repair is applied change by change.
Without them (legacy layout) the ``<think>`` states the probe results directly, as before: what
each candidate would need and what objective it leaves, which the student cannot see.
"""

from __future__ import annotations

from typing import Any

import gurobipy as gp

from ordebug.actions import Action, ActionName, parse_action
from ordebug.errors import ActionParseError
from ordebug.observation import CombinedRepair, fmt_num
from ordebug.oracle import minimal_repair
from ordebug.probe import SENSE_TEXT, rows_by_name, try_action
from ordebug.whatif import PLAN_HEAD, SingleFix, iis_fixes
from play.agents.base import AgentTurn, DecisionContext

#: Probe at most this many IIS members per step (why: a huge IIS would make one step take minutes).
MAX_PROBES = 40
#: Changes within this factor of the least one count as equally small (then the objective decides).
COMPARABLE = 1.5


#: A candidate repair: the least change of one IIS member and how far to take it (ordebug.whatif).
Candidate = SingleFix


def _worse(objective: float | None, model_sense: int) -> float:
    """Larger is worse: the objective in the minimising direction (no objective: worst)."""
    return round(objective * model_sense, 9) if objective is not None else float("inf")


def _percent(fix: Any) -> str:
    """The size as printed: a DiagnosticFix carries the text, a what-if SingleFix computes it."""
    return fix.percent() if callable(fix.percent) else fix.percent


def _ranking_reasoning(intro: str, best: Any, fixes: list[Any], near: list[Any]) -> str:
    """Why ``best``, written only with what the screen shows: the least single changes it lists
    (a DiagnosticFix of the diagnostics section, or a SingleFix of the what-if answer)."""
    lines = [intro]
    ranked = sorted(fixes, key=_key)
    for fix in ranked[:6]:
        lines.append(f"- {fix.target}: {_percent(fix)} of its {'rhs' if fix.kind == 'relax' else 'bound'}")
    if len(ranked) > 6:
        lines.append("- the others need larger changes")
    if len(near) > 1:
        others = [f for f in near if f is not best]
        lines.append(
            f"Changing {best.target} ({_percent(best)}) is about as small as changing "
            f"{', '.join(f'{f.target} ({_percent(f)})' for f in others)}, and it leaves the better objective "
            f"({_obj(best.objective)} against {', '.join(_obj(f.objective) for f in others)})."
        )
    else:
        lines.append(f"Changing {best.target} is the smallest change ({_percent(best)} of its size).")
    if best.wider is not None:
        lines.append(
            f"{best.least} would leave {best.target} binding (objective {_obj(best.least_objective)}); with "
            f"{best.wider} it no longer limits the objective ({_obj(best.wider_objective)}). So I apply "
            f"{best.wider} and keep every constraint in the model."
        )
    else:
        lines.append(f"So I apply {best.least}; every constraint stays in the model.")
    return "\n".join(lines)


def _diagnostics_reasoning(best: Any, fixes: list[Any], near: list[Any]) -> str:
    return _ranking_reasoning(
        "The diagnostics list, for each IIS member, the least change that alone restores feasibility:", best, fixes, near
    )


def _key(c: Candidate) -> tuple[float, int, int]:
    return (round(c.relative, 9), {"relax": 0, "bound": 1, "drop": 2}[c.kind], c.order)


def choose(candidates: list[Candidate], model_sense: int) -> tuple[Candidate, list[Candidate]]:
    """The least change; among changes of comparable size (within ``COMPARABLE`` times the least),
    the one that keeps the best objective (why: an equally small repair that leaves the optimum
    worse keeps an artificial restriction). Returns the choice and the comparable group."""
    least = min(c.relative for c in candidates)
    near = [c for c in candidates if c.relative <= least * COMPARABLE + 1e-12]

    best = min(near, key=lambda c: (_worse(c.objective, model_sense), _key(c)))
    return best, near


def choose_combined(
    combined: list[CombinedRepair], iis_constraints: list[str], model_sense: int
) -> tuple[CombinedRepair, bool]:
    """The combined repair to start (a CombinedRepair shown by the diagnostics) and whether it
    changes only IIS constraints. Repairs that change only IIS constraints come first (why: the IIS
    is the solver's certificate of the conflict; a repair within it leaves every constraint outside
    the conflict as the modeller wrote it); among them, or among all when none is, the best
    objective, then the fewest changes."""

    def inside(c: CombinedRepair) -> bool:
        return all(parse_action(a).target in iis_constraints for a in c.actions)

    pool = [c for c in combined if inside(c)] or combined
    best = min(pool, key=lambda c: (_worse(c.objective, model_sense), len(c.actions)))
    return best, inside(best)


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
        conflict = iis_text(state.iis_constraints, state.iis_bounds)
        if ctx.whatif:
            return self.grounded_turn(ctx, conflict)
        if state.diagnostics is not None:
            return self.diagnostics_turn(ctx, conflict)

        model = ctx.current_model()
        candidates = iis_fixes(model, state.iis_constraints, state.iis_bounds, limit=MAX_PROBES)
        if candidates:
            best, near = choose(candidates, model.ModelSense)
            reasoning = _single_fix_reasoning(model, conflict, best, candidates, near)
            return AgentTurn.scripted(reasoning, best.action)
        return self._multi_fix(model, conflict, state.iis_constraints)

    # -------------------------------------------------------------- from the diagnostics section
    def diagnostics_turn(self, ctx: DecisionContext, conflict: str) -> AgentTurn:
        """Pick a repair from the observation's diagnostics section and copy its action: the rules of
        the module docstring over the single changes shown; when none is shown, the combined repair
        shown that ``choose_combined`` picks, its first change now (the section is recomputed after it)."""
        diag = ctx.state.diagnostics
        sense = ctx.current_model().ModelSense  # 1 minimise, -1 maximise
        if diag.fixes:
            best, near = choose(diag.fixes, sense)
            return AgentTurn.scripted(_diagnostics_reasoning(best, diag.fixes, near), parse_action(best.action))
        if diag.combined:
            plan, within = choose_combined(diag.combined, ctx.state.iis_constraints, sense)
            first = parse_action(plan.actions[0])
            lines = ["The diagnostics show that no IIS member restores feasibility alone; the combined repairs shown leave:"]
            lines += [f"- {'; '.join(c.actions)}: objective {_obj(c.objective)}" for c in diag.combined]
            if within:
                lines.append(
                    f"{'; '.join(plan.actions)} changes only constraints of the IIS, the conflict the solver "
                    f"certifies, and of such repairs it leaves the best objective ({_obj(plan.objective)}). "
                    f"So I start it with {first}; the diagnostics are recomputed after this change."
                )
            else:
                lines.append(
                    f"Every repair shown also changes constraints outside this IIS (the conflicts cascade); "
                    f"{'; '.join(plan.actions)} leaves the best objective ({_obj(plan.objective)}), so I start it "
                    f"with {first}; the diagnostics are recomputed after this change."
                )
            return AgentTurn.scripted("\n".join(lines), first)
        return self._multi_fix(ctx.current_model(), conflict, ctx.state.iis_constraints, grounded=True)

    # -------------------------------------------------------------- with the what-if actions
    def grounded_turn(self, ctx: DecisionContext, conflict: str) -> AgentTurn:
        """Ask WHATIF_IIS, then act on its answer as the observation shows it (every number copied
        from the screen); a combined repair shown earlier is carried out change by change."""
        state = ctx.state
        last = state.history[-1] if state.history else None
        if last is not None and last.valid and last.action == str(ASK):
            model = ctx.current_model()
            shown = last.result
            candidates = [
                c for c in iis_fixes(model, state.iis_constraints, state.iis_bounds) if c.text() in shown
            ]
            if candidates:
                best, near = choose(candidates, model.ModelSense)
                return AgentTurn.scripted(_grounded_reasoning(best, candidates, near), best.action)
            plan = _shown_plan(shown)
            if plan:
                first = next((a for a in plan if a.target in state.iis_constraints), plan[0])
                reasoning = (
                    "The what-if answer shows that no IIS member restores feasibility alone: the conflicts "
                    f"cascade. Its least combined repair is {'; '.join(map(str, plan))}. I apply {first} first "
                    "and carry out the rest of that repair in the next steps."
                )
                return AgentTurn.scripted(reasoning, first)
            return self._multi_fix(model, conflict, state.iis_constraints, grounded=True)
        pending = pending_plan(ctx)
        if pending is not None:
            step, action = pending
            reasoning = (
                f"{conflict} The least combined repair shown at step {step} is not finished: {action} "
                "is its next change, so I apply it."
            )
            return AgentTurn.scripted(reasoning, action)
        reasoning = (
            f"{conflict} Before changing anything I ask the solver, for each IIS member, for the least change "
            "that alone restores feasibility and the objective it leaves, so I can pick the smallest repair."
        )
        return AgentTurn.scripted(reasoning, ASK)

    def _multi_fix(
        self, model: gp.Model, iis_text: str, iis_constraints: list[str], *, grounded: bool = False
    ) -> AgentTurn:
        if not grounded:
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


#: The question the grounded heuristic asks before every change.
ASK = Action(name=ActionName.WHATIF_IIS)


def _shown_plan(result: str) -> list[Action]:
    """The combined repair a WHATIF_IIS answer printed (canonical actions joined by '; ')."""
    for line in result.splitlines():
        if line.startswith(PLAN_HEAD):
            try:
                return [parse_action(part) for part in line[len(PLAN_HEAD) :].split("; ")]
            except ActionParseError:  # a name holding '; ' cannot be split back: ask again instead
                return []
    return []


def pending_plan(ctx: DecisionContext) -> tuple[int, Action] | None:
    """(step, next action) of the last combined repair shown in the history, when every change
    made since belongs to it and some are left (why: asking again would cost a step per change)."""
    entries = ctx.state.history
    for i in range(len(entries) - 1, -1, -1):
        entry = entries[i]
        if entry.valid and entry.action == str(ASK):
            plan = _shown_plan(entry.result)
            done = [e.action for e in entries[i + 1 :] if e.valid]
            if not plan or any(a not in map(str, plan) for a in done):
                return None
            rest = [a for a in plan if str(a) not in done]
            return (entry.step, rest[0]) if rest else None
    return None


def _grounded_reasoning(best: Candidate, candidates: list[Candidate], near: list[Candidate]) -> str:
    return _ranking_reasoning(
        "The what-if answer lists, for each IIS member, the least change that alone restores feasibility:",
        best, candidates, near,
    )


def iis_text(constraints: list[str], bounds: list[str]) -> str:
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
    changes = [h for h in ctx.history if not h.startswith(("GET_IIS", "CHECK_SLACK", "WHATIF_"))]
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
    ranked = sorted(candidates, key=_key)
    for cand in ranked[:6]:
        lines.append(f"- {_candidate_text(model, cand)}")
    if len(ranked) > 6:
        lines.append(f"- … and {len(ranked) - 6} more, each a larger change")
    target = best.target
    if len(near) > 1:
        others = ", ".join(c.target for c in near if c is not best)
        lines.append(
            f"Changing {target} is about as small as changing {others}, and it gives up the least of the "
            f"objective ({_obj(best.objective)} against {', '.join(_obj(c.objective) for c in near if c is not best)})."
        )
    else:
        lines.append(f"Changing {target} is the smallest change ({best.percent()} of its size).")
    if best.kind == "relax" and best.wider is not None:
        lines.append(
            f"Relaxing {target} by the bare minimum would leave it binding (objective {_obj(best.least_objective)}); "
            f"relaxed by {fmt_num(best.action.amount)} it no longer cuts off the best solution the other "
            f"constraints allow (objective {_obj(best.objective)}). So I relax it by {fmt_num(best.action.amount)} "
            "and keep every constraint in the model."
        )
    else:
        lines.append(f"So I {_verb(best)}; every constraint stays in the model.")
    return "\n".join(lines)


def _obj(value: float | None) -> str:
    return "none" if value is None else fmt_num(value)


def _candidate_text(model: gp.Model, cand: Candidate) -> str:
    target = cand.target
    if cand.kind == "relax":
        text = (
            f"relax {target} ({_describe_constraint(model, target)}) by at least {fmt_num(cand.need)} "
            f"({cand.percent()} of its rhs): objective {_obj(cand.least_objective)}"
        )
        if cand.wider is not None:
            text += f", or {_obj(cand.objective)} once relaxed by {fmt_num(cand.action.amount)}"
        return text
    lb, ub = cand.action.values
    var = model.getVarByName(target)
    return (
        f"move the bounds of {target} from [{fmt_num(var.LB)}, {fmt_num(var.UB)}] to "
        f"[{fmt_num(lb)}, {fmt_num(ub)}] ({cand.percent()} of the bound): objective {_obj(cand.objective)}"
    )


def _verb(cand: Candidate) -> str:
    if cand.kind == "relax":
        return f"relax {cand.target} by {fmt_num(cand.action.amount)}"
    lb, ub = cand.action.values
    return f"set the bounds of {cand.target} to [{fmt_num(lb)}, {fmt_num(ub)}]"
