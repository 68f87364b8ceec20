"""`python -m ordebug.generate`: generated families + verified error injection, in OR-Debug-Bench's layout.

Every check re-reads what was written (MPS + dataset.json) and re-solves it here; nothing is
taken from the generator's own verification.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import gurobipy as gp
import pytest
from gurobipy import GRB

from ordebug import solver
from ordebug.edits import RemoveConstraint, apply_edits
from ordebug.errors import OrDebugError
from ordebug.generate import generate
from ordebug.inject import apply_ground_truth
from ordebug.problems import Problem, load_benchmark

ALL = list("ABCDEFGHI")
N = 27  # three problems of each type A-I
EPOCH = "1767225600"  # 2026-01-01, fixes created_at so whole files can be compared


def _generate(out: Path, seed: int, n: int = N, types: list[str] = ALL, **kw) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        generate(out, n, seed, types, progress=False, name="test_set", **kw)
    return out


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("gen") / "set", seed=0)


@pytest.fixture(scope="module")
def problems(bench: Path) -> list[Problem]:
    return load_benchmark(bench)


def _solve(model: gp.Model) -> solver.SolveResult:
    model.Params.MIPGap = 0.0
    return solver.solve(model)


def _repaired(p: Problem) -> solver.SolveResult:
    model = p.read_model()
    apply_ground_truth(model, p.metadata)
    return _solve(model)


def _expected_difficulty(size: int) -> str:
    return "easy" if size <= 2 else ("medium" if size <= 5 else "hard")


def test_every_problem_is_infeasible_and_its_recorded_repair_gives_back_the_original_objective(problems):
    assert len(problems) == N
    for p in problems:
        model = p.read_model()
        assert _solve(model).status == "INFEASIBLE", p.problem_id
        iis = solver.compute_iis(model)
        assert (iis.constraints, iis.bounds) == (p.iis_constraints, p.iis_bounds), p.problem_id
        fixed = _repaired(p)
        assert fixed.status == "OPTIMAL", p.problem_id
        assert fixed.objective == pytest.approx(p.original_objective, rel=1e-6), p.problem_id


def test_difficulty_and_sizes_follow_the_iis(problems):
    for p in problems:
        meta = p.metadata
        assert meta["iis_size"] == len(p.iis_constraints) + len(p.iis_bounds) >= 1
        assert p.difficulty == _expected_difficulty(meta["iis_size"]), p.problem_id
        model = p.read_model()
        assert (p.n_variables, p.n_constraints) == (model.NumVars, model.NumConstrs)
        assert model.NumVars <= 2000 and model.NumConstrs <= 2000


def test_requested_types_all_present_split_evenly_with_the_users_ids(problems):
    by_type: dict[str, int] = {}
    for p in problems:
        assert re.fullmatch(r"(lp|mip)_type[A-I]_\d{3}", p.problem_id), p.problem_id
        assert p.problem_id.startswith(p.problem_type) and f"_type{p.error_type}_" in p.problem_id
        by_type[p.error_type] = by_type.get(p.error_type, 0) + 1
    assert by_type == dict.fromkeys(ALL, 3)
    assert len({p.metadata["family"] for p in problems}) >= 4  # several families, not one


def test_layout_keys_and_json_types_match_the_users_sets(bench, shared_data):
    ours = json.loads((bench / "dataset.json").read_text())
    theirs = json.loads((shared_data / "or_debug_bench" / "test" / "dataset.json").read_text())
    assert set(theirs) <= set(ours)
    for key, value in theirs.items():
        if key != "problems" and value is not None:
            assert type(ours[key]) is type(value), key
    sample = theirs["problems"][0]
    for entry in ours["problems"]:
        assert list(entry)[: len(sample)] == list(sample)  # OR-Debug-Bench's keys, in OR-Debug-Bench's order
        for key, value in sample.items():
            assert type(entry[key]) is type(value), (entry["problem_id"], key)
        assert (bench / entry["model_file"]).is_file()
    report = (bench / "report.txt").read_text().splitlines()
    assert report[1] == "Dataset Report: test_set" and f"Total Problems: {N}" in report


def test_same_seed_gives_identical_files_and_another_seed_does_not(bench, tmp_path):
    again = _generate(tmp_path / "again", seed=0)
    assert (again / "dataset.json").read_bytes() == (bench / "dataset.json").read_bytes()
    names = sorted(f.name for f in (bench / "models").iterdir())
    assert names == sorted(f.name for f in (again / "models").iterdir())
    for name in names:
        assert (again / "models" / name).read_bytes() == (bench / "models" / name).read_bytes(), name
    other = _generate(tmp_path / "other", seed=1)
    ours = json.loads((bench / "dataset.json").read_text())["problems"]
    theirs = json.loads((other / "dataset.json").read_text())["problems"]
    assert [p["ground_truth"] for p in ours] != [p["ground_truth"] for p in theirs]
    differ = [
        p["problem_id"]
        for p in ours
        if (other / p["model_file"]).is_file()
        and (other / p["model_file"]).read_bytes() != (bench / p["model_file"]).read_bytes()
    ]
    assert differ


def _without(p: Problem, name: str) -> gp.Model:
    model = p.read_model()
    return apply_edits(model, [RemoveConstraint(constraint=name)])


def test_each_type_has_its_documented_property(problems):
    assert {p.error_type for p in problems} == set(ALL)
    for p in problems:
        gt, names = p.metadata["ground_truth"], p.target_name.split(",")
        model = p.read_model()
        if p.error_type == "A":  # the target's sense is the flipped one; the repair flips it back
            sense = {GRB.LESS_EQUAL: "<=", GRB.GREATER_EQUAL: ">=", GRB.EQUAL: "="}
            assert sense[model.getConstrByName(p.target_name).Sense] != gt["repair"][0]["sense"]
        elif p.error_type == "B":  # target made binary, with a forcing constraint above 1
            var = model.getVarByName(p.target_name)
            assert var.VType == GRB.BINARY
            assert model.getConstrByName(f"_force_{p.target_name}").RHS >= 2
        elif p.error_type == "C":  # one coefficient of the target row:var changed; the repair restores it
            row, var = p.target_name.split(":")
            (repair,) = gt["repair"]
            now = model.getCoeff(model.getConstrByName(row), model.getVarByName(var))
            assert gt["variant"] in ("removed", "sign_flipped", "scaled") and now != repair["coef"]
            assert (repair["op"], repair["constraint"], repair["variable"]) == ("set_coef", row, var)
        elif p.error_type == "D":  # added constraint(s) in the IIS; removing the target restores feasibility
            assert p.target_name in p.iis_constraints and p.target_name.startswith(("_saboteur_conflict_", "_chain_"))
            assert _solve(_without(p, p.target_name)).status == "OPTIMAL", p.problem_id
        elif p.error_type == "F":  # the IIS shows the link; the cause is the root constraint asking too much
            var = p.target_name.removeprefix("_hidden_root_")
            assert p.target_name != var and f"_hidden_link_{var}" in p.iis_constraints
            assert _solve(_without(p, p.target_name)).status == "OPTIMAL", p.problem_id
        elif p.error_type in "EG":  # fixing only one of the two keeps the model infeasible
            assert len(names) == 2
            for name in names:
                assert _solve(_without(p, name)).status == "INFEASIBLE", (p.problem_id, name)
        if p.error_type == "G":  # the IIS shows the first; removing it reveals the second
            first, second = names
            assert first in p.iis_constraints and second not in p.iis_constraints
            assert second in solver.compute_iis(_without(p, first)).constraints
        elif p.error_type == "H":  # a constraint is the visible symptom; the bound is the cause
            assert p.iis_constraints and p.target_name in p.iis_bounds
            assert gt["repair"][0]["op"] == "set_bounds"
        elif p.error_type == "I":  # dropping some IIS member is feasible but moves the objective
            moved = []
            for name in p.iis_constraints:
                res = _solve(_without(p, name))
                if res.status == "OPTIMAL" and abs(res.objective - p.original_objective) > 1e-6 * max(
                    1, abs(p.original_objective)
                ):
                    moved.append(name)
            relaxed = [a for a in gt["alternatives"] if a["action"].startswith("RELAX")]
            assert moved or relaxed, p.problem_id
            assert "CORRECT: RELAX" in p.ground_truth_fix
        elif p.error_type not in "ABCDEF":
            pytest.fail(f"{p.problem_id}: type {p.error_type} has no documented property checked here")


def test_injection_into_the_users_netlib_models(tmp_path, shared_data):
    feasible = shared_data / "netlib" / "feasible"
    out = _generate(
        tmp_path / "netlib",
        seed=0,
        n=8,
        types=["A", "B", "D", "H"],
        from_paths=[feasible / "afiro.mps", feasible / "sc50a.mps"],
    )
    problems = load_benchmark(out)
    assert sorted({p.error_type for p in problems}) == ["A", "B", "D", "H"]
    for p in problems:
        assert p.metadata["source"].endswith(("afiro.mps", "sc50a.mps"))
        assert _solve(p.read_model()).status == "INFEASIBLE"
        assert _repaired(p).objective == pytest.approx(p.original_objective, rel=1e-6)


def test_an_infeasible_model_cannot_be_injected(tmp_path, shared_data):
    bad = shared_data / "netlib" / "infeasible" / "itest2.mps"
    with pytest.raises(OrDebugError, match="itest2.mps.*INFEASIBLE"):
        generate(tmp_path / "x", 2, 0, ["A"], from_paths=[bad], progress=False)
    assert not (tmp_path / "x").exists()


def test_a_type_that_fits_no_model_is_an_error_not_an_empty_set(tmp_path, shared_data):
    afiro = shared_data / "netlib" / "feasible" / "afiro.mps"  # no single coefficient breaks afiro
    with pytest.raises(OrDebugError, match="no problem of types C could be injected"):
        generate(tmp_path / "c", 2, 0, ["C"], from_paths=[afiro], progress=False)
    assert not (tmp_path / "c").exists()


def test_a_repair_naming_a_missing_element_fails_with_its_name(problems):
    model = problems[0].read_model()
    with pytest.raises(OrDebugError, match="no constraint named 'nope'"):
        apply_edits(model, [{"op": "remove_constraint", "constraint": "nope"}])
    with pytest.raises(OrDebugError, match="ground_truth"):
        apply_ground_truth(model, {"problem_id": "x", "ground_truth": {"repair": [{"op": "explode"}]}})


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ordebug.generate", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--types", "A,Z"], "unknown error type 'Z'"),
        (["--n", "0"], "--n must be a positive integer, got 0"),
        (["--n", "-3"], "--n must be a positive integer, got -3"),
        (["--n", "many"], "invalid int value: 'many'"),
        (["--n", "2", "--types", "A,B,C"], "--n 2 is smaller than the number of --types (3)"),
    ],
)
def test_bad_arguments_give_one_line_errors(tmp_path, args, message):
    res = _cli("--out", str(tmp_path / "out"), *args)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and message in res.stderr
    assert not (tmp_path / "out").exists()


def test_cli_writes_a_set_prints_a_table_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "cli"
    res = _cli("--out", str(out), "--n", "4", "--types", "A,D", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "flipped sense" in res.stdout and "problems/s" in res.stdout
    assert len(load_benchmark(out)) == 4
    again = _cli("--out", str(out), "--n", "4", "--types", "A,D", "--no-progress")
    assert (
        again.returncode == 2
        and len(again.stderr.strip().splitlines()) == 1
        and "--overwrite" in again.stderr
    )
    assert _cli("--help").returncode == 0
