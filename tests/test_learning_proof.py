"""The learning proof's table (benchmarks/learning_proof.py): columns from the metric registry, read from
each evaluation's results.json (the first-step repair rate included)."""

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


def _write(out: Path, policy: str, summary: dict, episodes: list[dict]) -> None:
    (out / "eval" / policy).mkdir(parents=True)
    (out / "eval" / policy / "results.json").write_text(json.dumps({"summary": summary, "episodes": episodes}))


def test_the_table_reads_each_evaluations_summary_and_leaves_a_missing_one_empty(tmp_path: Path) -> None:
    summary = {"format_ok": 0.5, "args_valid": 0.25, "rr@5": 0.5, "first_step_repair": 0.25, "n": 4}
    _write(tmp_path, "trained", summary, [])
    rows = {r["policy"]: r for r in proof.table_rows(tmp_path)}
    assert rows["trained"]["first_step_repair"] == 0.25 and rows["trained"]["rr@5"] == 0.5
    assert set(rows["untrained"]) == {"policy"}  # not evaluated: an empty row, not a failure
    table = proof.render_table(list(rows.values()), quick=True, note="training: n/a")
    assert "these numbers mean nothing" in table and "RR@5 ↑" in table and "first-step repair ↑" in table
    untrained = next(line for line in table.splitlines() if line.startswith("| untrained"))
    assert untrained.count("—") == 9  # episodes, 7 columns, first-step repair
