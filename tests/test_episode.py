"""Episode semantics: each action, each constraint sense, statuses, limits and bad input."""

from __future__ import annotations

import math

import pytest
from gurobipy import GRB
from ordebug_models import bound_conflict, capacity_demand, equality, unbounded_after_drop

from ordebug.actions import Action, ActionName
from ordebug.episode import REWARD_FAILURE, REWARD_INVALID, REWARD_SUCCESS, DebugEnv, EpisodeRecord
from ordebug.errors import EpisodeError
from ordebug.observation import ObservationState
from ordebug.problems import load_problems

INFO_KEYS = {"state", "status", "objective", "result", "valid", "error", "solver_calls", "step", "action"}


def _rows(env: DebugEnv, name: str) -> list[tuple[str, float]]:
    model = env.current_model()
    return [(c.Sense, c.RHS) for c in model.getConstrs() if c.ConstrName == name]


def test_reset_shows_the_initial_iis_and_costs_the_agent_no_solver_calls(tmp_path):
    env = DebugEnv()
    obs, info = env.reset(capacity_demand(tmp_path))
    assert set(info) == INFO_KEYS
    assert info["status"] == "INFEASIBLE" and info["solver_calls"] == 0
    assert "Conflicting Constraints: ['cap', 'dem']" in obs
    assert info["state"].iis_constraints == ["cap", "dem"]


def test_relax_le_raises_rhs_and_ge_lowers_it(tmp_path):
    env = DebugEnv()
    env.reset(capacity_demand(tmp_path))
    _, reward, term, trunc, info = env.step("RELAX_CONSTRAINT(dem, 1)")
    assert _rows(env, "dem") == [(GRB.GREATER_EQUAL, 5.0)]
    assert info["status"] == "INFEASIBLE" and (reward, term, trunc) == (0.0, False, False)
    assert info["solver_calls"] == 2  # the re-solve and the automatic IIS
    _, _, _, _, info = env.step("RELAX_CONSTRAINT(cap, 1)")
    assert _rows(env, "cap") == [(GRB.LESS_EQUAL, 5.0)]
    assert info["status"] == "OPTIMAL" and info["objective"] == pytest.approx(5.0)
    assert info["solver_calls"] == 3  # feasible now: no IIS to compute


def test_relax_equality_becomes_a_range_that_stays_one_constraint(tmp_path):
    env = DebugEnv()
    env.reset(equality(tmp_path))
    obs, _, _, _, info = env.step("RELAX_CONSTRAINT(bal, 3)")
    assert sorted(_rows(env, "bal")) == sorted([(GRB.GREATER_EQUAL, 9.0), (GRB.LESS_EQUAL, 15.0)])
    assert info["status"] == "OPTIMAL" and info["objective"] == pytest.approx(9.0)
    assert "Constraints: 1\n" in obs and "Constraint Names: ['bal']" in obs
    assert "= 12 -> in [9, 15]" in info["result"]
    *_, info = env.step("CHECK_SLACK(bal)")
    assert "activity 9, rhs >= 9, slack 0" in info["result"] and "rhs <= 15, slack 6" in info["result"]
    env.step("RELAX_CONSTRAINT(bal, 1)")  # a range widens on both sides
    assert sorted(_rows(env, "bal")) == sorted([(GRB.GREATER_EQUAL, 8.0), (GRB.LESS_EQUAL, 16.0)])
    env.step("UPDATE_RHS(bal, 7)")  # collapses the range to row = 7
    assert sorted(_rows(env, "bal")) == sorted([(GRB.GREATER_EQUAL, 7.0), (GRB.LESS_EQUAL, 7.0)])
    assert env.record().n_kept_constraints == 1


def test_drop_update_rhs_and_reset(tmp_path):
    env = DebugEnv()
    env.reset(capacity_demand(tmp_path))
    obs, _, _, _, info = env.step("DROP_CONSTRAINT(dem)")
    assert info["status"] == "OPTIMAL" and "Constraints: 2\n" in obs and "'dem'" not in obs.split("Names:")[1]
    _, reward, _, _, info = env.step("DROP_CONSTRAINT(dem)")
    assert not info["valid"] and "already dropped" in info["error"] and reward == REWARD_INVALID
    env.step("UPDATE_RHS(cap, 7)")
    assert _rows(env, "cap") == [(GRB.LESS_EQUAL, 7.0)]
    calls = env.record().solver_calls
    obs, _, _, _, info = env.step("RESET()")
    assert info["status"] == "INFEASIBLE" and "Constraints: 3\n" in obs
    assert _rows(env, "cap") == [(GRB.LESS_EQUAL, 4.0)]
    assert info["solver_calls"] == calls  # the original's status and IIS are cached
    record = env.record()
    assert record.changes == ["DROP_CONSTRAINT(dem)", "UPDATE_RHS(cap, 7.0)", "RESET()"]
    assert record.blamed == ["dem", "cap"] and record.n_kept_constraints == 3


def test_update_bounds_three_and_legacy_two_argument_forms(tmp_path):
    env = DebugEnv()
    env.reset(bound_conflict(tmp_path))
    _, _, _, _, info = env.step("UPDATE_BOUNDS(x, 1)")  # legacy: new lb, ub kept
    model = env.current_model()  # keep the copy alive while reading its variables
    var = model.getVarByName("x")
    assert (var.LB, var.UB) == (1.0, 3.0) and info["status"] == "INFEASIBLE"
    _, _, _, _, info = env.step("UPDATE_BOUNDS(x, 0, inf)")
    model = env.current_model()
    var = model.getVarByName("x")
    assert var.LB == 0.0 and var.UB >= GRB.INFINITY and info["status"] == "OPTIMAL"
    *_, info = env.step("UPDATE_BOUNDS(x, 9)")  # lb above... nothing: ub is inf now
    assert info["valid"]
    env.step("UPDATE_BOUNDS(x, 0, 3)")
    *_, info = env.step("UPDATE_BOUNDS(x, 4)")
    assert not info["valid"] and "above its ub 3" in info["error"]


def test_get_iis_and_check_slack_do_not_change_the_model(tmp_path):
    env = DebugEnv()
    env.reset(capacity_demand(tmp_path))
    *_, info = env.step("GET_IIS()")
    assert info["result"] == "IIS: constraints ['cap', 'dem']; bounds []." and info["solver_calls"] == 1
    *_, info = env.step("CHECK_SLACK(cap)")
    assert "cap: x + y <= 4" in info["result"] and "INFEASIBLE" in info["result"] and info["solver_calls"] == 1
    env.step("RELAX_CONSTRAINT(cap, 2)")
    *_, info = env.step("CHECK_SLACK(side)")
    assert info["result"] == "side: activity 6, rhs <= 8, slack 2 (not binding)."
    *_, info = env.step("GET_IIS()")
    assert info["result"].startswith("No IIS: the model is not infeasible")
    record = env.record()
    assert record.inspected == ["cap", "side"] and record.blamed == ["cap"]


def test_submit_success_and_failure(tmp_path):
    env = DebugEnv()
    env.reset(capacity_demand(tmp_path))
    _, reward, term, trunc, _ = env.step("SUBMIT()")
    assert (reward, term, trunc) == (REWARD_FAILURE, True, False)
    record = env.record()
    assert not record.success and record.submitted and record.final_status == "INFEASIBLE"
    with pytest.raises(EpisodeError, match="has ended"):
        env.step("GET_IIS()")
    env.reset(capacity_demand(tmp_path / "again"))
    env.step(Action(name=ActionName.RELAX_CONSTRAINT, target="cap", values=(2.0,)))
    _, reward, term, _, _ = env.step(Action(name=ActionName.SUBMIT))
    record = env.record()
    assert (reward, term) == (REWARD_SUCCESS, True)
    assert record.success and record.recovered_step == 1 and record.objective == pytest.approx(6.0)


def test_auto_submit_ends_the_episode_when_optimal(tmp_path):
    env = DebugEnv(auto_submit=True)
    env.reset(capacity_demand(tmp_path))
    _, reward, term, _, _ = env.step("DROP_CONSTRAINT(dem)")
    assert (reward, term) == (REWARD_SUCCESS, True) and env.record().success


def test_step_limit_truncates(tmp_path):
    env = DebugEnv(max_steps=2)
    env.reset(capacity_demand(tmp_path))
    assert env.step("GET_IIS()")[3] is False
    _, reward, term, trunc, _ = env.step("GET_IIS()")
    assert (term, trunc, reward) == (False, True, 0.0)
    assert env.record().truncated and not env.record().success


def test_unbounded_and_time_limit_statuses(tmp_path):
    env = DebugEnv()
    env.reset(unbounded_after_drop(tmp_path))
    *_, info = env.step("DROP_CONSTRAINT(neg)")
    assert info["status"] == "UNBOUNDED" and info["objective"] is None
    _, reward, *_ = env.step("SUBMIT()")
    assert reward == REWARD_FAILURE and not env.record().success
    env = DebugEnv(time_limit=0)
    obs, info = env.reset(capacity_demand(tmp_path / "t"))
    assert info["status"] == "TIME_LIMIT" and "Status: TIME_LIMIT" in obs


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("DROP_CONSTRAINT(dme)", "unknown constraint 'dme' (did you mean 'dem'?)"),
        ("RELAX_CONSTRAINT(cap, nan)", "not a finite number"),
        ("RELAX_CONSTRAINT(cap, inf)", "not a finite number"),
        ("RELAX_CONSTRAINT(cap, -1)", "must be positive"),
        ("DROP_CONSTRAINT(x)", "'x' is a variable, not a constraint"),
        ("UPDATE_BOUNDS(cap, 0, 1)", "'cap' is a constraint, not a variable"),
        ("UPDATE_BOUNDS(z, 0, 1)", "unknown variable 'z'"),
        ("please drop cap", "is not of the form NAME(arguments)"),
        ("", "empty action text"),
    ],
)
def test_bad_actions_are_counted_invalid_steps_never_exceptions(tmp_path, text, error):
    env = DebugEnv()
    env.reset(capacity_demand(tmp_path))
    _, reward, term, trunc, info = env.step(text)
    assert not info["valid"] and error in info["error"] and reward == REWARD_INVALID
    assert info["result"] == f"Invalid action: {info['error']}" and info["solver_calls"] == 0
    assert not term and not trunc and info["status"] == "INFEASIBLE"
    record = env.record()
    assert record.n_invalid == 1 and record.steps[0].raw == text and record.changes == []


def test_misuse_raises_episode_error(tmp_path):
    env = DebugEnv()
    with pytest.raises(EpisodeError, match="before reset"):
        env.step("GET_IIS()")
    with pytest.raises(EpisodeError):
        DebugEnv(max_steps=0)


def check_env_contract(env: DebugEnv, problem) -> EpisodeRecord:
    """Gymnasium-style checker: types of every returned value, info keys, termination rules."""
    obs, info = env.reset(problem)
    assert isinstance(obs, str) and set(info) == INFO_KEYS and isinstance(info["state"], ObservationState)
    assert info["status"] == "INFEASIBLE" and info["state"].iis_constraints + info["state"].iis_bounds
    first = (info["state"].iis_constraints or [None])[0]
    script = ["GET_IIS()", f"CHECK_SLACK({first})" if first else "GET_IIS()", "NOT_AN_ACTION",
              f"DROP_CONSTRAINT({first})" if first else "RESET()", "RESET()", "SUBMIT()"]  # fmt: skip
    for i, action in enumerate(script, 1):
        obs, reward, term, trunc, info = env.step(action)
        assert isinstance(obs, str) and isinstance(reward, float) and set(info) == INFO_KEYS
        assert isinstance(term, bool) and isinstance(trunc, bool) and info["step"] == i
        assert math.isfinite(reward)
    assert term and not trunc
    return env.record()


def test_contract_checker_over_every_problem_family(shared_data):
    bench = load_problems(shared_data / "or_debug_bench")
    one_per_type = {}
    for problem in bench:
        one_per_type.setdefault((problem.error_type, problem.problem_type), problem)
    netlib = load_problems(shared_data / "netlib" / "infeasible")
    env = DebugEnv(layout="rich")
    for problem in [*one_per_type.values(), *netlib]:
        record = check_env_contract(env, problem)
        assert record.n_steps == 6 and record.n_invalid == 1 and record.submitted
    assert {t for t, _ in one_per_type} == set("ABCDEFGHI")


def test_episodes_can_be_stepped_from_worker_threads(tmp_path):
    # Collectors and eval step episodes through asyncio.to_thread: each DebugEnv owns its Gurobi env.
    from concurrent.futures import ThreadPoolExecutor

    problems = [capacity_demand(tmp_path / str(i)) for i in range(4)]
    envs = [DebugEnv() for _ in problems]
    for env, problem in zip(envs, problems, strict=True):
        env.reset(problem)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for action in ("GET_IIS()", "RELAX_CONSTRAINT(cap, 2)", "SUBMIT()"):
            list(pool.map(lambda env, a=action: env.step(a), envs))
    assert all(env.record().success for env in envs)


def test_without_auto_iis_the_episode_is_the_same_but_computes_no_iis(tmp_path, shared_data):
    # The RL reward reads the status, not the observation: auto_iis=False skips the IIS of every
    # infeasible state; everything the reward reads must be what the default environment gives.
    problems = [capacity_demand(tmp_path / "cd"), equality(tmp_path / "eq"), bound_conflict(tmp_path / "bc")]
    problems += load_problems(shared_data / "or_debug_bench" / "test")[:6]
    for problem in problems:
        full, lean = DebugEnv(max_steps=8), DebugEnv(max_steps=8, auto_iis=False)
        _, info = full.reset(problem)
        _, lean_info = lean.reset(problem)
        assert lean_info["state"].iis_constraints == [] and lean_info["status"] == info["status"]
        names = info["state"].constraint_names
        script = [f"RELAX_CONSTRAINT({names[0]}, 1)", f"CHECK_SLACK({names[-1]})", "NOT_AN_ACTION",
                  f"DROP_CONSTRAINT({names[-1]})", f"UPDATE_RHS({names[0]}, 0)", "RESET()", "GET_IIS()"]  # fmt: skip
        for action in script:
            *_, a = full.step(action)
            *_, b = lean.step(action)
            assert (b["status"], b["objective"], b["valid"], b["error"]) == (a["status"], a["objective"], a["valid"], a["error"])
            assert b["solver_calls"] <= a["solver_calls"]
        assert b["result"] == a["result"]  # GET_IIS() still computes the IIS on request
        assert b["state"].iis_constraints == a["state"].iis_constraints
        f, g = full.record(), lean.record()
        assert g.model_dump(exclude={"steps", "solver_calls", "initial_iis_constraints", "initial_iis_bounds"}) == \
            f.model_dump(exclude={"steps", "solver_calls", "initial_iis_constraints", "initial_iis_bounds"})  # fmt: skip
    with pytest.raises(EpisodeError, match="auto_iis"):
        DebugEnv(layout="rich", whatif=True, auto_iis=False)
    with pytest.raises(EpisodeError, match="auto_iis"):
        DebugEnv(layout="rich", diagnostics=True, auto_iis=False)
