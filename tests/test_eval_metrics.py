"""Scripted policies with known behaviour give exact, hand-checked metric values.

Problems: tests/eval_problems.py (read its docstring first). Metric definitions: ordebug/metrics.py.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from eval_problems import write_hand_set

from eval.episodes import EpisodeSettings
from eval.harness import EvalOptions, evaluate_policy, write_outputs
from eval.policies import make_baseline
from eval.schema import Results


@pytest.fixture(scope="module")
def hand_set(tmp_path_factory):
    return write_hand_set(tmp_path_factory.mktemp("eval_hand") / "set")


class ScriptPolicy:
    """Answers from a fixed script per problem (the i-th answer at step i; the last one repeats)."""

    name = "script"

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script = script

    def config(self) -> dict:
        return {"kind": "test-script"}

    async def act(self, obs, state, history, *, problem):
        answers = self.script[problem.problem_id]
        return answers[min(len(history) // 2, len(answers) - 1)]


def run(policy, problems, **kw) -> Results:
    settings = EpisodeSettings(max_steps=kw.pop("max_steps", 20))
    return evaluate_policy(
        policy, problems, EvalOptions(settings=settings, progress=False, concurrency=2, **kw)
    )


def close(a, b) -> bool:
    return a == pytest.approx(float(b), abs=1e-12)


def test_drop_first_exact_metrics(hand_set):
    res = run(make_baseline("drop_first", layout="legacy"), hand_set)
    one, two = res.episodes
    # one_conflict: IIS [c0, c3]. Step 1 DROP_CONSTRAINT(c0): rows left x+y>=12, x>=4, y>=3 -> OPTIMAL,
    # min x+y = 12 (1 solve, no IIS since feasible). Step 2 SUBMIT (no solve).
    assert [s.action for s in one.steps] == ["DROP_CONSTRAINT(c0)", "SUBMIT()"]
    assert [s.solver_calls for s in one.steps] == [1, 0]
    m = one.metrics
    assert m["rr@5"] == m["rr@10"] == m["rr@20"] == 1.0  # OPTIMAL from step 1 on, submitted
    assert close(m["da_iis"], Fraction(1, 2))  # blamed {c0} vs IIS {c0, c3}: |{c0}| / |{c0, c3}|
    assert m["da_target"] == 0.0  # target c3 never touched
    assert close(m["op"], Fraction(2, 7))  # 1 - |12 - 7| / 7
    assert m["te"] == 1.0  # 1 / 1 solver call
    assert close(m["fp"], Fraction(3, 4))  # 3 of 4 original rows kept
    assert m["steps"] == 2
    assert (m["repair_cost"], m["oracle_cost"], m["repair_excess"]) == (1, 1, 0)  # oracle relaxes one row too
    # two_conflicts: IIS [c0, c1]. Step 1 DROP c0 -> still INFEASIBLE (y conflict): 1 solve + 1 IIS = 2 calls,
    # new IIS [c2, c3]. Step 2 DROP c2 -> OPTIMAL, x=5, y=3, Z=8 (1 call). Step 3 SUBMIT.
    assert [s.action for s in two.steps] == ["DROP_CONSTRAINT(c0)", "DROP_CONSTRAINT(c2)", "SUBMIT()"]
    assert [s.solver_calls for s in two.steps] == [2, 1, 0]
    m = two.metrics
    assert m["rr@5"] == 1.0
    assert close(m["da_iis"], Fraction(1, 3))  # {c0, c2} vs initial IIS {c0, c1}: 1 / |{c0, c1, c2}|
    assert m["da_target"] == 0.0  # targets c1, c3: neither changed
    assert close(m["op"], Fraction(2, 3))  # 1 - |8 - 6| / 6
    assert close(m["te"], Fraction(1, 3))  # 3 calls
    assert close(m["fp"], Fraction(1, 2))
    assert (m["repair_cost"], m["oracle_cost"], m["repair_excess"]) == (2, 2, 0)
    # summary = means over the two episodes; format and validity are perfect for a scripted agent
    s = res.summary
    assert s["rr@5"] == s["rr@20"] == 1.0
    assert close(s["da_iis"], (Fraction(1, 2) + Fraction(1, 3)) / 2)  # 5/12
    assert close(s["op"], (Fraction(2, 7) + Fraction(2, 3)) / 2)  # 10/21
    assert close(s["te"], Fraction(2, 3))
    assert close(s["fp"], Fraction(5, 8))
    assert s["steps"] == 2.5 and s["n"] == 2 and s["n_steps"] == 5
    assert s["format_ok"] == 1.0 and s["invalid_action_rate"] == 0.0
    # breakdowns: one group each
    assert close(res.breakdown["error_type"]["D"].summary["op"], Fraction(2, 7))
    assert list(res.breakdown["difficulty"]) == ["easy", "medium"]


def test_format_and_invalid_steps_exact(hand_set):
    one = hand_set[0]
    script = {
        one.problem_id: [
            "I am not sure what to do.",  # 1: no think, no action -> invalid step
            "Action: DROP_CONSTRAINT(c9)",  # 2: strict action, but no think and c9 does not exist -> invalid
            (
                "<think>\nc3 forces x+y>=12 against c0; loosen c3 by 5.\n</think>\n\n"
                "Action: RELAX_CONSTRAINT(c3, 5)"
            ),
            "<think>\nOPTIMAL now.\n</think>\n\nAction: SUBMIT()",
        ]
    }
    res = run(ScriptPolicy(script), [one], baselines=())
    ep = res.episodes[0]
    assert [s.valid for s in ep.steps] == [False, False, True, True]
    f = [s.format for s in ep.steps]
    assert [x.think_present for x in f] == [False, False, True, True]
    assert [x.action_strict for x in f] == [False, True, True, True]
    assert [x.action_lenient for x in f] == [False, True, True, True]
    assert [x.args_valid for x in f] == [None, False, True, True]
    assert [x.format_ok for x in f] == [False, False, True, True]
    s = res.summary
    assert s["invalid_action_rate"] == 0.5  # 2 of 4 steps rejected
    assert s["format_ok"] == 0.5
    assert s["think_present"] == 0.5
    assert s["action_strict"] == 0.75 and s["action_lenient"] == 0.75
    assert close(s["args_valid"], Fraction(2, 3))  # defined on 3 steps (step 1 has no action)
    m = ep.metrics
    # RELAX c3 by 5: x+y >= 7 -> OPTIMAL at step 3 with Z = 7 = Z0 (1 solve); SUBMIT at step 4
    assert m["rr@5"] == 1.0 and m["steps"] == 4
    assert m["op"] == 1.0 and m["fp"] == 1.0 and m["te"] == 1.0
    assert close(m["da_iis"], Fraction(1, 2)) and m["da_target"] == 1.0
    assert m["invalid_action_rate"] == 0.5
    assert ep.terminated_by == "submit"


def test_step_limit_is_not_recovery(hand_set):
    one = hand_set[0]
    res = run(
        ScriptPolicy({one.problem_id: ["<think>\nlook\n</think>\n\nAction: CHECK_SLACK(c1)"]}),
        [one],
        max_steps=3,
        baselines=(),
    )
    ep = res.episodes[0]
    assert ep.terminated_by == "step_limit" and ep.n_steps == 3
    m = ep.metrics
    assert m["rr@5"] == m["rr@20"] == 0.0
    assert m["op"] == 0.0 and m["fp"] == 0.0  # not recovered
    assert m["da_iis"] == 0.0  # blamed nothing: 0 / |{c0, c3}|
    assert m["te"] == 1.0  # CHECK_SLACK makes no solver call; 0 calls count as 1
    assert m["repair_cost"] is None and m["repair_excess"] is None


def test_policy_failure_is_recorded_not_raised(hand_set):
    class Broken:
        name = "broken"

        def config(self):
            return {}

        async def act(self, *a, **k):
            raise RuntimeError("endpoint down")

    res = run(Broken(), hand_set, baselines=())
    assert [ep.terminated_by for ep in res.episodes] == ["error", "error"]
    assert all("endpoint down" in ep.error for ep in res.episodes)
    assert res.samples.errors == 2
    assert res.summary["rr@5"] == 0.0  # failed episodes count as not recovered


def test_baselines_on_same_problems_and_outputs(hand_set, tmp_path: Path):
    res = run(
        ScriptPolicy({p.problem_id: ["<think>\nx\n</think>\n\nAction: SUBMIT()"] for p in hand_set}),
        hand_set,
        baselines=("drop_first",),
    )
    assert res.summary["rr@5"] == 0.0  # submitting an infeasible model is a failure
    assert res.baselines["drop_first"].summary["rr@5"] == 1.0
    assert close(res.baselines["drop_first"].summary["fp"], Fraction(5, 8))
    results_path, report = write_outputs(res, tmp_path)
    again = Results.model_validate_json(results_path.read_text())
    assert again.summary == res.summary
    text = report.read_text()
    assert "## Policy vs baselines" in text and "policy_vs_baselines.png" in text
    assert (tmp_path / "policy_vs_baselines.png").stat().st_size > 1000
    for key in (
        "rr@5",
        "rr@10",
        "rr@20",
        "da_iis",
        "da_target",
        "op",
        "te",
        "fp",
        "format_ok",
        "invalid_action_rate",
        "n",
    ):
        assert key in again.summary
