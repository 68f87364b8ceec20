"""Synthetic trajectories shaped like real ones, for tests and the conversion benchmark.

Observations are rendered by the real ``ordebug.observation.render`` from a structured state
(kept in ``Step.state`` as collectors keep it), answers follow the real action grammar. No
solver runs: the numbers are made up, the formats are not.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ordebug.observation import ObservationState, render
from ordebug.trajectory import Outcome, Step, Trajectory

ERROR_TYPES = "ABCDEFGHI"
FAMILIES = ("production", "blending", "transport", "assignment", "knapsack")


def synthetic_trajectory(
    i: int,
    *,
    seed: int = 0,
    layout: str = "legacy",
    agent: str = "teacher:synthetic",
    n_steps: int | None = None,
    success: bool | None = None,
) -> Trajectory:
    """Trajectory number ``i``: GET_IIS, then repairs of IIS members, then SUBMIT."""
    rng = random.Random(f"{seed}:{i}")
    kind = "mip" if rng.random() < 0.4 else "lp"
    error_type = ERROR_TYPES[i % len(ERROR_TYPES)]
    pid = f"{kind}_type{error_type}_{i:06d}"
    n_cons = rng.randint(6, 40)
    names = [f"c{k}" for k in range(n_cons - 2)] + ["c_key_upper", "c_key_lower"]
    iis = sorted(rng.sample(names, rng.randint(1, min(7, n_cons))), key=names.index)
    bounds = [f"x{k}" for k in sorted(rng.sample(range(n_cons), rng.randint(0, 6)))]
    n_steps = n_steps or rng.randint(1, 4)
    steps = []
    for k in range(1, n_steps + 1):
        last = k == n_steps
        state = ObservationState(
            problem_id=pid,
            error_type=error_type,
            status="INFEASIBLE",
            iis_constraints=iis,
            iis_bounds=bounds,
            n_constraints=n_cons,
            n_variables=n_cons + 1,
            constraint_names=names,
            step=k - 1,
            max_steps=20,
        )
        target = iis[(k - 1) % len(iis)]
        if k == 1 and not last:
            action, why = "GET_IIS()", f"The model is infeasible; compute the IIS of {pid} first."
        elif last:
            action, why = "SUBMIT()", "The model solves to OPTIMAL now; submit the repair."
        elif rng.random() < 0.5:
            amount = round(rng.uniform(0.5, 20), 1)
            action = f"RELAX_CONSTRAINT({target}, {amount})"
            why = f"Constraint '{target}' is too tight.\nRelaxing by {amount} to allow feasibility."
        else:
            action = f"DROP_CONSTRAINT({target})"
            why = f"The IIS contains {len(iis)} constraints.\nConstraint '{target}' is identified as problematic."
        reasoning = f"Step {k}: {why}"
        steps.append(
            Step(
                index=k,
                observation=render(state, layout),
                state=state.model_dump(mode="json"),
                raw_output=f"<think>\n{reasoning}\n</think>\n\nAction: {action}",
                reasoning=reasoning,
                action=action,
                result="ok",
                status="OPTIMAL" if last else "INFEASIBLE",
            )
        )
    ok = success if success is not None else rng.random() < 0.85
    return Trajectory(
        problem_id=pid,
        problem={
            "error_type": error_type,
            "difficulty": ("easy", "medium", "hard")[min(2, len(iis) // 3)],
            "problem_type": kind,
            "family": FAMILIES[i % len(FAMILIES)],
        },
        agent=agent,
        layout=layout,
        steps=steps,
        outcome=Outcome(
            success=ok,
            final_status="OPTIMAL" if ok else "INFEASIBLE",
            steps=n_steps,
            terminated_by="submit" if ok else "step_limit",
        ),
    )


def synthetic_trajectories(n: int, *, seed: int = 0, start: int = 0, **kwargs: Any) -> Iterator[Trajectory]:
    for i in range(start, start + n):
        yield synthetic_trajectory(i, seed=seed, **kwargs)


def write_trajectories(path: str | os.PathLike[str], n: int, **kwargs: Any) -> Path:
    """``n`` synthetic trajectories as a JSONL file (parent directories created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(t.to_json_line() for t in synthetic_trajectories(n, **kwargs))
    return path
