"""A whole study on the CPU: the tiny recipe, two arms x two seeds, on generated problems, through the CLIs.

One slow test, kept small (2 training steps, 2 held-out problems, 1-step episodes): the first run
trains and evaluates all 4 cells and writes the comparison; the second reuses every cell; after one
arm's recipe changes, only that arm's cells run again. (A failed cell: tests/test_study_runner.py.)
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eval.paired import per_problem
from eval.report import load_evaluation

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False,
                          timeout=timeout)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated training problems -> heuristic trajectories -> a converted dataset (with its card),
    fresh held-out problems, and the tiny model."""
    from recipes.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("study")
    build_tiny_model(root / "tiny")
    _ok(_run("ordebug.generate", "--out", str(root / "bench"), "--n", "8", "--seed", "0", "--no-progress"))
    _ok(_run("ordebug.generate", "--out", str(root / "heldout"), "--n", "2", "--seed", "1", "--types", "A,D", "--no-progress"))
    _ok(_run("collectors", "--problems", str(root / "bench"), "--agent", "heuristic", "--out",
             str(root / "traj.jsonl"), "--workers", "2"))
    _ok(_run("converters.sft", "--root", str(root), "--in", str(root / "traj.jsonl"), "--name", "ordebug",
             "--val", "0", "--test", "0.1", "--seed", "0"))
    return root


def study_text(root: Path, lr: str) -> str:
    return f"""\
baseline: tiny_cpu_sft
variants:
  - {{name: lr, recipe: tiny_cpu_sft, overrides: {{learning_rate: {lr}}}}}
seeds: [0, 1]
overrides:
  model_name_or_path: {root / 'tiny'}
  dataset_dir: {root}
  max_steps: 2
  per_device_train_batch_size: 2
  cutoff_len: 512
  logging_steps: 1
  save_strategy: "no"
  disable_gradient_checkpointing: true
problems: {root / 'heldout'}
eval: {{max_steps: 1, max_new_tokens: 8}}
metrics: [rr@5, da_iis, op, te, fp, format_ok]
out: {root / 'out'}
"""


def _mtimes(out: Path) -> dict[str, float]:
    return {str(p.relative_to(out)): p.stat().st_mtime for p in out.glob("*/seed*/eval/results.json")}


def test_study_runs_then_reuses_then_reruns_only_the_changed_arm(world: Path) -> None:
    study, out = world / "tiny_study.yaml", world / "out"
    study.write_text(study_text(world, "3.0e-3"))

    first = _ok(_run("studies", "--study", str(study)))
    assert "4 cell(s) run, 0 reused, 0 failed" in first, first
    for cell in ("tiny_cpu_sft/seed0", "tiny_cpu_sft/seed1", "lr/seed0", "lr/seed1"):
        assert f"{cell}: done in " in first  # one progress line per cell, with its elapsed time
    rows = {r["metric"]: r for r in csv.DictReader((out / "comparison.csv").open())}
    assert set(rows) == {"rr@5", "da_iis", "op", "te", "fp", "format_ok"}
    assert rows["op"]["recipe_keys"] == "learning_rate: 0.01 → 0.003"
    # every number is the results.json files': the mean difference of op recomputed from them
    pairs = [(load_evaluation(str(out / "tiny_cpu_sft" / f"seed{s}" / "eval")).results,
              load_evaluation(str(out / "lr" / f"seed{s}" / "eval")).results) for s in (0, 1)]
    diffs = [v[p] - b[p] for b, v in ((per_problem(b, "te"), per_problem(v, "te")) for b, v in pairs)
             for p in b.keys() & v.keys()]
    assert rows["te"]["n_pairs"] == str(len(diffs)) and len(diffs) == 4
    assert float(rows["te"]["diff"]) == pytest.approx(sum(diffs) / len(diffs))
    rows = re.sub(r" +", " ", (out / "comparison.md").read_text())  # tables are column-aligned
    assert rows.count("| lr |") == 6 and (out / "comparison.png").is_file()
    before = _mtimes(out)
    assert len(before) == 4

    second = _ok(_run("studies", "--study", str(study)))
    assert "0 cell(s) run, 4 reused, 0 failed" in second, second
    assert _mtimes(out) == before

    study.write_text(study_text(world, "5.0e-3"))
    plan = _ok(_run("studies", "--study", str(study), "--dry-run"))
    assert plan.count("recipe changed (learning_rate)") == 2 and plan.count("reused: same recipe and data") == 2
    third = _ok(_run("studies", "--study", str(study)))
    assert "2 cell(s) run, 2 reused, 0 failed" in third, third
    after = _mtimes(out)
    for key, mtime in before.items():
        assert (after[key] == mtime) == key.startswith("tiny_cpu_sft"), key
    assert "learning_rate: 0.01 → 0.005" in (out / "comparison.md").read_text()
    assert json.loads((out / "lr" / "seed0" / "eval" / "study_eval.json").read_text())["problems_sha256"]
