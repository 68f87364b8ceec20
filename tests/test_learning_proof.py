"""The learning proof's table (benchmarks/learning_proof.py): columns from the metric registry, and the
first-step repair rate computed from results.json's steps until eval registers it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from recipes.paths import REPO_ROOT

_spec = importlib.util.spec_from_file_location("learning_proof", REPO_ROOT / "benchmarks" / "learning_proof.py")
assert _spec is not None and _spec.loader is not None
proof = importlib.util.module_from_spec(_spec)
sys.modules["learning_proof"] = proof  # its dataclasses look their module up there
_spec.loader.exec_module(proof)


def _step(status: str, valid: bool = True) -> dict:
    return {"valid": valid, "status": status}


def _write(out: Path, policy: str, summary: dict, episodes: list[dict]) -> None:
    (out / "eval" / policy).mkdir(parents=True)
    (out / "eval" / policy / "results.json").write_text(json.dumps({"summary": summary, "episodes": episodes}))


def test_first_step_repair_counts_episodes_whose_first_action_made_the_model_optimal(tmp_path: Path) -> None:
    episodes = [
        {"metrics": {"rr@5": 1.0}, "steps": [_step("OPTIMAL"), _step("OPTIMAL")]},  # repaired at step 1
        {"metrics": {"rr@5": 1.0}, "steps": [_step("INFEASIBLE"), _step("OPTIMAL")]},  # a question first
        {"metrics": {"rr@5": 0.0}, "steps": [_step("OPTIMAL", valid=False)]},  # rejected: not a repair
        {"metrics": {"rr@5": 0.0}, "steps": []},
        {"metrics": {}, "steps": [_step("OPTIMAL")]},  # an infrastructure error: not scored
    ]
    _write(tmp_path, "trained", {"format_ok": 0.5, "args_valid": 0.25, "rr@5": 0.5, "n": 4}, episodes)
    rows = {r["policy"]: r for r in proof.table_rows(tmp_path)}
    assert rows["trained"]["first_step_repair"] == 0.25 and rows["trained"]["rr@5"] == 0.5
    assert set(rows["untrained"]) == {"policy"}  # not evaluated: an empty row, not a failure
    table = proof.render_table(list(rows.values()), quick=True, note="training: n/a")
    assert "these numbers mean nothing" in table and "RR@5 ↑" in table and "names valid ↑" in table
    untrained = next(line for line in table.splitlines() if line.startswith("| untrained"))
    assert untrained.count("—") == 9  # episodes, 7 columns, first-step repair


def test_a_summary_that_reports_first_step_repair_wins_over_the_local_computation(tmp_path: Path) -> None:
    _write(tmp_path, "oracle", {"first_step_repair": 0.9, "n": 1}, [{"metrics": {"x": 1}, "steps": [_step("X")]}])
    assert {r["policy"]: r for r in proof.table_rows(tmp_path)}["oracle"]["first_step_repair"] == 0.9
