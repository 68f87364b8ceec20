"""Real LLaMA-Factory training of the tiny Qwen3 model on the CPU, through the launcher CLI.

Slow (minutes in all): one run that is killed mid-way, resumed and exported; a two-phase
chain; and a two-process torchrun launch (gloo), which proves every rank registers the
template (a rank without it would fail with "Template qwen3_think does not exist").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from recipes.paths import CONFIGS_DIR, REPO_ROOT
from tests.recipe_helpers import write_dataset_dir

pytestmark = pytest.mark.slow

MANIFEST_KEYS = {"run_name", "recipe", "recipe_sources", "status", "started_at", "ended_at", "command", "launch",
                 "git", "versions", "hardware", "template", "base_model", "datasets", "phases", "final_model_dir",
                 "metrics"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from recipes.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen3")


@pytest.fixture(scope="module")
def dataset_dir(shared_data, tmp_path_factory) -> Path:
    return write_dataset_dir(shared_data, tmp_path_factory.mktemp("datasets"), n=12)


def train_cmd(recipe: str, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "recipes.train", "--recipe", recipe, "--override", *overrides]


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The assertions read LLaMA-Factory's INFO lines; an earlier in-process test (eval's local model
    # policy) may have quietened LLaMA-Factory through the environment, so say the level explicitly.
    env = {**os.environ, "LLAMAFACTORY_VERBOSITY": "INFO", **(env or {})}
    return subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=REPO_ROOT, env=env,
                          timeout=600)


def small(tiny: Path, dataset_dir: Path, out: Path, *extra: str) -> list[str]:
    return [f"model_name_or_path={tiny}", f"dataset_dir={dataset_dir}", f"output_dir={out}",
            "per_device_train_batch_size=2", "gradient_accumulation_steps=1", "logging_steps=1", "cutoff_len=512",
            *extra]


def test_train_kill_resume_export(tiny, dataset_dir, tmp_path):
    from recipes.template import chat_template, render_prompt, template_sha256

    out = tmp_path / "runs" / "tiny_lora"
    cmd = train_cmd("tiny_cpu_sft", *small(tiny, dataset_dir, out, "finetuning_type=lora", "lora_target=all",
                                           "lora_rank=16", "learning_rate=5e-3", "max_steps=8", "save_steps=2"))
    # 1. start, and kill -9 once the first checkpoint is on disk
    log = tmp_path / "first_attempt.log"
    with log.open("w") as fh:  # a file, not a pipe: a full pipe would stall the trainer
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not (out / "checkpoint-2" / "trainer_state.json").exists():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"  # killed: never marked done
    # 2. --resume continues from the last checkpoint (test_recipes checks that a plain relaunch refuses)
    resumed = run([*cmd, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(manifest) and manifest["status"] == "finished"
    phase = manifest["phases"][0]
    assert phase["resumed_from"] is not None and int(phase["resumed_from"].rsplit("-", 1)[1]) in (2, 4, 6)
    assert manifest["resumes"] and manifest["git"]["commit"] and manifest["git"]["dirty"] is not None
    assert {"python", "torch", "transformers", "llamafactory", "peft"} <= {k for k, v in manifest["versions"].items()
                                                                          if v}
    assert manifest["template"] == {"name": "qwen3_think", "sha256": template_sha256()}
    train_file = dataset_dir / "data" / "train.jsonl"
    import hashlib

    assert manifest["datasets"]["ordebug_train"][0]["sha256"] == hashlib.sha256(train_file.read_bytes()).hexdigest()
    assert manifest["metrics"]["train_loss"] > 0 and manifest["hardware"]["cpu_count"] >= 1
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 8
    # 3. artefacts: adapter, loss plot, resolved recipe, the serving template in the saved tokenizer
    for name in ("adapter_model.safetensors", "adapter_config.json", "training_loss.png", "recipe.resolved.yaml",
                 "llamafactory_args.yaml", "trainer_log.jsonl"):
        assert (out / name).is_file(), name
    assert (out / "chat_template.jinja").read_text() == chat_template()
    losses = [float(e["loss"]) for e in state["log_history"] if "loss" in e]
    assert losses[-1] < losses[0], losses  # it learns
    # 4. export: merged full model carrying the qwen3_think chat template, servable by transformers
    exported = run([sys.executable, "-m", "recipes.export", "--run", str(out)])
    assert exported.returncode == 0, exported.stderr[-3000:]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = out / "merged"
    tokenizer = AutoTokenizer.from_pretrained(merged)
    assert tokenizer.chat_template == chat_template()
    model = AutoModelForCausalLM.from_pretrained(merged)
    assert not (merged / "adapter_config.json").exists()
    # 5. weights follow the umask like every other output (safetensors alone writes them 0600; issue 23, probe 6)
    from foundation.atomic import current_umask

    weights = sorted(out.rglob("*.safetensors"))
    assert {"adapter_model.safetensors", "model.safetensors"} <= {p.name for p in weights}
    assert any(p.parent.name.startswith("checkpoint-") for p in weights)
    assert {p.relative_to(out).as_posix(): oct(p.stat().st_mode & 0o777) for p in weights} == {
        p.relative_to(out).as_posix(): oct(0o666 & ~current_umask()) for p in weights}
    prompt = render_prompt([{"role": "user", "content": "Debug the infeasible optimization model."}])
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    assert model.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] == ids["input_ids"].shape[1] + 3


def test_two_phases_chain_the_adapter(tiny, dataset_dir, tmp_path):
    recipe = tmp_path / "two_phase.yaml"
    recipe.write_text(textwrap.dedent(f"""
        base: {CONFIGS_DIR / "tiny_cpu_sft.yaml"}
        description: two-phase chain on the tiny model
        finetuning_type: lora
        lora_target: all
        learning_rate: 5.0e-3
        save_strategy: "no"
        phases:
          - name: alpaca
            dataset: ordebug_train
            max_steps: 3
          - name: chat
            dataset: chat_train
            max_steps: 2
    """))
    out = tmp_path / "runs" / "two_phase"
    done = run(train_cmd(str(recipe), *small(tiny, dataset_dir, out)))
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(p["name"], p["status"]) for p in manifest["phases"]] == [("alpaca", "finished"), ("chat", "finished")]
    assert manifest["final_model_dir"] == str(out / "chat")
    args = (out / "chat" / "llamafactory_args.yaml").read_text()
    assert f"adapter_name_or_path: {out / 'alpaca'}" in args
    assert f"Loaded adapter(s): {out / 'alpaca'}" in done.stderr + done.stdout  # phase 2 trained on phase 1's adapter
    for phase in ("alpaca", "chat"):
        assert (out / phase / "adapter_model.safetensors").is_file()
    assert (out / "alpaca" / "adapter_model.safetensors").read_bytes() != \
        (out / "chat" / "adapter_model.safetensors").read_bytes()
    assert set(manifest["datasets"]) == {"ordebug_train", "chat_train"}


def test_torchrun_two_cpu_processes_every_rank_registers_the_template(tiny, dataset_dir, tmp_path):
    out = tmp_path / "runs" / "ddp"
    done = run(train_cmd("tiny_cpu_sft", *small(tiny, dataset_dir, out, "ddp_backend=gloo", "max_steps=2",
                                                 "save_strategy=no")),
               env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    for rank in (0, 1):
        assert f"Process rank: {rank}, world size: 2" in log
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["launch"]["mode"] == "torchrun" and manifest["launch"]["nproc_per_node"] == 2
    assert "-m recipes._torchrun" in manifest["phases"][0]["command"]  # torchrun, recording failed ranks
    assert "-m recipes._entry" in manifest["phases"][0]["command"]
    assert manifest["status"] == "finished" and (out / "model.safetensors").is_file()
    peaks = manifest["phases"][0]["peak_rss_mib"]
    assert set(peaks) == {"0", "1"} and all(100 < mib < 64 * 1024 for mib in peaks.values()), peaks


def _rank_process(launcher: psutil.Process, rank: int) -> psutil.Process | None:
    for child in launcher.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "recipes._entry" in child.cmdline() and child.environ().get("RANK") == str(rank):
                return child
    return None


def test_a_rank_that_dies_fails_the_whole_run_at_once_naming_it(tiny, dataset_dir, tmp_path):
    """Rank 1 killed mid-training (as the OOM killer does): the launch fails promptly, says which rank and how,
    and leaves no rank behind; before, rank 0 could wait in its next all-reduce and the message named nothing."""
    out = tmp_path / "runs" / "ddp_kill"
    cmd = train_cmd("tiny_cpu_sft", *small(tiny, dataset_dir, out, "ddp_backend=gloo", "max_steps=500",
                                           "save_strategy=no", "logging_steps=1"))
    log = tmp_path / "ddp_kill.log"
    env = {**os.environ, "LLAMAFACTORY_VERBOSITY": "INFO", "FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"}
    with log.open("w") as fh:  # a file, not a pipe: a full pipe would stall the trainer
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env)
        launcher = psutil.Process(proc.pid)
        deadline = time.monotonic() + 300
        while "'loss'" not in log.read_text():  # both ranks are in the training loop
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        rank1, rank0 = _rank_process(launcher, 1), _rank_process(launcher, 0)
        assert rank1 is not None and rank0 is not None
        rank1.send_signal(signal.SIGKILL)
        try:
            rc = proc.wait(timeout=120)  # generous for a loaded machine; a hang is what this guards against
        finally:
            if proc.poll() is None:
                for child in launcher.children(recursive=True):
                    child.kill()
                proc.kill()
    text = log.read_text()
    assert rc == 2, text[-3000:]
    assert "rank 1 was killed (out of memory?) by SIGKILL" in text, text[-3000:]
    assert not rank0.is_running(), "rank 0 was stopped with the run"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "rank 1 was killed" in manifest["error"]
