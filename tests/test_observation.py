"""Observation layouts: the legacy layout is byte-exact with OR-Debug-Bench's legacy SFT data (tests/data/README.md); rich adds detail."""

from __future__ import annotations

import json

import gurobipy as gp
import pytest
from ordebug_models import capacity_demand

from ordebug.episode import DebugEnv
from ordebug.observation import (
    MAX_IIS_ITEMS,
    HistoryEntry,
    ObservationState,
    constraint_algebra,
    render,
)
from ordebug.problems import Problem
from ordebug.solver import gurobi_env


def test_legacy_layout_regenerates_every_initial_state_sample_byte_for_byte(shared_data):
    legacy = shared_data / "legacy_sft"
    samples = [s for s in json.loads((legacy / "sft_gpt52chat.json").read_text())["data"] if s["metadata"]["steps"] == 1]
    assert len(samples) == 50  # what the data's README promises
    env = DebugEnv()  # layout="legacy" is the default
    mismatches = []
    for sample in samples:
        meta = sample["metadata"]
        problem = Problem(
            problem_id=meta["problem_id"],
            model_path=legacy / "models" / f"{meta['problem_id']}.mps",
            error_type=meta["error_type"],
        )
        observation, info = env.reset(problem)
        if observation != sample["input"]:
            mismatches.append(meta["problem_id"])
        assert render(info["state"], "legacy") == observation
    assert mismatches == []


def test_legacy_layout_text_for_a_hand_built_state():
    state = ObservationState(
        problem_id="p1", error_type="?", status="OPTIMAL", iis_constraints=[], iis_bounds=[],
        n_constraints=2, n_variables=3, constraint_names=["a", "b"],
    )  # fmt: skip
    assert render(state) == (
        "## Problem\nID: p1\nType: ?\n\n## Current State\nStatus: OPTIMAL\n\n"
        "## IIS (Irreducible Infeasible Subsystem)\nConflicting Constraints: []\nConflicting Bounds: []\n\n"
        "## Model Structure\nConstraints: 2\nVariables: 3\nConstraint Names: ['a', 'b']"
    )


def test_constraint_algebra_shows_signs_coefficients_and_caps_long_rows():
    m = gp.Model(env=gurobi_env())
    x = m.addVars(30, name="x")
    c3 = m.addConstr(2 * x[0] + 3 * x[1] <= 10, name="c3")
    neg = m.addConstr(-x[0] + 1.5 * x[1] - x[2] >= -4, name="neg")
    long = m.addConstr(gp.quicksum(x.values()) == 7, name="long")
    m.update()
    assert constraint_algebra(m, c3) == "c3: 2 x[0] + 3 x[1] <= 10"
    assert constraint_algebra(m, neg) == "neg: - x[0] + 1.5 x[1] - x[2] >= -4"
    text = constraint_algebra(m, long)
    assert text.startswith("long: x[0] + x[1]") and "(18 more terms)" in text and text.endswith("= 7")


def test_rich_layout_adds_algebra_bounds_history_and_status(tmp_path):
    env = DebugEnv(layout="rich", max_steps=5)
    obs, _ = env.reset(capacity_demand(tmp_path))
    assert "Step: 0/5" in obs
    assert "  cap: x + y <= 4" in obs and "  dem: x + y >= 6" in obs
    obs, *_ = env.step("RELAX_CONSTRAINT(cap, 2)")
    assert "Status: OPTIMAL" in obs and "Objective: 6" in obs
    assert "1. RELAX_CONSTRAINT(cap, 2.0) -> Relaxed cap by 2: <= 4 -> <= 6." in obs
    assert "None (the model is not infeasible)" in obs
    obs, *_ = env.step("DROP_CONSTRAINT(nope)")
    assert "2. DROP_CONSTRAINT(nope) [invalid] -> Invalid action: unknown constraint 'nope'" in obs


def test_rich_layout_caps_large_iis_with_counts():
    names = [f"c{i}" for i in range(45)]
    state = ObservationState(
        problem_id="big", status="INFEASIBLE", iis_constraints=names, iis_bounds=["x1"], n_constraints=45,
        n_variables=9, constraint_names=names * 2, iis_details=[f"{n}: x1 <= 1" for n in names],
        bounds=["x1: [0, 1] (ub in IIS)"], history=[HistoryEntry(step=i, action="GET_IIS()", result="ok") for i in range(1, 13)],
    )  # fmt: skip
    text = render(state, "rich")
    assert "Conflicting Constraints (45):" in text
    assert f"  c{MAX_IIS_ITEMS - 1}: x1 <= 1" in text and f"c{MAX_IIS_ITEMS}: x1" not in text
    assert f"  … and {45 - MAX_IIS_ITEMS} more" in text
    assert "  x1: [0, 1] (ub in IIS)" in text
    assert "… 2 earlier steps" in text and "12. GET_IIS() -> ok" in text
    assert "… and 30 more" in text  # constraint names capped at 60


def test_state_round_trips_through_json_and_renders_the_same(tmp_path):
    env = DebugEnv(layout="rich")
    env.reset(capacity_demand(tmp_path))
    *_, info = env.step("GET_IIS()")
    state = info["state"]
    again = ObservationState.model_validate(json.loads(state.model_dump_json()))
    for layout in ("legacy", "rich"):
        assert render(again, layout) == render(state, layout)


def test_unknown_layout_is_rejected():
    state = ObservationState(problem_id="p", status="OPTIMAL", n_constraints=0, n_variables=0)
    with pytest.raises(ValueError, match="unknown observation layout 'fancy'"):
        render(state, "fancy")
    with pytest.raises(ValueError):
        DebugEnv(layout="fancy")
