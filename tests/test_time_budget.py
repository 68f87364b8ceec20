"""`max_train_seconds`: training stops at the first optimizer step past the budget.

The callback is checked against transformers' own TrainerState/TrainerControl with a fake clock;
the slow test trains the tiny model through `recipes.train` with a budget far below its max_steps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from recipes._entry import MAX_TRAIN_SECONDS_ENV
from recipes.paths import REPO_ROOT
from recipes.recipe import load_recipe
from recipes.runner import entry_env
from recipes.time_budget import REPORT, TimeBudget
from tests.recipe_helpers import write_dataset_dir


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_stops_at_the_first_step_past_it_and_says_so(tmp_path: Path) -> None:
    clock = Clock()
    budget = TimeBudget(10.0, clock=clock)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    state, control = TrainerState(max_steps=1000), TrainerControl()
    budget.on_train_begin(args, state, control)
    for step in range(1, 1001):
        clock.now += 3.0  # 3 s a step: steps 1-3 end at 3, 6, 9 s; step 4 ends at 12 s
        state.global_step = step
        budget.on_step_end(args, state, control)
        if control.should_training_stop:
            break
    assert state.global_step == 4 and budget.stopped
    budget.on_train_end(args, state, control)
    report = json.loads((tmp_path / REPORT).read_text())
    assert report == {"max_train_seconds": 10.0, "trained_seconds": 12.0, "steps": 4, "max_steps": 1000,
                      "stopped_by_budget": True, "tokens_seen": 0}


def test_the_recipe_key_reaches_the_training_process_and_is_validated(tmp_path: Path) -> None:
    ok = load_recipe("tiny_cpu_sft", ["max_train_seconds=90"])
    assert ok.max_train_seconds == 90 and entry_env(ok)[MAX_TRAIN_SECONDS_ENV] == "90"
    assert ok.resolved()["max_train_seconds"] == 90 and "max_train_seconds" not in ok.phase_plans()[0].args
    assert MAX_TRAIN_SECONDS_ENV not in entry_env(load_recipe("tiny_cpu_sft"))
    bad = load_recipe("tiny_cpu_sft", ["max_train_seconds=-5"])
    assert [(p.key, p.fix) for p in bad.problems] == [("max_train_seconds", "max_train_seconds: 240")]


@pytest.mark.slow
def test_training_through_the_launcher_stops_on_time(shared_data: Path, tmp_path: Path) -> None:
    from recipes.tiny_model import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny-qwen3")
    data = write_dataset_dir(shared_data, tmp_path / "data", n=12)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "recipes.train", "--recipe", "tiny_cpu_sft", "--override",
           f"model_name_or_path={tiny}", f"dataset_dir={data}", f"output_dir={out}", "max_steps=100000",
           "max_train_seconds=3", "lr_scheduler_type=constant_with_warmup", "save_strategy=no", "cutoff_len=512",
           "per_device_train_batch_size=2", "logging_steps=1"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / REPORT).read_text())
    assert report["stopped_by_budget"] and 1 <= report["steps"] < 100000 and report["trained_seconds"] >= 3
    assert json.loads((out / "manifest.json").read_text())["status"] == "finished"
    assert (out / "model.safetensors").is_file()  # LLaMA-Factory saved the model as after max_steps
