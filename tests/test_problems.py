"""Loading and writing problems: OR-Debug-Bench's benchmark sets, raw model files, bad input."""

from __future__ import annotations

import json

import gurobipy as gp
import pytest
from ordebug_models import capacity_demand, oversize

from ordebug import solver
from ordebug.errors import LicenseLimitError, OrDebugError, ProblemLoadError
from ordebug.problems import (
    HEADER_KEYS,
    PROBLEM_KEYS,
    load_benchmark,
    load_model_files,
    load_problems,
    write_benchmark,
)

SETS = ("test", "hard", "mdp_v2")


def _is_infeasible_subsystem(problem, constraints, bound_vars) -> bool:
    """Keep only the named constraints and the named variables' bounds: is that still infeasible?"""
    m = problem.read_model()
    for c in m.getConstrs():
        if c.ConstrName not in constraints:
            m.remove(c)
    for v in m.getVars():
        if v.VarName not in bound_vars:
            v.LB, v.UB = -gp.GRB.INFINITY, gp.GRB.INFINITY
    return solver.solve(m).status == "INFEASIBLE"


@pytest.mark.parametrize("name", SETS)
def test_every_benchmark_problem_loads_is_infeasible_and_shows_its_recorded_iis(shared_data, name):
    directory = shared_data / "or_debug_bench" / name
    raw = json.loads((directory / "dataset.json").read_text())
    problems = load_benchmark(directory)
    assert [p.problem_id for p in problems] == [e["problem_id"] for e in raw["problems"]]
    exact, alternative = 0, []
    for problem, entry in zip(problems, raw["problems"], strict=True):
        assert problem.metadata == entry  # every key verbatim
        assert problem.error_type == entry["error_type"] and problem.difficulty == entry["difficulty"]
        assert problem.target_name == entry["target_name"]
        assert problem.original_objective == entry["original_objective"]
        model = problem.read_model()
        result = solver.solve(model)
        assert result.status == "INFEASIBLE", problem.problem_id
        iis = solver.compute_iis(model)
        if iis.constraints == entry["iis_constraints"] and iis.bounds == entry["iis_bounds"]:
            exact += 1
        else:
            alternative.append(problem)
    # IISs are not unique. Where Gurobi 13 picks another one than the recorded, the recorded one
    # must still be a genuine infeasible subsystem of the same model (checked, not assumed).
    for problem in alternative:
        assert _is_infeasible_subsystem(problem, problem.iis_constraints, problem.iis_bounds), problem.problem_id
    print(f"{name}: {exact}/{len(problems)} recorded IIS reproduced exactly; "
          f"{len(alternative)} alternative IIS ({sorted({p.error_type for p in alternative})})")  # fmt: skip
    if name != "hard":  # all of test and mdp_v2 reproduce exactly; only hard's type F differ
        assert not alternative
    assert all(p.error_type == "F" for p in alternative)


def test_every_netlib_infeasible_lp_loads_and_is_infeasible(shared_data):
    problems = load_problems(shared_data / "netlib" / "infeasible")
    assert len(problems) == len(list((shared_data / "netlib" / "infeasible").glob("*.mps")))
    for problem in problems:
        assert problem.error_type is None and problem.source == "files:infeasible"
        result = solver.solve(problem.read_model())
        assert result.status == "INFEASIBLE", problem.problem_id  # bgprtr needs the INF_OR_UNBD re-solve


def test_inf_or_unbd_is_resolved_with_a_second_solve(shared_data):
    (problem,) = load_problems(shared_data / "netlib" / "infeasible" / "bgprtr.mps")
    model = problem.read_model()
    model.optimize()
    assert model.Status == gp.GRB.INF_OR_UNBD  # what a plain solve says
    result = solver.solve(problem.read_model())
    assert (result.status, result.solver_calls) == ("INFEASIBLE", 2)


def test_load_problems_dispatches_on_what_it_is_given(shared_data):
    bench = shared_data / "or_debug_bench"
    every = load_problems(bench)  # a folder of sets
    assert len(every) == sum(len(json.loads((bench / s / "dataset.json").read_text())["problems"]) for s in SETS)
    assert [p.problem_id for p in load_problems(bench / "test" / "dataset.json")] == [
        p.problem_id for p in load_benchmark(bench / "test")
    ]
    netlib = load_problems(str(shared_data / "netlib" / "*"))  # a glob over two folders
    assert {p.problem_id for p in netlib} >= {"afiro", "klein1"}
    mixed = load_problems([bench / "mdp_v2", shared_data / "netlib" / "feasible" / "afiro.mps"])
    assert mixed[-1].problem_id == "afiro" and mixed[0].source == "or_debug_bench_mdp_v2"
    with pytest.raises(ProblemLoadError, match="appears 2 times"):
        load_problems([bench / "test", bench / "test"])
    with pytest.raises(ProblemLoadError, match="matches nothing"):
        load_problems(str(shared_data / "netlib" / "*.nothing"))


def _bad_set(tmp_path, text: str):
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "dataset.json").write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"problems": [\n{"problem_id": "a",}\n]}', r"dataset\.json:2: not valid JSON"),
        ('{"dataset_name": "x"}', "missing key 'problems'"),
        ('{"problems": {"a": 1}}', "'problems' must be a list"),
        ('{"problems": [{"model_file": "models/a.mps"}]}', r"problems\[0\]: key 'problem_id'"),
        ('{"problems": [{"problem_id": "a", "iis_constraints": "c1"}]}', r"problems\[0\]: key 'iis_constraints'"),
        ('{"problems": [{"problem_id": "a"}]}', r"problems\[0\] \(a\): key 'model_file'.*does not exist"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_malformed_dataset_json_is_one_line_naming_file_and_key(tmp_path, text, expected):
    directory = _bad_set(tmp_path, text)
    with pytest.raises(ProblemLoadError, match=expected) as err:
        load_benchmark(directory)
    assert str(directory / "dataset.json") in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_dataset_json_and_empty_folder(tmp_path):
    with pytest.raises(ProblemLoadError, match="no dataset.json"):
        load_benchmark(tmp_path)
    with pytest.raises(ProblemLoadError, match="no dataset.json and no .mps/.lp files"):
        load_problems(tmp_path)
    with pytest.raises(ProblemLoadError, match="no such file"):
        load_problems(tmp_path / "nowhere")


def test_unreadable_mps_names_the_file(tmp_path):
    bad = tmp_path / "broken.mps"
    bad.write_text("NAME broken\nROWS\n N obj\n L c1\nCOLUMNS\n    x obj one two three four\nGARBAGE\n")
    (problem,) = load_model_files(bad)  # listing is lazy: the batch is not stopped here
    with pytest.raises(ProblemLoadError, match=r"broken\.mps: Gurobi cannot read this model"):
        problem.read_model()
    with pytest.raises(ProblemLoadError, match="model file not found"):
        solver.read_model(tmp_path / "gone.mps")


def test_oversize_model_is_refused_before_optimize_naming_the_file(tmp_path):
    if solver.size_limit() is None:
        pytest.skip("an unrestricted Gurobi licence is installed: no size limit to hit")
    path = oversize(tmp_path)
    capacity_demand(tmp_path)
    problems = load_model_files(tmp_path)  # both listed; the batch can go on
    assert [p.problem_id for p in problems] == ["capacity_demand", "oversize"]
    with pytest.raises(LicenseLimitError, match=r"oversize\.mps: model has 2001 variables and 1 constraints") as err:
        problems[1].read_model()
    assert "2000" in str(err.value) and "\n" not in str(err.value)
    assert solver.solve(problems[0].read_model()).status == "INFEASIBLE"
    model = gp.read(str(path), env=solver.gurobi_env())
    with pytest.raises(LicenseLimitError):
        solver.solve(model, source=str(path))


def test_write_benchmark_round_trips_in_the_users_layout(shared_data, tmp_path):
    source = load_benchmark(shared_data / "or_debug_bench" / "test")[:3]
    entries = [(dict(p.metadata), p.read_model()) for p in source]
    out = tmp_path / "set"
    path = write_benchmark(out, entries, {"dataset_name": "mine", "seed": 7})
    data = json.loads(path.read_text())
    assert list(data) == [*HEADER_KEYS, "problems"]
    assert data["num_problems"] == 3 and data["dataset_name"] == "mine" and data["seed"] == 7
    for entry, problem in zip(data["problems"], source, strict=True):
        assert list(entry) == list(PROBLEM_KEYS)
        assert {k: v for k, v in entry.items() if k != "created_at"} == {
            k: v for k, v in problem.metadata.items() if k != "created_at"
        }
    again = load_benchmark(out)
    for before, after in zip(source, again, strict=True):
        iis = solver.compute_iis(after.read_model())
        assert (iis.constraints, iis.bounds) == (before.iis_constraints, before.iis_bounds)
    assert "Dataset Report: mine" in (out / "report.txt").read_text()
    with pytest.raises(OrDebugError, match="not empty"):
        write_benchmark(out, entries)
    write_benchmark(out, entries[:1], overwrite=True)
    assert json.loads(path.read_text())["num_problems"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no temp folders left behind


def test_write_benchmark_computes_missing_metadata(tmp_path):
    problem = capacity_demand(tmp_path / "src")
    path = write_benchmark(tmp_path / "out", [({"problem_id": "cd_000", "error_type": "D"}, problem.read_model())])
    entry = json.loads(path.read_text())["problems"][0]
    assert entry["initial_status"] == "INFEASIBLE"
    assert (entry["iis_constraints"], entry["iis_bounds"], entry["iis_size"]) == (["cap", "dem"], [], 2)
    assert (entry["difficulty"], entry["problem_type"], entry["n_variables"], entry["n_constraints"]) == (
        "easy", "lp", 2, 3,
    )  # fmt: skip
    assert "Conflicting Constraint" in entry["problem_nl"]
    header = json.loads(path.read_text())
    assert header["success_by_type"] == {"D": 1} and header["difficulty_distribution"]["easy"] == 1
