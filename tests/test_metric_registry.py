"""Every metric the project reports is declared once (eval.metric_registry.TABLE); summaries,
tables, studies and the demo take names, directions and aggregations from it, and every interval
comes from one statistics module (foundation.stats) with one resample count."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from demo.report import HEADLINE
from eval.errors import EvalConfigError
from eval.metric_registry import DEFAULT_METRICS, REGISTRY, TABLE, VIEWS, get
from eval.offline import prediction_metric_infos, tool_metric_infos
from eval.paired import known_metrics
from eval.report import Evaluation, _best
from eval.schema import EpisodeResult, GroupSummary, ScoredStep, StepFormat
from eval.scoring import metric_infos, summarize
from foundation.stats import N_RESAMPLES, mean_ci, pooled_rate_ci
from ordebug.metrics import EPISODE_METRICS
from studies import spec

REPO = Path(__file__).resolve().parents[1]


def test_an_unknown_metric_fails_with_did_you_mean_and_the_known_list() -> None:
    known = r"unknown metric 'rr5'; did you mean 'rr@5'\? known metrics: rr@5, "
    with pytest.raises(EvalConfigError, match=known) as e:
        get("rr5")
    assert "invalid_action_rate" in str(e.value) and "tool_call_valid" in str(e.value)
    with pytest.raises(EvalConfigError, match="unknown metric 'zzz'; known metrics"):
        get("zzz")


def test_every_metric_results_json_defines_is_registered_with_its_direction() -> None:
    infos = {**metric_infos(), **prediction_metric_infos(), **tool_metric_infos()}
    for name, info in infos.items():
        assert get(name).higher_is_better == info.higher_is_better, name
    assert set(EPISODE_METRICS) <= set(REGISTRY)  # the benchmark's episode metrics, format, tool-call, counts
    assert {"format_ok", "invalid_action_rate", "tool_call_valid", "call_match", "repair_cost"} <= set(REGISTRY)
    assert all(name in REGISTRY for view in VIEWS.values() for name in view)


def _evaluation(label: str, summary: dict[str, float]) -> Evaluation:
    group = GroupSummary(summary=summary, ci={})
    results = type("R", (), {"summary": group.summary, "metrics": {}})()  # no definitions recorded
    return Evaluation(label=label, path=None, results=results, recipe={})  # type: ignore[arg-type]


def test_the_ablation_table_bolds_by_the_registered_direction_even_without_definitions() -> None:
    # results.json files that carry no metric definitions: lower-is-better metrics still win low
    evals = [
        _evaluation("a", {"invalid_action_rate": 0.1, "rr@5": 0.2}),
        _evaluation("b", {"invalid_action_rate": 0.4, "rr@5": 0.9}),
    ]
    assert _best(evals, "invalid_action_rate") == "0.100"
    assert _best(evals, "rr@5") == "0.900"
    with pytest.raises(EvalConfigError, match="unknown metric"):
        _best(evals, "rr@55")


def test_each_metric_is_one_row_and_every_reported_name_is_a_row() -> None:
    assert len({s.name for s in TABLE}) == len(TABLE)
    reported = {*metric_infos(), *prediction_metric_infos(), *known_metrics(), *DEFAULT_METRICS}
    reported |= {name for name in tool_metric_infos() if not name.startswith("invalid:")}
    assert reported <= set(REGISTRY), sorted(reported - set(REGISTRY))
    for name, definition in metric_infos().items():  # results.json's definitions are the table's
        assert definition.description == get(name).description or name == "n"
        assert definition.aggregation == get(name).aggregation_text(), name


def _declared_names(path: Path) -> set[str]:
    """Module-level names assigned in a file."""
    tree = ast.parse(path.read_text())
    return {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}


def test_no_other_module_declares_metric_lists_resample_counts_or_bootstraps() -> None:
    """One DEFAULT_METRICS, one STEP_RATES, one resample count, one bootstrap module."""
    sources = [p for pkg in ("eval", "studies", "demo", "ordebug", "collectors", "play", "foundation")
               for p in (REPO / pkg).rglob("*.py")]
    owners: dict[str, list[str]] = {}
    for path in sources:
        for name in _declared_names(path) & {"DEFAULT_METRICS", "STEP_RATES", "N_BOOT", "N_RESAMPLES", "METRICS"}:
            owners.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert owners == {"DEFAULT_METRICS": ["eval/metric_registry.py"], "STEP_RATES": ["eval/metric_registry.py"],
                      "N_RESAMPLES": ["foundation/stats.py"]}, owners
    bootstraps = sorted(str(p.relative_to(REPO)) for p in sources
                        if "np.quantile(" in p.read_text() or "np.percentile(" in p.read_text())
    assert bootstraps == ["foundation/stats.py"]


def test_the_studies_and_the_demo_read_the_registry() -> None:
    assert spec.DEFAULT_METRICS is DEFAULT_METRICS and spec.N_RESAMPLES == N_RESAMPLES
    assert [title for _, title in HEADLINE] == [get(n).title for n in VIEWS["demo_headline"]]
    assert known_metrics()["steps"] is False and known_metrics()["invalid_action_rate"] is False


def test_the_invalid_action_rate_has_one_name_and_old_results_read_under_it() -> None:
    assert "invalid_rate" not in REGISTRY and "invalid_rate" not in EPISODE_METRICS
    with pytest.raises(EvalConfigError, match="'invalid_rate' was renamed to 'invalid_action_rate'"):
        get("invalid_rate")
    # a results.json written before the rename: episode value under the old name, summary with both
    old = {"problem_id": "p0", "error_type": "A", "difficulty": "easy", "problem_type": "lp", "source": "s",
           "terminated_by": "submit", "final_status": "OPTIMAL", "objective": 1.0, "n_steps": 2,
           "metrics": {"rr@5": 1.0, "invalid_rate": 0.5}, "steps": []}
    episode = EpisodeResult.model_validate(json.loads(json.dumps(old)))
    assert episode.metrics == {"rr@5": 1.0, "invalid_action_rate": 0.5}
    group = GroupSummary.model_validate({"summary": {"invalid_rate": 0.4, "invalid_action_rate": 0.3}, "ci": {}})
    assert group.summary == {"invalid_action_rate": 0.3}  # the step-pooled value the file already had


def _fmt(ok: bool) -> StepFormat:
    return StepFormat(think_present=ok, think_balanced=ok, think_nonempty=ok, think_ok=ok, n_actions=1,
                      action_strict=ok, action_lenient=True, one_action=True, args_valid=True, format_ok=ok)


def _episode(i: int, valid: list[bool], op: float | None) -> EpisodeResult:
    steps = [ScoredStep(index=j + 1, observation="o", raw_output="r", action="SUBMIT()", parse_error=None, valid=v,
                        env_error=None, result="", status="OPTIMAL", objective=1.0, solver_calls=1, latency_s=0.0,
                        format=_fmt(v)) for j, v in enumerate(valid)]
    return EpisodeResult(problem_id=f"p{i}", error_type="A", difficulty="easy", problem_type="lp", source="s",
                         terminated_by="submit", final_status="OPTIMAL", objective=1.0, n_steps=len(steps),
                         metrics={"op": op, "invalid_action_rate": 1 - sum(valid) / len(valid)}, steps=steps)


def test_the_summary_aggregates_each_metric_as_the_table_declares() -> None:
    # one episode of 1 step (rejected) and one of 3 steps (all accepted): pooled over steps 1/4,
    # where a mean of the episodes' shares would say 1/2
    episodes = [_episode(0, [False], 0.2), _episode(1, [True, True, True], None)]
    summary = summarize(episodes, seed=0)
    assert get("invalid_action_rate").aggregation == "pooled"
    assert summary.summary["invalid_action_rate"] == 0.25 and summary.summary["format_ok"] == 0.75
    assert summary.summary["op"] == 0.2  # mean where defined
    assert summary.ci["op"] == [0.2, 0.2]


def test_one_statistics_module_with_one_resample_count() -> None:
    values = [(i * 0.37) % 1 for i in range(60)]
    assert mean_ci(values, seed=4) == mean_ci(values, seed=4, n_boot=N_RESAMPLES)  # the default is the count
    assert mean_ci(values, seed=4) != mean_ci(values, seed=4, n_boot=N_RESAMPLES // 2)
    lo, hi = mean_ci([0.0, 1.0] * 30, seed=0)
    assert lo < 0.5 < hi and hi - lo < 0.3
    assert mean_ci([2.0]) == (2.0, 2.0)
    # clustered: one big episode all wrong, many small ones right; resampling episodes (not steps)
    # keeps the big one whole: without it the rate is 1 (resampling 49 steps would stay near 9/49)
    hits, totals = np.array([0.0] + [1.0] * 9), np.array([40.0] + [1.0] * 9)
    clo, chi = pooled_rate_ci(hits, totals, seed=0)
    assert clo < 0.2 and chi == 1.0 and pooled_rate_ci([0.0], [0.0]) is None
