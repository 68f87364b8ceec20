"""The benchmark's metric definitions beside the project's, on hand-built episodes.

The benchmark counts RR@k as the first OPTIMAL within k steps and DA as recall over the IIS
summed over episodes (micro); the project's ``rr@k`` needs the model OPTIMAL at the end and its
``da_iis`` is a per-episode Jaccard index. Both are reported, under different names.
"""

from __future__ import annotations

import pytest

from eval.metric_registry import get, view
from eval.schema import EpisodeResult
from eval.scoring import summarize
from ordebug.episode import EpisodeRecord, StepRecord
from ordebug.metrics import episode_metrics


def _steps(*statuses: str) -> list[StepRecord]:
    return [StepRecord(index=i, valid=True, result="", status=s) for i, s in enumerate(statuses, 1)]


# Fixed OPTIMAL at step 1, then RESET undid it: the benchmark counts the success, the project does not.
UNDONE = EpisodeRecord(
    problem_id="undone", layout="legacy", max_steps=20, initial_status="INFEASIBLE",
    final_status="INFEASIBLE", steps=_steps("OPTIMAL", "INFEASIBLE", "INFEASIBLE"), submitted=True,
    initial_iis_constraints=["c1", "c2", "c3"], changes=["DROP_CONSTRAINT(c1)", "RESET()"], blamed=["c1"],
)  # fmt: skip
# Two changes, the second after the model was already OPTIMAL at step 6.
LATE = EpisodeRecord(
    problem_id="late", layout="legacy", max_steps=20, initial_status="INFEASIBLE", final_status="OPTIMAL",
    steps=_steps(*["INFEASIBLE"] * 5, "OPTIMAL", "OPTIMAL"), success=True, recovered_step=6,
    initial_iis_constraints=["c4"], changes=["RELAX_CONSTRAINT(c4, 1.0)", "DROP_CONSTRAINT(c5)"],
    blamed=["c4", "c5"],
)  # fmt: skip


def test_rr_first_counts_the_first_optimal_the_project_rr_needs_it_kept():
    undone = episode_metrics(UNDONE, None, ["rr@5", "rr_first@5", "rr@15", "rr_first@15"])
    assert undone == {"rr@5": 0.0, "rr_first@5": 1.0, "rr@15": 0.0, "rr_first@15": 1.0}
    late = episode_metrics(LATE, None, ["rr@5", "rr_first@5", "rr_first@10", "rr@15", "rr_first@15"])
    assert late == {"rr@5": 0.0, "rr_first@5": 0.0, "rr_first@10": 1.0, "rr@15": 1.0, "rr_first@15": 1.0}


def test_da_recall_is_micro_recall_over_the_iis_and_differs_from_the_jaccard_da_iis():
    rows = [episode_metrics(r, None) for r in (UNDONE, LATE)]
    assert [r["da_recall"] for r in rows] == pytest.approx([1 / 3, 1.0])
    assert [r["da_iis"] for r in rows] == pytest.approx([1 / 3, 1 / 2])  # {c4} / {c4, c5}
    assert [r["iis_size"] for r in rows] == [3.0, 1.0]  # the weight of the micro aggregation
    episodes = [
        EpisodeResult(problem_id=r.problem_id, error_type=None, difficulty=None, problem_type=None, source="hand",
                      terminated_by="submit", final_status=r.final_status, objective=None, n_steps=r.n_steps,
                      metrics=m, steps=[])
        for r, m in zip((UNDONE, LATE), rows, strict=True)
    ]  # fmt: skip
    out = summarize(episodes, n_boot=200).summary
    assert out["da_recall"] == pytest.approx((1 + 1) / (3 + 1))  # Σ|B∩I| / Σ|I|, not the mean 2/3
    assert get("da_recall").aggregation == "micro"
    assert out["da_iis"] == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_reports_show_both_definitions_under_titles_no_reader_confuses():
    for name in ("headline", "ablation"):
        assert {"rr@5", "rr_first@5", "rr@15", "rr_first@15", "da_iis", "da_recall"} <= set(view(name))
    assert get("rr_first@5").title == "RR-first@5 (bench) ↑" and get("rr@5").title == "RR@5 ↑"
    assert get("da_recall").title == "DA-recall (bench) ↑" and get("da_iis").title == "DA-IIS ↑"
