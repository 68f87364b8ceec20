"""Candidate injections, one generator per error type (A-I); see ``ordebug.inject`` for the table.

A generator looks at the feasible original (its optimum ``x*``, row activities and the LP
ranges of expressions) and yields candidate edits in a seeded random order. Cheap filters
come first (why: a flip of a constraint that ``x*`` still satisfies cannot make the model
infeasible, so it is never solved). ``ordebug.inject`` then verifies each candidate with the
solver and keeps the first that passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gurobipy as gp
import numpy as np
from gurobipy import GRB

from ordebug import solver
from ordebug.edits import (
    INF,
    AddConstraint,
    AddVariable,
    Edit,
    RemoveConstraint,
    SetBounds,
    SetCoef,
    SetRhs,
    SetSense,
    SetVType,
    apply_edits,
    sense_of,
)

TOL = 1e-6
_ONLY_ONE = "Fixing only one will not restore feasibility."
_FLIP = {"<=": ">=", ">=": "<="}
_VTYPE_WORD = {"C": "CONTINUOUS", "I": "INTEGER", "B": "BINARY"}


def num(x: float) -> str:
    """A number as OR-Debug-Bench's texts write it: Python float text, 6 significant digits ("inf" for 1e100)."""
    if abs(x) >= INF:
        return "inf" if x > 0 else "-inf"
    return str(float(f"{x:.6g}"))


def nice_beyond(value: float, up: bool, rng: np.random.Generator) -> float:
    """A round number clearly beyond ``value`` (above if ``up``): margin >= 1 and 10-50 %."""
    delta = max(1.0, abs(value) * float(rng.uniform(0.1, 0.5)))
    target = value + delta if up else value - delta
    step = 10.0 ** max(0, math.floor(math.log10(max(abs(target), 1.0))) - 1)  # two significant digits
    return float(math.ceil(target / step) * step if up else math.floor(target / step) * step)


@dataclass(frozen=True)
class Row:
    """A linear constraint of the original model and its activity at the optimum."""

    name: str
    sense: str
    rhs: float
    terms: dict[str, float]
    activity: float

    @property
    def slack(self) -> float:
        return self.rhs - self.activity if self.sense == "<=" else self.activity - self.rhs

    def violated_by(self, activity: float) -> bool:
        tol = TOL * max(1.0, abs(self.rhs)) * 10
        if self.sense == "<=":
            return activity > self.rhs + tol
        if self.sense == ">=":
            return activity < self.rhs - tol
        return abs(activity - self.rhs) > tol


class Context:
    """The feasible original model, its optimum, and cached LP ranges of expressions."""

    def __init__(self, model: gp.Model, objective: float, rng: np.random.Generator) -> None:
        model.update()
        self.model = model
        self.objective = objective
        self.rng = rng
        self.vars = model.getVars()
        self.x = {v.VarName: float(v.X) for v in self.vars}
        self.rows: list[Row] = []
        for c in model.getConstrs():
            expr = model.getRow(c)
            terms: dict[str, float] = {}
            for k in range(expr.size()):
                name = expr.getVar(k).VarName
                terms[name] = terms.get(name, 0.0) + expr.getCoeff(k)
            activity = sum(a * self.x[v] for v, a in terms.items())
            self.rows.append(Row(c.ConstrName, sense_of(c), c.RHS, terms, activity))
        self._relaxed: gp.Model | None = None
        self._ranges: dict[tuple[tuple[str, float], ...], tuple[float, float]] = {}

    def shuffled(self, items: list[Any]) -> list[Any]:
        return [items[i] for i in self.rng.permutation(len(items))]

    def range(self, terms: dict[str, float]) -> tuple[float, float]:
        """(min, max) of sum(terms) over the LP relaxation of the original (+-inf if unbounded)."""
        key = tuple(sorted(terms.items()))
        if key not in self._ranges:
            if self._relaxed is None:
                self._relaxed = self.model.relax()
                self._relaxed.Params.DualReductions = 0  # why: tell unbounded from infeasible
            m = self._relaxed
            mvars = {v.VarName: v for v in m.getVars()}
            expr = gp.LinExpr([(a, mvars[v]) for v, a in terms.items()])
            out = []
            for sense in (GRB.MINIMIZE, GRB.MAXIMIZE):
                m.setObjective(expr, sense)
                m.optimize()
                if m.Status == GRB.OPTIMAL:
                    out.append(float(m.ObjVal))
                else:
                    out.append(-math.inf if sense == GRB.MINIMIZE else math.inf)
            self._ranges[key] = (out[0], out[1])
        return self._ranges[key]


@dataclass
class Probe:
    """What verification learnt about an injected model; checks add ``extra`` facts."""

    ctx: Context
    model: gp.Model
    iis: solver.IIS
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """One concrete injection: the edits, their ground-truth repair, and how to describe it."""

    variant: str
    changes: list[Edit]
    repair: list[Edit]
    target_type: str
    describe: Callable[[Probe], tuple[str, str]]  # -> (target_name, ground_truth_fix)
    check: Callable[[Probe], bool] = lambda probe: True
    summary: str = ""


Generator = Callable[[Context], Iterator[Candidate]]


def solve_edited(model: gp.Model, edits: list[Edit]) -> solver.SolveResult:
    """Solve a copy of ``model`` with ``edits`` applied (MIPs to a zero gap: the objective is a reference)."""
    m = model.copy()
    apply_edits(m, edits)
    m.Params.MIPGap = 0.0
    try:
        return solver.solve(m, source=model.ModelName)
    finally:
        m.dispose()


def same_objective(a: float | None, b: float | None, rel: float = 1e-6) -> bool:
    return a is not None and b is not None and abs(a - b) <= rel * max(1.0, abs(b))


# ---------------------------------------------------------------------------------------- A-D


def flipped_sense(ctx: Context) -> Iterator[Candidate]:
    """A: flip <= / >= of a constraint with slack at x* (only those can become infeasible)."""
    for r in ctx.shuffled([r for r in ctx.rows if r.sense in _FLIP and r.slack > TOL * max(1, abs(r.rhs))]):
        new = _FLIP[r.sense]
        yield Candidate(
            "flip",
            [SetSense(constraint=r.name, sense=new)],
            [SetSense(constraint=r.name, sense=r.sense)],
            "constraint",
            lambda p, r=r, new=new: (r.name, f"Change {r.name} from {new} back to {r.sense}"),
            summary=f"sense of {r.name} flipped from {r.sense} to {new}",
        )


def variable_type(ctx: Context) -> Iterator[Candidate]:
    """B: a general integer (else, in a pure LP, a continuous) variable made binary + _force_<var>."""
    ints = [v for v in ctx.vars if v.VType == GRB.INTEGER and 2 <= v.UB < INF and v.LB <= 1]
    pool = ints or [v for v in ctx.vars if v.VType == GRB.CONTINUOUS and v.LB <= 1]
    pool = sorted(ctx.shuffled(pool), key=lambda v: ctx.x[v.VarName] < 2)  # stable: x* >= 2 first
    for v in pool:
        name, vtype, lb, ub = v.VarName, v.VType, v.LB + 0.0, v.UB + 0.0  # + 0.0: no "-0.0" in records
        k = float(max(2, round(ctx.x[name])))
        force = f"_force_{name}"
        bounds = f"UB={num(ub)}" if lb == 0 else f"LB={num(lb)}, UB={num(ub)}"
        text = f"Change {name} back to {_VTYPE_WORD[vtype]} with {bounds}, remove {force}"
        yield Candidate(
            "integer_to_binary" if vtype == GRB.INTEGER else "continuous_to_binary",
            [
                SetVType(variable=name, vtype="B", lb=0.0, ub=1.0),
                AddConstraint(constraint=force, terms={name: 1.0}, sense=">=", rhs=k),
            ],
            [SetVType(variable=name, vtype=vtype, lb=lb, ub=ub), RemoveConstraint(constraint=force)],
            "variable",
            lambda p, name=name, text=text: (name, text),
            summary=f"{name} changed from {_VTYPE_WORD[vtype].lower()} to binary, {force}: {name} >= {num(k)} added",
        )


def coefficient_error(ctx: Context) -> Iterator[Candidate]:
    """C: one coefficient removed (0), sign-flipped or scaled x10/x100/x0.1/x0.01; x* must violate it."""
    pairs = [(r, v) for r in ctx.rows for v in r.terms if abs(ctx.x[v]) > TOL]
    for r, v in ctx.shuffled(pairs):
        a = r.terms[v]
        options = [
            ("removed_term", 0.0),
            ("sign_flipped", -a),
            ("scaled", a * float(ctx.rng.choice([10.0, 100.0, 0.1, 0.01]))),
        ]
        for variant, new in ctx.shuffled(options):
            if not r.violated_by(r.activity + (new - a) * ctx.x[v]):
                continue
            text = f"Change coefficient of {v} in {r.name} from {num(new)} back to {num(a)}"
            yield Candidate(
                variant,
                [SetCoef(constraint=r.name, variable=v, coef=new)],
                [SetCoef(constraint=r.name, variable=v, coef=a)],
                "constraint",
                lambda p, t=f"{r.name}:{v}", text=text: (t, text),
                summary=f"coefficient of {v} in {r.name} changed from {num(a)} to {num(new)} ({variant})",
            )
            break


def _conflict_row(ctx: Context, r: Row, beyond_range: bool) -> Candidate | None:
    lo, hi = ctx.range(r.terms) if beyond_range else (r.rhs, r.rhs)
    up = r.sense == "<=" or (r.sense == "=" and bool(ctx.rng.random() < 0.5))
    if not math.isfinite(hi if up else lo):
        return None
    rhs = nice_beyond(hi if up else lo, up, ctx.rng)
    name = f"_saboteur_conflict_{r.name}"
    return Candidate(
        "conflict_range" if beyond_range else "conflict",
        [AddConstraint(constraint=name, terms=r.terms, sense=">=" if up else "<=", rhs=rhs)],
        [RemoveConstraint(constraint=name)],
        "constraint",
        lambda p: (name, f"Remove contradicting constraint {name}"),
        summary=f"{name} added: lhs of {r.name} {'>=' if up else '<='} {num(rhs)}",
    )


def _chain(ctx: Context) -> Candidate:
    k = int(ctx.rng.integers(3, 8))
    gap = float(ctx.rng.integers(5, 21))
    names = [f"_chain_constr_{i}" for i in range(1, k)] + ["_chain_cycle"]
    var = [f"_chain_var_{i}" for i in range(k)]
    changes: list[Edit] = [AddVariable(variable=v, ub=100.0) for v in var]
    for i in range(1, k):  # var_i >= var_{i-1} + gap ... and the cycle closes it: infeasible
        changes.append(
            AddConstraint(constraint=names[i - 1], terms={var[i - 1]: -1.0, var[i]: 1.0}, sense=">=", rhs=gap)
        )
    changes.append(
        AddConstraint(constraint="_chain_cycle", terms={var[0]: 1.0, var[k - 1]: -1.0}, sense=">=", rhs=gap)
    )
    return Candidate(
        "chain",
        changes,
        [RemoveConstraint(constraint=n) for n in names],
        "constraint",
        lambda p: ("_chain_cycle", f"Remove chain constraints: {', '.join(names)}"),
        summary=f"cyclic chain of {k} constraints added over {k} new variables",
    )


def contradicting_constraint(ctx: Context) -> Iterator[Candidate]:
    """D: a constraint contradicting a row (conflict), the row's reachable range (range), or a cycle (chain)."""
    for r in ctx.shuffled(ctx.rows)[:12]:
        variant = str(ctx.rng.choice(["conflict", "range", "chain"], p=[0.4, 0.35, 0.25]))
        cand = _chain(ctx) if variant == "chain" else _conflict_row(ctx, r, variant == "range")
        if cand is not None:
            yield cand


# ---------------------------------------------------------------------------------------- E-I


def _expressions(ctx: Context) -> list[tuple[str, dict[str, float]]]:
    """(tag, terms) of every row's left-hand side and of every single variable, shuffled."""
    exprs = [(r.name, r.terms) for r in ctx.rows if r.terms] + [
        (v.VarName, {v.VarName: 1.0}) for v in ctx.vars
    ]
    return ctx.shuffled(exprs)


def _still_infeasible(p: Probe, removed: str) -> bool:
    return solve_edited(p.model, [RemoveConstraint(constraint=removed)]).infeasible


def multi_constraint(ctx: Context) -> Iterator[Candidate]:
    """E: an upper and a lower limit on one expression, each beyond its reachable range; the IIS shows both."""
    exprs = _expressions(ctx)
    exprs.sort(key=lambda e: ctx.range(e[1])[0] <= TOL)  # stable: expressions with a positive minimum first
    for tag, terms in exprs[:15]:
        lo, hi = ctx.range(terms)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            continue
        upper, lower = f"_multi_constr_upper_{tag}", f"_multi_constr_lower_{tag}"
        below = nice_beyond(lo, False, ctx.rng)
        if lo > TOL and below < 0:
            below = float(math.floor(lo / 2))
        above = nice_beyond(hi, True, ctx.rng)

        def check(p: Probe, upper: str = upper, lower: str = lower) -> bool:
            # the IIS must show both (Gurobi may instead report one of them with the model: that
            # instance is rejected, since it would look like G), and either alone stays infeasible
            if not {upper, lower} <= set(p.iis.constraints):
                return False
            return all(_still_infeasible(p, name) for name in (upper, lower))

        yield Candidate(
            "upper_lower",
            [
                AddConstraint(constraint=upper, terms=terms, sense="<=", rhs=below),
                AddConstraint(constraint=lower, terms=terms, sense=">=", rhs=above),
            ],
            [RemoveConstraint(constraint=upper), RemoveConstraint(constraint=lower)],
            "constraint",
            lambda p, u=upper, lw=lower: (
                f"{u},{lw}",
                f"Remove BOTH constraints: {u} AND {lw}. " + _ONLY_ONE,
            ),
            check=check,
            summary=f"{upper} <= {num(below)} and {lower} >= {num(above)} added",
        )


def hidden_dependency(ctx: Context) -> Iterator[Candidate]:
    """F: a requirement on an auxiliary variable linked to a model variable (the root hides behind the link)."""
    for v in ctx.shuffled(ctx.vars)[:15]:
        name = v.VarName
        hi = ctx.range({name: 1.0})[1]
        if not math.isfinite(hi):
            continue
        scale = float(ctx.rng.choice([1.0, 1.0, 2.0, 5.0, 10.0]))
        need = nice_beyond(scale * hi, True, ctx.rng)
        aux, link, root = f"_hidden_aux_{name}", f"_hidden_link_{name}", f"_hidden_root_{name}"
        linked = name if scale == 1 else f"{num(scale)}*{name}"
        text = (
            f"The root cause is constraint '{root}' which requires {aux} >= {num(need)}, but {aux} is linked "
            f"to {linked} (optimal value ~{ctx.x[name]:.2f}). Remove or relax '{root}'."
        )
        yield Candidate(
            "hidden_root",
            [
                AddVariable(variable=aux, lb=-INF, ub=INF),
                AddConstraint(constraint=link, terms={aux: 1.0, name: -scale}, sense="=", rhs=0.0),
                AddConstraint(constraint=root, terms={aux: 1.0}, sense=">=", rhs=need),
            ],
            [RemoveConstraint(constraint=root)],
            "constraint",
            lambda p, root=root, text=text: (root, text),
            check=lambda p, link=link: link in p.iis.constraints,
            summary=f"{aux} = {linked} added with {root}: {aux} >= {num(need)}",
        )


def cascading(ctx: Context) -> Iterator[Candidate]:
    """G: two independent conflicts; the IIS shows one, and only fixing it reveals the other."""
    exprs = _expressions(ctx)
    lows = sorted(exprs, key=lambda e: ctx.range(e[1])[0] <= TOL)[:8]  # upper limit below a positive minimum
    for (tag1, t1), (tag2, t2) in zip(lows, ctx.shuffled(exprs)[:8], strict=False):
        lo, hi = ctx.range(t1)[0], ctx.range(t2)[1]
        if tag1 == tag2 or not (math.isfinite(lo) and math.isfinite(hi)):
            continue
        ub, lb = f"_cascade_ub_{tag1}", f"_cascade_lb_{tag2}"
        below = nice_beyond(lo, False, ctx.rng)
        if lo > TOL and below < 0:
            below = float(math.floor(lo / 2))

        def check(p: Probe, ub: str = ub, lb: str = lb) -> bool:
            shown = [n for n in (ub, lb) if n in p.iis.constraints]
            if len(shown) != 1:
                return False
            first, second = shown[0], lb if shown[0] == ub else ub
            m = p.model.copy()
            m.remove(m.getConstrByName(first))
            m.update()
            ok = solver.solve(m).infeasible and second in solver.compute_iis(m).constraints
            m.dispose()
            p.extra["cascade"] = [first, second]
            return ok

        def describe(p: Probe) -> tuple[str, str]:
            first, second = p.extra["cascade"]
            return f"{first},{second}", (
                f"CASCADING CONFLICT: IIS shows '{first}', but fixing it alone will reveal conflict with "
                f"'{second}'. Must remove BOTH constraints, or analyze why both exist before choosing repair."
            )

        yield Candidate(
            "two_step",
            [
                AddConstraint(constraint=ub, terms=t1, sense="<=", rhs=below),
                AddConstraint(constraint=lb, terms=t2, sense=">=", rhs=nice_beyond(hi, True, ctx.rng)),
            ],
            [RemoveConstraint(constraint=ub), RemoveConstraint(constraint=lb)],
            "constraint",
            describe,
            check=check,
            summary=f"{ub} and {lb} added (independent conflicts)",
        )


def bound_root_cause(ctx: Context) -> Iterator[Candidate]:
    """H: a variable bound tightened past what the constraints allow; the IIS shows a constraint as symptom."""
    for v in ctx.shuffled(ctx.vars)[:20]:
        name, lb, ub = v.VarName, v.LB + 0.0, v.UB + 0.0
        lo, hi = ctx.range({name: 1.0})
        integer = v.VType != GRB.CONTINUOUS
        if math.isfinite(hi) and (new := nice_beyond(hi, True, ctx.rng)) < ub:
            which, old, new = "lower", lb, float(math.ceil(new)) if integer else new
        elif lo > lb + 1 and (new := float(math.floor(lo * float(ctx.rng.uniform(0.0, 0.6))))) >= lb:
            which, old = "upper", ub
        else:
            continue
        attr = "LB" if which == "lower" else "UB"

        def describe(
            p: Probe,
            name: str = name,
            which: str = which,
            old: float = old,
            new: float = new,
            attr: str = attr,
        ) -> tuple[str, str]:
            sym = p.iis.constraints[0]
            return name, (
                f"IIS-INCOMPLETE: The symptom constraint '{sym}' appears to be the problem, but the ROOT CAUSE "
                f"is the tightened {which} bound on '{name}' (changed from {num(old)} to {num(new)}). "
                f"Restore {name}.{attr} = {num(old)}, don't just drop '{sym}'."
            )

        yield Candidate(
            f"{which}_bound",
            [SetBounds(variable=name, **{attr.lower(): new})],
            [SetBounds(variable=name, **{attr.lower(): old})],
            "variable",
            describe,
            check=lambda p, name=name: bool(p.iis.constraints) and name in p.iis.bounds,
            summary=f"{which} bound of {name} changed from {num(old)} to {num(new)}",
        )


def _op(z: float | None, z0: float) -> float:
    """OP = 1 - |Z - Z0| / |Z0| in [0, 1] (Z0 = 0: 1 if Z = 0 else 0)."""
    if z is None:
        return 0.0
    if abs(z0) < 1e-9:
        return 1.0 if abs(z) < 1e-9 else 0.0
    return max(0.0, 1.0 - abs(z - z0) / abs(z0))


def optimal_selection(ctx: Context) -> Iterator[Candidate]:
    """I: a binding row's rhs tightened; dropping IIS members restores feasibility, only the rhs restores Z0."""
    binding = [r for r in ctx.rows if r.sense in _FLIP and abs(r.slack) <= 1e-6 * max(1.0, abs(r.rhs))]
    for r in ctx.shuffled(binding)[:12]:
        lo, hi = ctx.range(r.terms)
        if r.sense == "<=":
            if not (math.isfinite(lo) and lo > TOL):
                continue
            new = nice_beyond(lo, False, ctx.rng)
            new = new if new >= 0 else float(math.floor(lo / 2))
        else:
            if not math.isfinite(hi):
                continue
            new = nice_beyond(hi, True, ctx.rng)
        loose = r.rhs + (r.rhs - new)  # as far past the original as the error went before it
        if r.rhs >= 0 > loose:
            loose = 0.0  # why: "a minimum of -4 units" reads as nonsense; 0 is as loose and plausible

        def check(p: Probe, r: Row = r, loose: float = loose) -> bool:
            alts = []
            for c in p.iis.constraints:
                res = solve_edited(p.model, [RemoveConstraint(constraint=c)])
                alts.append(
                    {
                        "action": f"DROP {c}",
                        "repair": [{"op": "remove_constraint", "constraint": c}],
                        "status": res.status,
                        "objective": res.objective,
                    }
                )
            res = solve_edited(p.model, [SetRhs(constraint=r.name, rhs=loose)])
            alts.append(
                {
                    "action": f"RELAX {r.name} to RHS = {num(loose)}",
                    "repair": [{"op": "set_rhs", "constraint": r.name, "rhs": loose}],
                    "status": res.status,
                    "objective": res.objective,
                }
            )
            for a in alts:
                a["op_score"] = round(_op(a["objective"], p.ctx.objective), 4)
            p.extra["alternatives"] = alts
            # at least one tempting repair must cost >= 1 % of the objective (OP <= 0.99)
            return any(a["status"] == "OPTIMAL" and a["op_score"] <= 0.99 for a in alts)

        def describe(p: Probe, r: Row = r, new: float = new) -> tuple[str, str]:
            others = [c for c in p.iis.constraints if c != r.name] or p.iis.bounds
            head = (
                f"OPTIMAL SELECTION: The right-hand side of '{r.name}' was tightened from {num(r.rhs)} to "
                f"{num(new)}, conflicting with {', '.join(repr(o) for o in others)}. "
                "Multiple fixes restore feasibility:"
            )
            lines = [head]
            for a in p.extra["alternatives"]:
                if a["status"] == "OPTIMAL":
                    lines.append(f"  - SUBOPTIMAL: {a['action']} -> OP = {a['op_score']:.3f}")
            lines.append(
                f"  - CORRECT: RELAX {r.name} to RHS = {num(r.rhs)} -> OP = 1.0 (restores the original optimum)"
            )
            return r.name, "\n".join(lines)

        yield Candidate(
            "tightened_rhs",
            [SetRhs(constraint=r.name, rhs=new)],
            [SetRhs(constraint=r.name, rhs=r.rhs)],
            "constraint",
            describe,
            check=check,
            summary=f"rhs of binding {r.name} ({r.sense}) changed from {num(r.rhs)} to {num(new)}",
        )


#: Candidate generator of each error type.
GENERATORS: dict[str, Generator] = {
    "A": flipped_sense,
    "B": variable_type,
    "C": coefficient_error,
    "D": contradicting_constraint,
    "E": multi_constraint,
    "F": hidden_dependency,
    "G": cascading,
    "H": bound_root_cause,
    "I": optimal_selection,
}
