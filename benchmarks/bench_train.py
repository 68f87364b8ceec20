"""Training throughput of recipes against LLaMA-Factory's own Qwen3 LoRA example, same model and data, one run.

    python benchmarks/bench_train.py --shape tiny                       # CPU, minutes: proves the script runs
    python benchmarks/bench_train.py --shape 8b --peak-tflops 989       # one H100/H200 (benchmarks/gpu_check.sh)
    python benchmarks/bench_train.py --shape 8b --recipe qwen3_lora_sft_fast --steps 20 --out results/bench_train
    python benchmarks/bench_train.py --shape 8b --no-upstream --recipe qwen3_lora_sft_fast \
        --recipe "qwen3_lora_sft_fast neat_packing=false" --recipe "qwen3_lora_sft_fast enable_liger_kernel=false"

The model is a Qwen3 built from a config with random weights (no download): `tiny` is the project's test
model (recipes/tiny_model.py), `8b` is Qwen3-8B's shape (8.19B parameters, ../shared/GPU.md), built on the GPU
in bf16; both carry the real Qwen3 tokenizer. The data are OR-Debug-Bench's 774 legacy teacher samples.

Each configuration trains `--steps` optimizer steps in its own process (Liger kernels patch transformers
globally; a fresh process also gives a clean peak-memory reading) through LLaMA-Factory's `run_exp`, exactly
as `recipes._entry` runs it, with only the run-length keys changed (max_steps, no eval, no checkpoints) and
the tokeniser on one process for every configuration (tokenising is not part of the timed steps).
A forward pre-hook counts the tokens of every training micro-batch: real tokens (not padding) and all.

Reported per configuration, over the steady state (the steps after `--skip`): real tokens/s, samples/s,
s/step, MFU = 4 * N * real tokens/s / peak (4N FLOPs per token for LoRA: the forward 2N plus the activation
gradients 2N; no weight gradients of the frozen base, and a recomputed forward under gradient checkpointing is
not counted as useful), peak GPU memory (torch's allocator; host RSS on the CPU), padding share, and the ratio
to the upstream example. Writes bench_train.json and bench_train.md under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from foundation.paths import real_data_dir  # after the path insert: the script runs without PYTHONPATH

#: Qwen3-8B's shape (the config of Qwen/Qwen3-8B; GPU.md): 8.19B parameters.
QWEN3_8B: dict[str, Any] = {
    "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
    "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-6, "rope_theta": 1e6, "tie_word_embeddings": False, "bos_token_id": 151643,
    "eos_token_id": 151645, "pad_token_id": 151643,
}

#: LLaMA-Factory's shipped example, examples/train_lora/qwen3_lora_sft.yaml (hiyouga/LLaMA-Factory, commit
#: 77e7f47), not in the wheel. Its model (Qwen3-4B-Instruct-2507), dataset (identity) and template
#: (qwen3_nothink) are replaced by the benchmark's model, data and qwen3_think so that every configuration
#: trains the same tokens; max_samples, output and checkpoint keys do not affect a step's speed.
UPSTREAM_EXAMPLE: dict[str, Any] = {
    "stage": "sft", "do_train": True, "finetuning_type": "lora", "lora_rank": 8, "lora_target": "all",
    "cutoff_len": 2048, "preprocessing_num_workers": 16, "dataloader_num_workers": 4,
    "per_device_train_batch_size": 1, "gradient_accumulation_steps": 8, "learning_rate": 1.0e-4,
    "num_train_epochs": 3.0, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1, "bf16": True,
    "ddp_timeout": 180000000, "report_to": "none",
}
UPSTREAM = "upstream_example"

#: What the benchmark changes in every configuration: run length, no eval or checkpoints, one tokeniser
#: process (16 workers cost ~90 s of start-up on the lent GPU machine and are not part of a step).
RUN_KEYS: dict[str, Any] = {
    "save_strategy": "no", "eval_strategy": "no", "logging_steps": 1, "plot_loss": False, "report_to": "none",
    "overwrite_cache": True, "preprocessing_num_workers": None, "do_eval": False,
}
#: The CPU has no bf16 autocast worth measuring and no Triton for Liger.
CPU_KEYS: dict[str, Any] = {"use_cpu": True, "bf16": False, "enable_liger_kernel": False}


# ---- model and data ---------------------------------------------------------------------------

def tokenizer_dir() -> Path:
    from recipes.paths import qwen3_tokenizer_dir

    return qwen3_tokenizer_dir()


def build_model(shape: str, out: Path) -> tuple[Path, int]:
    """The model directory and its parameter count (reused when already built)."""
    if shape == "tiny":
        from recipes.tiny_model import STAMP, build_tiny_model

        path = build_tiny_model(out / "tiny-qwen3")
        return path, int(json.loads((path / STAMP).read_text())["parameters"])
    path = out / "qwen3-8b-shape"
    stamp = path / "bench_model.json"
    if stamp.is_file():
        return path, int(json.loads(stamp.read_text())["parameters"])
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    from recipes.tiny_model import TOKENIZER_FILES

    if not torch.cuda.is_available():
        raise SystemExit("--shape 8b builds and trains on a GPU; none is visible (use --shape tiny on the CPU)")
    tmp = Path(tempfile.mkdtemp(prefix=".qwen3-8b.", dir=out))
    started = time.perf_counter()
    torch.manual_seed(0)
    config = Qwen3Config(**QWEN3_8B, architectures=["Qwen3ForCausalLM"], dtype="bfloat16")
    torch.set_default_dtype(torch.bfloat16)  # initialise in bf16 on the GPU: no 33 GB fp32 copy first
    with torch.device("cuda"):
        model = Qwen3ForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(tmp)
    GenerationConfig(bos_token_id=151643, eos_token_id=[151645, 151643], pad_token_id=151643,
                     do_sample=False).save_pretrained(tmp)
    del model
    torch.cuda.empty_cache()
    for name in TOKENIZER_FILES:
        shutil.copyfile(tokenizer_dir() / name, tmp / name)
    (tmp / "bench_model.json").write_text(json.dumps({"config": QWEN3_8B, "parameters": params, "seed": 0}))
    tmp.replace(path)
    print(f"built {path}: {params / 1e9:.2f}B parameters in {time.perf_counter() - started:.0f} s", flush=True)
    return path, params


def write_data(source: Path, out: Path, limit: int | None) -> Path:
    """A dataset_dir with `bench`: OR-Debug-Bench's legacy teacher samples as Alpaca rows with the system prompt."""
    from ordebug.prompts import SYSTEM_PROMPT_CORE

    rows = json.loads(source.read_text(encoding="utf-8"))["data"][:limit]
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "bench.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            sample = {k: row[k] for k in ("instruction", "input", "output")} | {"system": SYSTEM_PROMPT_CORE}
            fh.write(json.dumps(sample) + "\n")
    info = {"bench": {"file_name": "bench.jsonl", "columns": {
        "prompt": "instruction", "query": "input", "response": "output", "system": "system"}}}
    (data_dir / "dataset_info.json").write_text(json.dumps(info, indent=2))
    # The prompt settings of these samples, as a converter's card records them (eval of a run reads them).
    card = {"name": "bench", "layout": "legacy", "system": SYSTEM_PROMPT_CORE, "multi_turn": False,
            "source": str(source), "samples": len(rows)}
    (data_dir / "card.json").write_text(json.dumps(card, indent=2))
    return data_dir


def config_label(spec: str) -> str:
    """A configuration's name in tables and file names: 'qwen3_lora_sft_fast neat_packing=false' ->
    'qwen3_lora_sft_fast+neat_packing=false'."""
    return "+".join(spec.split()).replace("/", "_")


def config_args(spec: str, overrides: list[str]) -> dict[str, Any]:
    """LLaMA-Factory arguments of a recipe (inheritance and overrides applied) or of the upstream example.

    `spec` is a recipe name, optionally followed by overrides of its own (one lever toggled, for example)."""
    name, *own = spec.split()
    overrides = [*overrides, *own]
    if name == UPSTREAM:
        from recipes.recipe import parse_override

        args = dict(UPSTREAM_EXAMPLE)
        for text in overrides:
            keys, value = parse_override(text)
            args[".".join(keys)] = value
        return args
    from recipes.recipe import load_recipe

    recipe = load_recipe(name, overrides)
    if recipe.phases:
        raise SystemExit(f"{name}: a recipe with phases; benchmark one phase's recipe instead")
    return dict(recipe.args)


# ---- the worker: one configuration in its own process -----------------------------------------

def worker(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    import torch
    from transformers import TrainerCallback

    from recipes.template import register

    register()
    from llamafactory.train.tuner import run_exp

    pad_id = spec["pad_token_id"]
    batches: list[tuple[int, int, int]] = []  # (real tokens, all tokens, samples) per training micro-batch
    steps: list[dict[str, float]] = []

    def count(module: Any, args: tuple, kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None or not torch.is_grad_enabled():
            return
        real = ids != pad_id
        pos = kwargs.get("position_ids")
        # a packed row holds several samples: each starts where positions restart on a real token
        samples = int(((pos == 0) & real).sum()) if pos is not None and pos.dim() == 2 else ids.shape[0]
        batches.append((int(real.sum()), ids.numel(), samples))

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            model.register_forward_pre_hook(count, with_kwargs=True)
            steps.append({"t": time.perf_counter(), "batches": 0})

        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            steps.append({"t": time.perf_counter(), "batches": len(batches)})

    run_exp(spec["args"], callbacks=[Clock()])
    result = {"steps": steps, "batches": batches,
              "peak_gpu_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
              "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    Path(spec["result"]).write_text(json.dumps(result))


# ---- the driver -------------------------------------------------------------------------------

def summarize(name: str, raw: dict[str, Any], skip: int, params: int, peak_tflops: float | None) -> dict[str, Any]:
    steps, batches = raw["steps"], raw["batches"]
    if len(steps) < skip + 2:
        raise SystemExit(f"{name}: only {len(steps) - 1} steps ran; --steps must exceed --skip by at least 1")
    first, last = steps[skip], steps[-1]
    timed = batches[first["batches"]: last["batches"]]
    seconds = last["t"] - first["t"]
    real, total, samples = (sum(b[i] for b in timed) for i in range(3))
    per_step = [b["t"] - a["t"] for a, b in zip(steps[skip:], steps[skip + 1:], strict=False)]
    all_real, all_total = sum(b[0] for b in batches), sum(b[1] for b in batches)
    tps = real / seconds
    return {
        "config": name, "timed_steps": len(per_step), "s_per_step": seconds / len(per_step),
        "s_per_step_stdev": statistics.stdev(per_step) if len(per_step) > 1 else 0.0,
        "tokens_per_s": tps, "padded_tokens_per_s": total / seconds, "samples_per_s": samples / seconds,
        "tokens_per_step": real / len(per_step), "samples_per_step": samples / len(per_step),
        "mfu": 4 * params * tps / (peak_tflops * 1e12) if peak_tflops else None,
        "padding_share": 1 - all_real / all_total if all_total else 0.0,
        "peak_gpu_gib": raw["peak_gpu_gib"], "peak_smi_gib": raw["peak_smi_gib"], "peak_rss_gib": raw["peak_rss_gib"],
    }


def run_config(name: str, args: dict[str, Any], work: Path, timeout: int) -> dict[str, Any]:
    spec = {"args": args, "result": str(work / f"{name}.result.json"), "pad_token_id": QWEN3_8B["pad_token_id"]}
    shutil.rmtree(args["output_dir"], ignore_errors=True)  # a rerun starts clean (LLaMA-Factory would refuse)
    spec_path = work / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    log = work / f"{name}.log"
    started = time.perf_counter()
    smi = start_smi(work / f"{name}.smi.csv")
    try:
        with log.open("w") as fh:
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
            proc = subprocess.run([sys.executable, __file__, "--worker", str(spec_path)], stdout=fh,
                                  stderr=subprocess.STDOUT, env=env, cwd=REPO, timeout=timeout, check=False)
    finally:
        if smi is not None:
            smi.terminate()
            smi.wait()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{name} failed (exit {proc.returncode}); log {log}:\n{tail}")
    print(f"  {name}: done in {time.perf_counter() - started:.0f} s (log {log})", flush=True)
    return json.loads(Path(spec["result"]).read_text()) | {"peak_smi_gib": smi_peak(work / f"{name}.smi.csv")}


def start_smi(path: Path) -> subprocess.Popen | None:
    """Sample the GPU's used memory every 500 ms while a configuration runs (what the driver sees, which
    includes the CUDA context and the allocator's cache, unlike torch's peak)."""
    if shutil.which("nvidia-smi") is None:
        return None
    return subprocess.Popen(["nvidia-smi", "--query-gpu=memory.used,utilization.gpu", "--format=csv,noheader,nounits",
                             "-lms", "500"], stdout=path.open("w"), stderr=subprocess.DEVNULL)


def smi_peak(path: Path) -> float | None:
    used = [float(line.split(",")[0]) for line in path.read_text().splitlines()
            if line.strip() and line.split(",")[0].strip().replace(".", "").isdigit()] if path.is_file() else []
    return max(used) / 1024 if used else None


def table(rows: list[dict[str, Any]], header: str) -> str:
    def fmt(value: Any, spec: str, unit: str = "") -> str:
        return "n/a" if value is None else format(value, spec) + unit

    columns = ("config", "tokens/s", "ratio", "samples/s", "s/step", "tokens/step", "MFU (4N)", "peak GPU GiB",
               "nvidia-smi GiB", "peak host GiB", "padding")
    lines = [header, "", "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['tokens_per_s']:,.0f} | {fmt(r['ratio'], '.2f', 'x')} | "
                     f"{r['samples_per_s']:.2f} | {r['s_per_step']:.2f} | {r['tokens_per_step']:,.0f} | "
                     f"{fmt(r['mfu'], '.1%')} | {fmt(r['peak_gpu_gib'], '.1f')} | {fmt(r['peak_smi_gib'], '.1f')} | "
                     f"{r['peak_rss_gib']:.1f} | "
                     f"{r['padding_share']:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_train.py", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:5]))
    parser.add_argument("--shape", choices=("tiny", "8b"), default="tiny", help="model shape (default tiny, CPU)")
    parser.add_argument("--recipe", action="append", default=None,
                        help="recipe to measure, optionally with its own overrides, e.g. "
                        "'qwen3_lora_sft_fast disable_gradient_checkpointing=false' (repeatable; default "
                        "qwen3_lora_sft and qwen3_lora_sft_fast)")
    parser.add_argument("--no-upstream", action="store_true", help="skip LLaMA-Factory's example (no ratio)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per config (8b 12, tiny 5)")
    parser.add_argument("--skip", type=int, default=2, help="first steps left out of the steady state (default 2)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="dense bf16 peak of one GPU for MFU (H100/H200 SXM: 989; A800: 312)")
    parser.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="change keys in every configuration (e.g. cutoff_len=1024)")
    parser.add_argument("--samples", type=int, default=None, help="use the first N samples (default all)")
    parser.add_argument("--data", type=Path, default=None,
                        help="the legacy Alpaca file (default legacy_sft/sft_gpt52chat.json in $ORDEBUG_SHARED_DATA, else tests/data)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench_train", help="output directory")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per configuration before it is killed")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.worker:
        worker(opts.worker)
        return 0

    shape = opts.shape
    steps = opts.steps or (12 if shape == "8b" else 5)
    recipes = opts.recipe or ["qwen3_lora_sft", "qwen3_lora_sft_fast"]
    data = opts.data or real_data_dir() / "legacy_sft" / "sft_gpt52chat.json"
    if not data.is_file():
        raise SystemExit(f"{data}: the legacy teacher samples are not there; pass --data FILE")
    out = opts.out.resolve()
    work = out / f"work-{shape}"
    work.mkdir(parents=True, exist_ok=True)
    model, params = build_model(shape, out)
    data_dir = write_data(data, work, opts.samples)
    common = {**RUN_KEYS, "model_name_or_path": str(model), "dataset_dir": str(data_dir), "dataset": "bench",
              "template": "qwen3_think", "max_steps": steps, "eval_dataset": None}
    if shape == "tiny":
        common |= CPU_KEYS
    names = [*([] if opts.no_upstream else [UPSTREAM]), *recipes]
    results = []
    load = os.getloadavg()
    print(f"bench_train: {shape} ({params / 1e6:,.1f}M parameters), {steps} steps per config, steady state after "
          f"step {opts.skip}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    for spec in names:
        name = config_label(spec)
        args = config_args(spec, opts.override)
        args |= {**common, "output_dir": str(work / name)}
        args = {k: v for k, v in args.items() if v is not None}
        raw = run_config(name, args, work, opts.timeout)
        results.append(summarize(name, raw, opts.skip, params, opts.peak_tflops) | {"args": args})
    base = next((r for r in results if r["config"] == UPSTREAM), None)
    for r in results:
        r["ratio"] = r["tokens_per_s"] / base["tokens_per_s"] if base else None
    load_after = os.getloadavg()
    report = {"shape": shape, "parameters": params, "steps": steps, "skip": opts.skip,
              "peak_tflops": opts.peak_tflops, "overrides": opts.override, "data": str(data),
              "load_average": {"before": load, "after": load_after}, "device": device_name(), "results": results}
    (out / "bench_train.json").write_text(json.dumps(report, indent=2) + "\n")
    header = (f"bench_train --shape {shape}: {params / 1e9:.2f}B parameters, {device_name()}, {steps} steps, "
              f"steady state after step {opts.skip}; "
              f"{'ratio = tokens/s against ' + UPSTREAM if base else 'no ratio (--no-upstream)'}; "
              f"load average {load[0]:.2f} -> {load_after[0]:.2f}")
    text = table(results, header)
    (out / "bench_train.md").write_text(text)
    print(text + f"wrote {out / 'bench_train.json'} and bench_train.md")
    return 0


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    return f"CPU ({os.cpu_count()} cores)"


if __name__ == "__main__":
    raise SystemExit(main())
