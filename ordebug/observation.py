"""The observation an agent sees: a structured state and its text rendering.

Two layouts, one renderer:

* ``legacy`` (default) reproduces byte for byte the ``input`` text of OR-Debug-Bench's
  legacy SFT format (tests/data/legacy_sft, tests/data/README.md): problem id and error type, status, the IIS
  as Python list reprs in model order, model size and every constraint name.
* ``rich`` adds what a debugger wants to see: the step budget, the last action's
  result, the objective, each IIS constraint with its algebra and each IIS bound with
  its values (capped, with counts, for large IIS), the action history, and a capped
  constraint-name list.

The state is plain data (pydantic) so trajectories can store it and converters can
re-render a step in the other layout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gurobipy as gp
from gurobipy import GRB
from pydantic import BaseModel, ConfigDict, Field

from ordebug.layouts import LAYOUTS
from ordebug.solver import IIS

#: How much of a big model the rich layout shows (the rest is counted, not listed).
MAX_IIS_ITEMS = 20
MAX_ROW_TERMS = 12
MAX_NAMES = 60
MAX_HISTORY = 10
#: How many IIS members get algebra stored in the state (why: a 2000-row IIS would bloat trajectories).
MAX_DETAILS_STORED = 50


class HistoryEntry(BaseModel):
    """One past step as the rich layout lists it."""

    model_config = ConfigDict(extra="forbid")
    step: int
    action: str = Field(description="canonical action text, or the raw text when it did not parse")
    result: str
    valid: bool = True


class SweepPoint(BaseModel):
    """The objective a RELAX_CONSTRAINT amount leaves, between the least and the wider amount."""

    model_config = ConfigDict(extra="forbid")
    amount: float
    objective: float | None = None


class DiagnosticFix(BaseModel):
    """One IIS member's least single repair, as the diagnostics section prints it."""

    model_config = ConfigDict(extra="forbid")
    target: str
    kind: str = Field(description="'relax' (a constraint) or 'bound' (a variable)")
    current: str = Field(description="the element now: '>= 25.9609' or '[0, 10]'")
    least: str = Field(description="canonical text of the least action that alone makes the model OPTIMAL")
    least_objective: float | None = None
    percent: str = Field(description="size of the least change relative to the element, as printed ('3.2%')")
    relative: float = Field(description="the same size as a number (what agents rank by)")
    wider: str | None = Field(None, description="the action from which the element no longer limits the objective")
    wider_objective: float | None = None
    order: int = Field(0, description="position among the IIS members (ties go to the earlier one)")
    between: list[SweepPoint] = Field(
        default_factory=list, description="amounts evenly between the least and the wider one, with their objective"
    )

    @property
    def action(self) -> str:
        """The change that keeps the objective best of the two shown: the wider one when there is one."""
        return self.wider if self.wider is not None else self.least

    @property
    def objective(self) -> float | None:
        return self.wider_objective if self.wider is not None else self.least_objective

    def text(self) -> str:
        what = "rhs" if self.kind == "relax" else "bound"
        line = (
            f"{self.target} ({self.current}): {self.least} restores feasibility "
            f"({self.percent} of its {what}), objective {_obj(self.least_objective)}"
        )
        if self.wider is not None:
            line += f"; {self.wider} no longer limits the objective: {_obj(self.wider_objective)}"
        if self.between:
            points = ", ".join(f"{fmt_num(p.amount)} -> {_obj(p.objective)}" for p in self.between)
            line += f"; in between, RELAX_CONSTRAINT({self.target}, amount) leaves: {points}"
        return line


class CombinedRepair(BaseModel):
    """Several changes that together make the model OPTIMAL, and the objective they leave."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="'least' (fewest constraints, least change), 'free' (the same relaxed "
                      "until they no longer limit the objective), 'iis' (the IIS constraints, likewise) or 'start' "
                      "(one IIS constraint and the others it still needs, likewise)")
    actions: list[str] = Field(description="canonical action texts, in the order to apply them")
    objective: float | None = None
    start: str | None = Field(None, description="kind 'start': the IIS constraint the repair starts from")
    relative: float = Field(0.0, description="sum of each change relative to its constraint's rhs")
    percent: str = Field("", description="the same size as printed ('41.7%')")

    def text(self) -> str:
        head = COMBINED_HEADS[self.kind].format(start=self.start)
        size = f" ({self.percent} of the rhs in all)" if self.percent else ""
        return f"{head}{'; '.join(self.actions)}{size} -> objective {_obj(self.objective)}"


#: How the diagnostics introduce each combined repair (agents and tests read the plan from it).
COMBINED_HEADS = {
    "least": "Least combined repair (fewest constraints, least change): ",
    "free": "The same constraints relaxed until they no longer limit the objective: ",
    "iis": "The IIS constraints relaxed together until they no longer limit the objective: ",
    "start": "Starting from {start}, with the other constraints it still needs, until none limits the objective: ",
}


class Diagnostics(BaseModel):
    """Solver evidence the environment computes while the model is infeasible (rich layout)."""

    model_config = ConfigDict(extra="forbid")
    checked: int = 0
    members: int = 0
    fixes: list[DiagnosticFix] = Field(default_factory=list)
    no_single: list[str] = Field(default_factory=list, description="checked members no single change repairs")
    combined: list[CombinedRepair] = Field(default_factory=list)
    note: str | None = Field(None, description="why some or all evidence is missing (licence, time limit)")


class ObservationState(BaseModel):
    """Everything an observation shows, as data."""

    model_config = ConfigDict(extra="forbid")

    problem_id: str
    error_type: str = Field("?", description="A-I, or '?' when unknown")
    status: str
    iis_constraints: list[str] = Field(default_factory=list, description="model order")
    iis_bounds: list[str] = Field(default_factory=list, description="variables with a bound in the IIS")
    n_constraints: int
    n_variables: int
    constraint_names: list[str] = Field(default_factory=list)
    # rich-layout fields
    iis_details: list[str] = Field(default_factory=list, description="'c3: 2 x0 + 3 x1 <= 10' per IIS constraint")
    bounds: list[str] = Field(default_factory=list, description="'x1: [0, 10] (lb in IIS)' per IIS variable")
    objective: float | None = None
    last_result: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    step: int = 0
    max_steps: int | None = None
    diagnostics: Diagnostics | None = None


# ---------------------------------------------------------------------------------------------
# describing model elements


def _obj(value: float | None) -> str:
    return "none" if value is None else fmt_num(value)


def fmt_num(value: float) -> str:
    """Compact number: 10, 2.5, 1e+06, inf, -inf."""
    if math.isinf(value) or abs(value) >= GRB.INFINITY:
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


_SENSE = {GRB.LESS_EQUAL: "<=", GRB.GREATER_EQUAL: ">=", GRB.EQUAL: "="}


def constraint_algebra(model: gp.Model, constr: gp.Constr, max_terms: int = MAX_ROW_TERMS) -> str:
    """'c3: 2 x0 + 3 x1 <= 10' (long rows end with '+ … (37 more terms)')."""
    row = model.getRow(constr)
    parts: list[str] = []
    n = row.size()
    for i in range(min(n, max_terms)):
        coef, name = row.getCoeff(i), row.getVar(i).VarName
        sign = "-" if coef < 0 else "+"
        mag = abs(coef)
        term = name if mag == 1 else f"{fmt_num(mag)} {name}"
        parts.append(f"- {term}" if (not parts and sign == "-") else term if not parts else f"{sign} {term}")
    if n > max_terms:
        parts.append(f"+ … ({n - max_terms} more terms)")
    lhs = " ".join(parts) if parts else "0"
    return f"{constr.ConstrName}: {lhs} {_SENSE.get(constr.Sense, constr.Sense)} {fmt_num(constr.RHS)}"


def bound_text(var: gp.Var) -> str:
    """'x1: [0, 10] (lb in IIS)' with the type when not continuous."""
    kind = {GRB.BINARY: " binary", GRB.INTEGER: " integer"}.get(var.VType, "")
    which = [w for w, flag in (("lb", var.IISLB), ("ub", var.IISUB)) if flag]
    tail = f" ({' and '.join(which)} in IIS)" if which else ""
    return f"{var.VarName}{kind}: [{fmt_num(var.LB)}, {fmt_num(var.UB)}]{tail}"


def describe_iis(model: gp.Model, iis: IIS, limit: int = MAX_DETAILS_STORED) -> tuple[list[str], list[str]]:
    """Algebra of the first ``limit`` IIS constraints and bounds of the first ``limit`` IIS variables.

    Must be called right after compute_iis (it reads IISLB/IISUB of the variables).
    """
    details = [constraint_algebra(model, model.getConstrByName(n)) for n in iis.constraints[:limit]]
    bounds = [bound_text(model.getVarByName(n)) for n in iis.bounds[:limit]]
    return details, bounds


# ---------------------------------------------------------------------------------------------
# rendering


def render(state: ObservationState, layout: str = "legacy") -> str:
    """The observation text for ``state`` in ``layout`` ('legacy' or 'rich')."""
    if layout == "legacy":
        return _render_legacy(state)
    if layout == "rich":
        return _render_rich(state)
    raise ValueError(f"unknown observation layout {layout!r}; expected one of {list(LAYOUTS)}")


def _render_legacy(s: ObservationState) -> str:
    # Exactly the old pipeline's text: list reprs, no trailing newline.
    return (
        f"## Problem\nID: {s.problem_id}\nType: {s.error_type}\n\n"
        f"## Current State\nStatus: {s.status}\n\n"
        f"## IIS (Irreducible Infeasible Subsystem)\n"
        f"Conflicting Constraints: {s.iis_constraints!r}\n"
        f"Conflicting Bounds: {s.iis_bounds!r}\n\n"
        f"## Model Structure\nConstraints: {s.n_constraints}\nVariables: {s.n_variables}\n"
        f"Constraint Names: {s.constraint_names!r}"
    )


def _capped(items: Sequence[str], total: int, limit: int, indent: str = "  ") -> list[str]:
    lines = [f"{indent}{item}" for item in items[:limit]]
    if total > min(limit, len(items)):
        lines.append(f"{indent}… and {total - min(limit, len(items))} more")
    return lines


def _capped_list(names: Sequence[str], limit: int) -> str:
    if len(names) <= limit:
        return repr(list(names))
    return f"{list(names[:limit])!r} … and {len(names) - limit} more"


def _render_rich(s: ObservationState) -> str:
    lines = ["## Problem", f"ID: {s.problem_id}", f"Type: {s.error_type}", "", "## Current State"]
    lines.append(f"Status: {s.status}")
    if s.max_steps is not None:
        lines.append(f"Step: {s.step}/{s.max_steps}")
    if s.objective is not None:
        lines.append(f"Objective: {fmt_num(s.objective)}")
    if s.last_result:
        lines.append(f"Last Result: {s.last_result}")
    lines += ["", "## IIS (Irreducible Infeasible Subsystem)"]
    if not s.iis_constraints and not s.iis_bounds:
        lines.append("None (the model is not infeasible)" if s.status != "INFEASIBLE" else "Not computed")
    else:
        n_c, n_b = len(s.iis_constraints), len(s.iis_bounds)
        lines.append(f"Conflicting Constraints ({n_c}):")
        details = s.iis_details or s.iis_constraints
        lines += _capped(details, n_c, MAX_IIS_ITEMS)
        lines.append(f"Conflicting Bounds ({n_b}):")
        lines += _capped(s.bounds or s.iis_bounds, n_b, MAX_IIS_ITEMS)
    if s.diagnostics is not None:
        lines += ["", "## Diagnostics"] + diagnostics_lines(s.diagnostics)
    if s.history:
        lines += ["", "## Action History"]
        shown = s.history[-MAX_HISTORY:]
        if len(s.history) > len(shown):
            n_hidden = len(s.history) - len(shown)
            lines.append(f"… {n_hidden} earlier step{'s' if n_hidden > 1 else ''}")
        for h in shown:
            mark = "" if h.valid else " [invalid]"
            lines.append(f"{h.step}. {h.action}{mark} -> {h.result}")
    lines += ["", "## Model Structure", f"Constraints: {s.n_constraints}", f"Variables: {s.n_variables}"]
    lines.append(f"Constraint Names: {_capped_list(s.constraint_names, MAX_NAMES)}")
    return "\n".join(lines)


def diagnostics_lines(d: Diagnostics) -> list[str]:
    """The diagnostics section: each member's least single repair, then combined repairs."""
    lines = []
    if d.members:
        lines.append(f"Least single change per IIS member ({d.checked} of {d.members} checked; the model is unchanged):")
    lines += [f"- {fix.text()}" for fix in d.fixes]
    if d.no_single:
        lines.append(f"- no single change of {', '.join(d.no_single)} restores feasibility")
    lines += [c.text() for c in d.combined]
    if d.note:
        lines.append(d.note)
    return lines
