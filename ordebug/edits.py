"""Structured model edits: how an error was injected and how the ground truth repairs it.

An edit is a small JSON object (``{"op": "set_sense", "constraint": "cap_labor", "sense": "<="}``).
Error injection records two lists of them in each problem's ``ground_truth`` entry of
``dataset.json``: ``changes`` (applied to the feasible original to make it infeasible) and
``repair`` (applied to the infeasible model to give back the original optimum). Anyone can
re-check a problem independently: read the MPS, ``apply_edits(model, repair)``, solve.

| op                  | fields                                        | effect                          |
|---------------------|-----------------------------------------------|---------------------------------|
| `set_sense`         | constraint, sense (`<=`, `>=`, `=`)           | change a constraint's sense     |
| `set_rhs`           | constraint, rhs                               | change a right-hand side        |
| `set_coef`          | constraint, variable, coef                    | change one coefficient (0 drops)|
| `add_constraint`    | constraint, terms {var: coef}, sense, rhs     | add a linear constraint         |
| `remove_constraint` | constraint                                    | delete a constraint             |
| `set_bounds`        | variable, lb, ub (null = unchanged)           | change variable bounds          |
| `set_vtype`         | variable, vtype (`C`, `B`, `I`), lb, ub       | change a variable's type+bounds |
| `add_variable`      | variable, lb, ub, vtype, obj                  | add a variable (no terms)       |

Infinite bounds are written as Gurobi's infinity, 1e100 (strict JSON has no ``Infinity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import gurobipy as gp
from gurobipy import GRB
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ordebug.errors import OrDebugError

Sense = Literal["<=", ">=", "="]
_TO_GRB = {"<=": GRB.LESS_EQUAL, ">=": GRB.GREATER_EQUAL, "=": GRB.EQUAL}
_FROM_GRB = {GRB.LESS_EQUAL: "<=", GRB.GREATER_EQUAL: ">=", GRB.EQUAL: "="}
INF = GRB.INFINITY  # 1e100


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetSense(_Op):
    op: Literal["set_sense"] = "set_sense"
    constraint: str
    sense: Sense


class SetRhs(_Op):
    op: Literal["set_rhs"] = "set_rhs"
    constraint: str
    rhs: float


class SetCoef(_Op):
    op: Literal["set_coef"] = "set_coef"
    constraint: str
    variable: str
    coef: float


class AddConstraint(_Op):
    op: Literal["add_constraint"] = "add_constraint"
    constraint: str
    terms: dict[str, float]
    sense: Sense
    rhs: float


class RemoveConstraint(_Op):
    op: Literal["remove_constraint"] = "remove_constraint"
    constraint: str


class SetBounds(_Op):
    op: Literal["set_bounds"] = "set_bounds"
    variable: str
    lb: float | None = None
    ub: float | None = None


class SetVType(_Op):
    op: Literal["set_vtype"] = "set_vtype"
    variable: str
    vtype: Literal["C", "B", "I"]
    lb: float
    ub: float


class AddVariable(_Op):
    op: Literal["add_variable"] = "add_variable"
    variable: str
    lb: float = 0.0
    ub: float = INF
    vtype: Literal["C", "B", "I"] = "C"
    obj: float = 0.0


Edit = Annotated[
    SetSense | SetRhs | SetCoef | AddConstraint | RemoveConstraint | SetBounds | SetVType | AddVariable,
    Field(discriminator="op"),
]
_EDITS = TypeAdapter(list[Edit])


def parse_edits(raw: Any, *, where: str = "ground_truth") -> list[Edit]:
    """Validate a JSON list of edits (one-line OrDebugError naming the bad key)."""
    try:
        return _EDITS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise OrDebugError(f"edit {key}: {first['msg']}", where=where, fix="regenerate the set") from None


def dump_edits(edits: Sequence[Edit]) -> list[dict[str, Any]]:
    """JSON-ready dicts (every field written, so a record is self-describing)."""
    return [e.model_dump() for e in edits]


def sense_of(constr: gp.Constr) -> Sense:
    return _FROM_GRB[constr.Sense]  # type: ignore[return-value]


def _constr(model: gp.Model, name: str) -> gp.Constr:
    c = model.getConstrByName(name)
    if c is None:
        raise OrDebugError(f"no constraint named {name!r} in model {model.ModelName!r}", fix="check the edit")
    return c


def _var(model: gp.Model, name: str) -> gp.Var:
    v = model.getVarByName(name)
    if v is None:
        raise OrDebugError(f"no variable named {name!r} in model {model.ModelName!r}", fix="check the edit")
    return v


def apply_edits(model: gp.Model, edits: Sequence[Edit | dict[str, Any]]) -> gp.Model:
    """Apply edits in order, in place (dicts are validated first); returns the model."""
    parsed = [e if isinstance(e, _Op) else parse_edits([e])[0] for e in edits]
    model.update()
    for e in parsed:
        match e:
            case SetSense():
                _constr(model, e.constraint).Sense = _TO_GRB[e.sense]
            case SetRhs():
                _constr(model, e.constraint).RHS = e.rhs
            case SetCoef():
                model.chgCoeff(_constr(model, e.constraint), _var(model, e.variable), e.coef)
            case AddConstraint():
                if model.getConstrByName(e.constraint) is not None:
                    raise OrDebugError(f"constraint {e.constraint!r} already exists", fix="check the edit")
                expr = gp.LinExpr([(c, _var(model, v)) for v, c in e.terms.items()])
                model.addLConstr(expr, _TO_GRB[e.sense], e.rhs, name=e.constraint)
            case RemoveConstraint():
                model.remove(_constr(model, e.constraint))
            case SetBounds():
                v = _var(model, e.variable)
                if e.lb is not None:
                    v.LB = e.lb
                if e.ub is not None:
                    v.UB = e.ub
            case SetVType():
                v = _var(model, e.variable)
                v.VType, v.LB, v.UB = e.vtype, e.lb, e.ub
            case AddVariable():
                if model.getVarByName(e.variable) is not None:
                    raise OrDebugError(f"variable {e.variable!r} already exists", fix="check the edit")
                model.addVar(lb=e.lb, ub=e.ub, obj=e.obj, vtype=e.vtype, name=e.variable)
        model.update()  # why: later edits look elements up by name
    return model
