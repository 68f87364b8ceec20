"""Episode metrics: hand-computed values (declarations and intervals: tests/test_metric_registry.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ordebug_models import capacity_demand

from ordebug.episode import DebugEnv, EpisodeRecord, StepRecord
from ordebug.metrics import EPISODE_METRICS, episode_metrics, objective_preservation
from ordebug.problems import Problem


def _record(**kw) -> EpisodeRecord:
    n_steps = kw.pop("n_steps", 2)
    status = kw.get("final_status", "OPTIMAL")
    base = {
        "problem_id": "p", "layout": "legacy", "max_steps": 20, "initial_status": "INFEASIBLE",
        "final_status": status,
        "steps": [StepRecord(index=i, valid=True, result="", status=status) for i in range(1, n_steps + 1)],
    }  # fmt: skip
    return EpisodeRecord(**(base | kw))


def _problem(target: str = "", z0: float | None = None) -> Problem:
    return Problem(problem_id="p", model_path=Path("p.mps"), target_name=target, original_objective=z0)


@pytest.mark.parametrize(("recovered", "success", "expected"), [
    (3, True, (1.0, 1.0, 1.0)), (7, True, (0.0, 1.0, 1.0)), (15, True, (0.0, 0.0, 1.0)),
    (5, True, (1.0, 1.0, 1.0)), (None, False, (0.0, 0.0, 0.0)),
])  # fmt: skip
def test_rr_at_k(recovered, success, expected):
    record = _record(success=success, recovered_step=recovered)
    values = episode_metrics(record, None)
    assert (values["rr@5"], values["rr@10"], values["rr@20"]) == expected


def test_da_iis_is_jaccard_of_blamed_constraints_and_initial_iis():
    record = _record(
        initial_iis_constraints=["c1", "c2"],
        changes=["DROP_CONSTRAINT(c1)", "RELAX_CONSTRAINT(c9, 1.0)", "UPDATE_BOUNDS(x1, 0.0, 5.0)", "RESET()"],
        blamed=["c1", "c9", "x1"],
    )
    assert episode_metrics(record, None)["da_iis"] == pytest.approx(1 / 3)  # {c1} / {c1,c2,c9}
    assert episode_metrics(_record(), None)["da_iis"] is None  # no IIS constraints recorded


@pytest.mark.parametrize(("target", "blamed", "expected"), [
    ("c3", ["c3"], 1.0), ("c3", ["c4"], 0.0), ("a,b", ["a"], 0.5), ("a, b", ["b", "a"], 1.0),
    ("_saboteur_lower_x0:x0", ["_saboteur_lower_x0"], 1.0), ("x0", ["x0"], 1.0), ("", ["c1"], None),
])  # fmt: skip
def test_da_target_hit(target, blamed, expected):
    record = _record(blamed=blamed)
    assert episode_metrics(record, _problem(target))["da_target"] == expected


@pytest.mark.parametrize(("z", "z0", "expected"), [
    (12.0, 10.0, 0.8), (8.0, 10.0, 0.8), (-12.0, -10.0, 0.8), (30.0, 10.0, 0.0), (10.0, 10.0, 1.0),
    (0.25, 0.0, 0.75), (-0.25, 0.0, 0.75), (3.0, 0.0, 0.0), (None, 10.0, 0.0), (5.0, None, None),
])  # fmt: skip
def test_objective_preservation_including_the_zero_rule(z, z0, expected):
    value = objective_preservation(z, z0)
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)


def test_op_te_fp_on_records():
    ok = _record(success=True, objective=12.0, original_objective=10.0, solver_calls=4,
                 n_original_constraints=10, n_kept_constraints=9)  # fmt: skip
    values = episode_metrics(ok, _problem(z0=10.0))
    assert values["op"] == pytest.approx(0.8) and values["te"] == 0.25 and values["fp"] == pytest.approx(0.9)
    failed = _record(success=False, final_status="INFEASIBLE", objective=None, original_objective=10.0,
                     solver_calls=0, n_original_constraints=10, n_kept_constraints=10)  # fmt: skip
    values = episode_metrics(failed)
    assert (values["op"], values["te"], values["fp"]) == (0.0, 1.0, 0.0)
    assert episode_metrics(_record(success=True, objective=3.0))["op"] is None  # no Z0 known


def test_metrics_of_a_played_episode(tmp_path):
    problem = capacity_demand(tmp_path)  # Z0 recorded as 4; RELAX(cap, 2) ends at objective 6
    env = DebugEnv()
    env.reset(problem)
    for action in ("GET_IIS()", "DROP_CONSTRAINT(nope)", "RELAX_CONSTRAINT(cap, 2)", "SUBMIT()"):
        env.step(action)
    values = episode_metrics(env.record(), problem)
    assert values["rr@5"] == 1.0 and values["recovery"] == 1.0
    assert values["op"] == pytest.approx(0.5)  # 1 - |6 - 4| / 4
    assert values["te"] == pytest.approx(1 / 2)  # GET_IIS + one re-solve (feasible: no IIS)
    assert values["fp"] == 1.0 and values["da_iis"] == pytest.approx(1 / 2)  # {cap} / {cap, dem}
    assert values["da_target"] == 0.0  # the target was dem
    assert values["steps"] == 4.0 and values["invalid_action_rate"] == 0.25


def test_the_benchmark_metrics_are_all_computed_per_episode():
    assert {"rr@5", "rr@10", "rr@20", "da_iis", "da_target", "op", "te", "fp"} <= set(EPISODE_METRICS)
    assert set(episode_metrics(_record(), None)) == set(EPISODE_METRICS)
