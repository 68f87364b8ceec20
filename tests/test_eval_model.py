"""The tiny Qwen3 model evaluated end to end on the CPU through LLaMA-Factory's ChatModel.

A real run directory as recipes.train lays it out (recipe.resolved.yaml, manifest.json, a LoRA
adapter saved by peft on the tiny model, LLaMA-Factory's trainer_log.jsonl), a real dataset card
whose test split names problems of a real benchmark set, and `python -m eval --run DIR`.
The model is untrained, so it answers nonsense; what is proven is the path: the run's test split
is found, the adapter is loaded by LLaMA-Factory with the qwen3_think template, episodes are
played in Gurobi and every step is scored, and the report carries the loss curve.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from eval_problems import write_hand_set

from eval.cli import main
from eval.run_dir import load_run
from ordebug.prompts import INSTRUCTION, SYSTEM_PROMPT_CORE, SYSTEM_PROMPT_RICH

pytestmark = pytest.mark.slow

OBS_ONE = (
    "## Problem\nID: one_conflict\nType: D\n\n## Current State\nStatus: INFEASIBLE\n\n"
    "## IIS (Irreducible Infeasible Subsystem)\nConflicting Constraints: ['c0', 'c3']\n"
    "Conflicting Bounds: []\n\n"
    "## Model Structure\nConstraints: 4\nVariables: 2\nConstraint Names: ['c0', 'c1', 'c2', 'c3']"
)
ANSWER = "<think>\nc3 forces x+y>=12 against c0.\n</think>\n\nAction: RELAX_CONSTRAINT(c3, 5.0)"


def _adapter(base: Path, out: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(
        out
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    from recipes.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("eval_model")
    problems = write_hand_set(root / "bench")
    base = build_tiny_model()
    run = root / "runs" / "tiny"
    run.mkdir(parents=True)
    _adapter(base, run)
    data = root / "data" / "evaltest"
    data.mkdir(parents=True)
    (data / "train.jsonl").write_text("", encoding="utf-8")
    card = {
        "name": "evaltest",
        "format": "alpaca",
        "multi_turn": False,
        "layout": "rich",
        "system": SYSTEM_PROMPT_RICH,
        "splits": {"test": {"problem_ids": ["two_conflicts"]}, "train": {"problem_ids": ["one_conflict"]}},
        "problem_sources": {p.problem_id: str(p.model_path) for p in problems},
    }
    (data / "card.json").write_text(json.dumps(card), encoding="utf-8")
    (root / "dataset_info.json").write_text(
        json.dumps({"evaltest_train": {"file_name": "data/evaltest/train.jsonl"}})
    )
    recipe = {
        "model_name_or_path": str(base),
        "template": "qwen3_think",
        "finetuning_type": "lora",
        "stage": "sft",
        "dataset": "evaltest_train",
        "dataset_dir": str(root),
        "output_dir": str(run),
    }
    (run / "recipe.resolved.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    manifest = {
        "run_name": "tiny",
        "base_model": str(base),
        "finetuning_type": "lora",
        "final_model_dir": str(run),
        "template": {"name": "qwen3_think"},
        "phases": [{"name": "sft", "output_dir": str(run)}],
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    # LLaMA-Factory's trainer_log.jsonl rows (LogCallback): one per logging step
    rows = [
        {"current_steps": i, "total_steps": 4, "loss": 3.0 - 0.5 * i, "lr": 1e-4, "epoch": i / 4}
        for i in range(1, 5)
    ]
    (run / "trainer_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return run


def test_run_dir_resolution(run_dir):
    run = load_run(run_dir)
    model, adapter, kind = run.model_spec()
    assert kind == "adapter" and adapter == str(run_dir) and Path(model).name == "tiny-qwen3"
    assert run.datasets() == ["evaltest_train"] and run.template == "qwen3_think"


def test_tiny_model_end_to_end_on_cpu(run_dir, tmp_path):
    out = tmp_path / "eval"
    rc = main(
        [
            "--run",
            str(run_dir),
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--max-new-tokens",
            "12",
            "--backend",
            "huggingface",
            "--baselines",
            "drop_first",
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    # the run's held-out split: only the test problem, resolved back to its benchmark entry
    assert [ep["problem_id"] for ep in res["episodes"]] == ["two_conflicts"]
    assert res["episodes"][0]["error_type"] == "E"
    assert res["config"]["layout"] == "rich" and res["config"]["system_prompt"] == SYSTEM_PROMPT_RICH
    policy = res["config"]["policy"]
    assert policy["kind"] == "llamafactory" and policy["engine_args"]["adapter_name_or_path"] == str(run_dir)
    assert (
        policy["engine_args"]["template"] == "qwen3_think" and policy["generating_args"]["do_sample"] is False
    )
    assert policy["calls"] == 2  # two steps, one generation each
    # the exact text of the first prompt: system prompt of the card, then the instruction + observation turn
    assert policy["example_prompt"].startswith("<|im_start|>system\n" + SYSTEM_PROMPT_RICH)
    assert policy["example_prompt"].endswith(
        "Constraint Names: ['c0', 'c1', 'c2', 'c3']<|im_end|>\n<|im_start|>assistant\n"
    )
    ep = res["episodes"][0]
    assert len(ep["steps"]) == 2 and all(isinstance(s["raw_output"], str) for s in ep["steps"])
    assert ep["steps"][0]["observation"].startswith("## Problem\nID: two_conflicts")
    assert "Step: 0/2" in ep["steps"][0]["observation"]  # the rich layout, as the card says
    assert res["summary"]["n"] == 1 and res["baselines"]["drop_first"]["summary"]["rr@5"] == 1.0
    report = (out / "report.md").read_text()
    assert "## Training loss" in report and (out / "loss_curve.png").stat().st_size > 1000
    assert res["config"]["run"]["recipe"]["template"] == "qwen3_think"


def test_trained_tiny_model_end_to_end(tmp_path):
    """Train the tiny model for 2 steps with recipes.train (real LLaMA-Factory, full fine-tune), then
    `python -m eval --run` on the run directory it wrote: its test split, its template, its loss log."""
    import subprocess
    import sys

    from recipes.tiny_model import build_tiny_model

    build_tiny_model()  # models/tiny-qwen3, which the recipe names
    problems = write_hand_set(tmp_path / "bench")
    samples = [
        {"instruction": INSTRUCTION, "input": OBS_ONE, "output": ANSWER, "system": SYSTEM_PROMPT_CORE}
    ] * 4
    data = tmp_path / "data" / "evaltest"
    data.mkdir(parents=True)
    (data / "train.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    columns = {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}
    (tmp_path / "dataset_info.json").write_text(
        json.dumps(
            {
                "evaltest_train": {
                    "file_name": "data/evaltest/train.jsonl",
                    "formatting": "alpaca",
                    "columns": columns,
                }
            }
        )
    )
    card = {
        "layout": "legacy",
        "system": SYSTEM_PROMPT_CORE,
        "multi_turn": False,
        "splits": {"test": {"problem_ids": ["two_conflicts"]}},
        "problem_sources": {p.problem_id: str(p.model_path) for p in problems},
    }
    (data / "card.json").write_text(json.dumps(card), encoding="utf-8")
    run = tmp_path / "run"
    train = subprocess.run(
        [
            sys.executable,
            "-m",
            "recipes.train",
            "--recipe",
            "tiny_cpu_sft",
            "--override",
            f"dataset_dir={tmp_path}",
            "dataset=evaltest_train",
            f"output_dir={run}",
            "max_steps=2",
            "logging_steps=1",
            "save_steps=1000",
            "per_device_train_batch_size=2",
            "gradient_accumulation_steps=1",
            "cutoff_len=512",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    out = tmp_path / "eval"
    assert (
        main(
            [
                "--run",
                str(run),
                "--out",
                str(out),
                "--max-steps",
                "2",
                "--max-new-tokens",
                "12",
                "--baselines",
                "none",
                "--no-progress",
            ]
        )
        == 0
    )
    res = json.loads((out / "results.json").read_text())
    assert [ep["problem_id"] for ep in res["episodes"]] == ["two_conflicts"]
    engine = res["config"]["policy"]["engine_args"]
    assert engine["model_name_or_path"] == str(run) and "adapter_name_or_path" not in engine  # full fine-tune
    assert res["config"]["run"]["recipe"]["max_steps"] == 2
    assert "## Training loss" in (out / "report.md").read_text()


def test_a_copied_run_is_evaluated_from_its_own_files(run_dir, tmp_path):
    """A copy whose weights are gone stops with a clear error instead of scoring the original (issue 23, probe 4)."""
    import shutil

    from eval.errors import EvalConfigError

    copy = Path(shutil.copytree(run_dir, tmp_path / "copy"))
    _model, adapter, kind = load_run(copy).model_spec()
    assert kind == "adapter" and adapter == str(copy)  # the copy's adapter, not the original's
    for weights in {*copy.glob("adapter_*"), *copy.glob("*.safetensors")}:
        weights.unlink()
    with pytest.raises(EvalConfigError, match="no trained model"):
        load_run(copy).model_spec()
    assert load_run(run_dir).model_spec()[1] == str(run_dir)  # the original is untouched
