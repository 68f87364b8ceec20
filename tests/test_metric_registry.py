"""Every metric eval reports is declared once; tables take names, directions and titles from it."""

from __future__ import annotations

import pytest

from eval.errors import EvalConfigError
from eval.metric_registry import REGISTRY, VIEWS, get
from eval.offline import prediction_metric_infos, tool_metric_infos
from eval.report import Evaluation, _best
from eval.schema import GroupSummary
from eval.scoring import metric_infos
from ordebug.metrics import METRICS


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
    assert set(METRICS) <= set(REGISTRY)  # the benchmark's episode metrics, format, tool-call, counts
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
