"""Default data is what the benchmark's RL stage accepts: its eight actions, parsed its way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from collectors_helpers import make_bench, run_cli

from ordebug import diagnostics, solver
from ordebug.benchmark_actions import check_benchmark_action
from ordebug.episode import DebugEnv
from ordebug.metrics import episode_metrics
from ordebug.observation import fmt_num
from ordebug.problems import load_problems

#: Two-value UPDATE_BOUNDS labels (the RL stage wants three) by the legacy Alpaca file's size: the full
#: file (ORDEBUG_SHARED_DATA) and the excerpt in tests/data.
TWO_VALUE_UPDATE_BOUNDS = {774: 15, 120: 1}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("<think>\nx\n</think>\n\nAction: RELAX_CONSTRAINT(c1, 2.5)", None),
        ("<think>\nx\n</think>\n\naction: update_bounds(x, 0, inf)", None),
        ("<think>\nx\n</think>\n\nAction: WHATIF_IIS()", "unknown_action"),
        ("<think>\nthe next action: DROP_CONSTRAINT(c1)\n</think>\n\nAction: SUBMIT()", "action_in_reasoning"),
        ("<think>\nx\n</think>\n\nAction: UPDATE_BOUNDS(x0, -1000000.0)", "wrong_arity"),
        ("<think>\nx\n</think>\n\nAction: RELAX_CONSTRAINT(c1, a lot)", "not_a_number"),
        ("<think>\nx\n</think>\n\nI give up.", "no_action"),
    ],
)
def test_answers_are_read_as_the_rl_stage_reads_them(answer: str, reason: str | None) -> None:
    assert check_benchmark_action(answer).reason == reason


def test_default_collected_data_uses_only_the_eight_actions(tmp_path: Path) -> None:
    """Fails on data that opens with WHATIF_IIS() (the old default) or says 'Action:' in <think>."""
    bench = make_bench(tmp_path / "bench", n=18)
    for agent in ("heuristic", "oracle"):
        out = tmp_path / f"{agent}.jsonl"
        done = run_cli("collectors", "--problems", str(bench), "--agent", agent, "--out", str(out), "--no-progress")
        assert done.returncode == 0, done.stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        answers = [s["raw_output"] for r in records for s in r["steps"]]
        rejected = [(a, check_benchmark_action(a).reason) for a in answers if not check_benchmark_action(a).ok]
        assert answers and not rejected, rejected[:3]
        # the first labelled step is a repair wherever one change suffices: most problems here
        first = [r["steps"][0]["status"] == "OPTIMAL" for r in records]
        assert sum(first) >= 0.6 * len(first)


def test_the_card_counts_the_legacy_two_value_update_bounds(tmp_path: Path, shared_data: Path) -> None:
    legacy = shared_data / "legacy_sft" / "sft_gpt52chat.json"
    expected = TWO_VALUE_UPDATE_BOUNDS[len(json.loads(legacy.read_text())["data"])]
    done = run_cli(
        "converters.sft", "--in", str(legacy.resolve()), "--name", "legacy", "--root", str(tmp_path),
        "--no-register", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    card = json.loads((tmp_path / "data" / "legacy" / "card.json").read_text())
    compat = card["benchmark_actions"]
    assert compat["by_reason"] == {"wrong_arity": expected}
    assert compat["compatible"] == compat["total"] - expected
    assert "benchmark_actions: " in (tmp_path / "data" / "legacy" / "README.md").read_text()


def test_get_iis_on_an_unchanged_model_shows_the_same_diagnostics_without_probing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = load_problems(make_bench(tmp_path / "bench", n=9))[0]
    env = DebugEnv(layout="rich")
    first, _ = env.reset(problem)
    calls = []
    monkeypatch.setattr(diagnostics, "compute", lambda *a, **k: calls.append(a))  # any probe is recorded
    observation, _, _, _, info = env.step("GET_IIS()")
    assert info["valid"] and calls == []  # the model did not change: nothing to probe again
    assert observation.split("## Diagnostics")[1].split("##")[0] == first.split("## Diagnostics")[1].split("##")[0]


def test_diagnostics_show_the_repair_and_the_first_step_can_apply_it(tmp_path: Path) -> None:
    problem = load_problems(make_bench(tmp_path / "bench", n=9))[0]
    env = DebugEnv(layout="rich")
    obs, info = env.reset(problem)
    diag = info["state"].diagnostics
    assert "## Diagnostics" in obs and diag is not None and diag.fixes
    fix = diag.fixes[0]
    assert fix.least in obs and fix.percent in obs
    _, _, _, _, info = env.step(fix.action)
    assert info["status"] == "OPTIMAL"
    assert episode_metrics(env.record(), problem)["first_step_repair"] == 1.0


def test_evidence_over_the_licence_is_one_line_and_the_episode_goes_on(tmp_path, monkeypatch) -> None:
    problem = load_problems(make_bench(tmp_path / "bench", n=9))[0]
    env = DebugEnv(layout="rich")
    env.reset(problem)  # reads the model under the real limit
    model = env.current_model()
    # a licence the model itself fits, but not the feasRelax copies the evidence needs
    monkeypatch.setenv("ORDEBUG_SIZE_LIMIT", str(max(model.NumVars, model.NumConstrs) + 1))
    solver.size_limit.cache_clear()
    try:
        env.reset(problem)  # the first observation's evidence, under that licence
        obs, _, _, _, info = env.step("GET_IIS()")  # the episode goes on; its IIS keeps the notice
    finally:
        monkeypatch.delenv("ORDEBUG_SIZE_LIMIT")
        solver.size_limit.cache_clear()
    assert info["valid"] and info["status"] == "INFEASIBLE"
    assert "Diagnostics not computed for this model" in obs
    assert "RELAX_CONSTRAINT(" not in obs.split("## Diagnostics")[1].split("##")[0]


def test_legacy_layout_has_no_diagnostics(tmp_path: Path) -> None:
    problem = load_problems(make_bench(tmp_path / "bench", n=9))[0]
    obs, info = DebugEnv(layout="legacy").reset(problem)
    assert "Diagnostics" not in obs and info["state"].diagnostics is None



def _shown_objectives(diag) -> list[float]:
    """Every objective the diagnostics section prints: single changes (and the amounts between the
    least and the wider one) and combined repairs."""
    out = [c.objective for c in diag.combined]
    for fix in diag.fixes:
        out += [fix.least_objective, fix.wider_objective] + [p.objective for p in fix.between]
    return [o for o in out if o is not None]


def test_cascading_and_tightened_rhs_errors_show_a_repair_that_keeps_the_objective(tmp_path: Path) -> None:
    """Cascading conflicts (G) and a tightened binding rhs (I): the least change alone leaves a much
    worse objective, so the first screen must also show a repair that keeps the original one (within
    5%): for G the injected element with the other constraints it needs, for I an amount between the
    least and the widest relaxation."""
    problems = [p for p in load_problems(make_bench(tmp_path / "bench", n=18, seed=5)) if p.error_type in "GI"]
    assert {p.error_type for p in problems} == {"G", "I"}
    for problem in problems:
        obs, info = DebugEnv(layout="rich").reset(problem)
        z0 = problem.original_objective
        shown = _shown_objectives(info["state"].diagnostics)
        best = min(shown, key=lambda o: abs(o - z0))
        assert abs(best - z0) <= 0.05 * abs(z0), (problem.problem_id, z0, shown)
        assert fmt_num(best) in obs
