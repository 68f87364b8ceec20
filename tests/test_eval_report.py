"""`python -m eval.report`: one ablation table whose columns are the recipe differences."""

from __future__ import annotations

import csv
import json
import re

import yaml
from eval_problems import write_hand_set

from eval.episodes import EpisodeSettings
from eval.harness import EvalOptions, evaluate_policy, write_outputs
from eval.policies import make_baseline
from eval.report import main


def test_ablation_table_columns_are_recipe_differences(tmp_path, capsys):
    problems = write_hand_set(tmp_path / "set")
    base = {
        "model_name_or_path": "Qwen/Qwen3-8B",
        "template": "qwen3_think",
        "lora_rank": 16,
        "learning_rate": 1e-4,
        "dataset": "ordebug_train",
        "output_dir": "runs/a",
    }
    variants = {"lr": {"learning_rate": 5e-5, "output_dir": "runs/b"}, "base": {}}
    runs = []
    for name, change in variants.items():
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        (run / "recipe.resolved.yaml").write_text(yaml.safe_dump({**base, **change}))
        policy = make_baseline("drop_first" if name == "base" else "heuristic", layout="legacy")
        res = evaluate_policy(policy, problems, EvalOptions(settings=EpisodeSettings(), progress=False))
        write_outputs(res, run / "eval")
        runs.append(str(run))
    out = tmp_path / "ablation.md"
    assert main([*runs, "--out", str(out)]) == 0
    text = out.read_text()
    # only the learning rate differs (output_dir always does, so it is not an ablation column)
    assert "Recipe keys that differ between the runs: `learning_rate`." in text
    header = next(line for line in re.sub(" +", " ", text).splitlines() if line.startswith("| run |"))
    assert header.startswith("| run | policy | learning_rate | n | rr@5 |")
    with (tmp_path / "ablation.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["learning_rate"] for r in rows] == ["5e-05", "0.0001"]
    got = {r["policy"]: float(r["fp"]) for r in rows}
    drop_first = json.loads((tmp_path / "runs" / "base" / "eval" / "results.json").read_text())["summary"][
        "fp"
    ]
    assert got["drop_first"] == drop_first == 0.625  # hand-checked in test_eval_metrics
    assert got["heuristic"] > got["drop_first"]  # relaxing keeps every row: FP 1 beats dropping rows
    assert "**1.000" in text  # the better FP is marked


def test_report_refuses_missing_results(tmp_path, capsys):
    assert main([str(tmp_path), "--out", str(tmp_path / "x.md")]) == 2
    assert "make eval RUN=" in capsys.readouterr().err


def test_baselines_without_a_recipe_add_no_columns(tmp_path):
    # One trained run beside a baseline: nothing to diff, so no recipe key becomes a column.
    problems = write_hand_set(tmp_path / "set")
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    (run / "recipe.resolved.yaml").write_text(yaml.safe_dump({"learning_rate": 1e-4, "lora_rank": 16}))
    baseline = tmp_path / "results" / "drop_first"
    for policy_name, out in (("heuristic", run / "eval"), ("drop_first", baseline)):
        policy = make_baseline(policy_name, layout="legacy")
        res = evaluate_policy(policy, problems, EvalOptions(settings=EpisodeSettings(), progress=False))
        write_outputs(res, out)
    out = tmp_path / "ablation.md"
    assert main([str(run), str(baseline), "--out", str(out)]) == 0
    header = next(line for line in re.sub(" +", " ", out.read_text()).splitlines() if line.startswith("| run |"))
    assert header.startswith("| run | policy | n | rr@5 |")
