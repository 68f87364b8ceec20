"""Error injection: turn a feasible model infeasible and record the ground truth.

| type | name (OR-Debug-Bench's)        | what is injected                                                          | ground-truth repair                        |
|------|--------------------------------|---------------------------------------------------------------------------|--------------------------------------------|
| A    | Constraint Direction Error     | the sense of a `<=`/`>=` constraint is flipped                            | flip it back                               |
| B    | Variable Type Error            | a general integer variable becomes binary and `_force_<var>: var >= k>=2` is added (a pure LP: a continuous one) | restore type and bounds, remove `_force_<var>` |
| C    | Logic Error (Missing Term)     | one coefficient removed (0), sign-flipped, or scaled x10/x100/x0.1/x0.01  | restore the coefficient                    |
| D    | Conflicting Constraint         | `_saboteur_conflict_<c>` contradicting row c or its reachable range, or a cyclic `_chain_constr_*`/`_chain_cycle` | remove the added constraint(s) |
| E    | Multi-Constraint Conflict      | `_multi_constr_upper_<e>`/`_multi_constr_lower_<e>` on one expression, each beyond its range; the IIS shows both | remove BOTH (either alone stays infeasible) |
| F    | Hidden Dependency              | `_hidden_aux_<v>` linked to v by `_hidden_link_<v>`, and `_hidden_root_<v>` asking the aux for more than v can give | remove `_hidden_root_<v>` |
| G    | Cascading Conflict             | two independent conflicts `_cascade_ub_<e1>`, `_cascade_lb_<e2>`; the IIS shows one, fixing it reveals the other | remove both |
| H    | IIS-Incomplete                 | a variable's lower (upper) bound moved past its reachable range; the IIS shows a constraint as the symptom | restore the bound |
| I    | Optimal Selection              | the rhs of a constraint binding at the optimum tightened past its range    | restore the rhs (dropping an IIS member or over-relaxing also gives feasibility, with another objective) |

Every accepted injection is verified on the model as read back from its MPS file: the
model is INFEASIBLE; applying the recorded ``repair`` edits gives OPTIMAL with the original
objective (within 1e-6 relative); and the type's own property holds (E: the IIS shows both
added constraints and removing either alone stays infeasible; F: the IIS shows the link;
G: the IIS shows one conflict and removing it reveals the other; H: the IIS shows a
constraint and the bound; I: some other single repair is feasible with another objective).
A candidate that fails is skipped for the next one; ``generate`` retries with a new draw.

The ground truth is kept twice in each dataset.json entry: OR-Debug-Bench's sentence
(``ground_truth_fix``, ``target_name``) and a structured ``ground_truth`` dict with the
``changes`` and ``repair`` edits (``ordebug.edits``), which ``apply_ground_truth`` replays.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import gurobipy as gp
import numpy as np

from ordebug import solver
from ordebug.edits import apply_edits, dump_edits, parse_edits
from ordebug.errors import OrDebugError
from ordebug.injectors import GENERATORS, Candidate, Context, Probe, same_objective, solve_edited

TYPES: tuple[str, ...] = tuple(GENERATORS)


@dataclass
class Injected:
    """A verified injection: the infeasible model (read back from MPS) and its ground truth."""

    error_type: str
    variant: str
    model: gp.Model
    iis: solver.IIS
    target_name: str
    target_type: str
    ground_truth_fix: str
    ground_truth: dict[str, Any]
    candidates_tried: int


def solve_original(model: gp.Model, source: str) -> float:
    """Solve a feasible original to a zero gap and return its objective (OrDebugError otherwise)."""
    model.Params.MIPGap = 0.0
    result = solver.solve(model, source=source)
    if not result.optimal or result.objective is None:
        raise OrDebugError(
            f"the model is {result.status}, not OPTIMAL",
            where=source,
            fix="error injection needs a feasible model with a finite optimum",
        )
    return result.objective


def _verify(ctx: Context, cand: Candidate, workdir: Path) -> Probe | None:
    trial = ctx.model.copy()
    apply_edits(trial, cand.changes)
    quick = solver.solve(trial).infeasible  # in memory first: most rejected candidates stop here
    path = workdir / "candidate.mps"
    if quick:
        trial.write(str(path))
    trial.dispose()
    if not quick:
        return None
    model = solver.read_model(path)  # why: verify exactly what a user will load
    if not solver.solve(model).infeasible:
        return None
    iis = solver.compute_iis(model)
    if iis.size == 0:
        return None
    fixed = solve_edited(model, cand.repair)
    if not (fixed.optimal and same_objective(fixed.objective, ctx.objective)):
        return None
    probe = Probe(ctx, model, iis)
    return probe if cand.check(probe) else None


def inject(
    error_type: str,
    model: gp.Model,
    objective: float,
    rng: np.random.Generator,
    *,
    workdir: Path,
    max_candidates: int = 40,
) -> Injected | None:
    """Inject one error of ``error_type`` into a solved feasible ``model`` (left unchanged).

    Tries up to ``max_candidates`` candidates in the order the seeded ``rng`` gives and
    returns the first that passes verification, or None.
    """
    if error_type not in GENERATORS:
        raise OrDebugError(f"unknown error type {error_type!r}", fix=f"use one of {', '.join(TYPES)}")
    ctx = Context(model, objective, rng)
    for tried, cand in enumerate(islice(GENERATORS[error_type](ctx), max_candidates), start=1):
        probe = _verify(ctx, cand, workdir)
        if probe is None:
            continue
        target, fix = cand.describe(probe)
        record: dict[str, Any] = {
            "variant": cand.variant,
            "description": cand.summary,
            "changes": dump_edits(cand.changes),
            "repair": dump_edits(cand.repair),
        }
        record.update(probe.extra)
        return Injected(
            error_type, cand.variant, probe.model, probe.iis, target, cand.target_type, fix, record, tried
        )
    return None


def apply_ground_truth(model: gp.Model, entry: dict[str, Any]) -> gp.Model:
    """Apply a dataset.json entry's recorded repair (``entry["ground_truth"]["repair"]``) in place."""
    record = entry.get("ground_truth")
    where = f"problem {entry.get('problem_id', '?')}"
    if not isinstance(record, dict) or "repair" not in record:
        raise OrDebugError(
            "no structured 'ground_truth' with a 'repair' list",
            where=where,
            fix="only sets written by ordebug.generate carry one",
        )
    return apply_edits(model, parse_edits(record["repair"], where=f"{where}: ground_truth.repair"))
