"""Does this project's data teach the repair, not only the answer's shape? One GPU, one command.

The phase `bash benchmarks/gpu_check.sh --learn` runs (and, with `--quick`, rehearses on the CPU):

1. build a Qwen3-shaped model from random weights (recipes.tiny_model --shape proof: 103M parameters)
2. generate a few thousand problems of every error type (ordebug.generate)
3. collect trajectories with the default agents (heuristic, oracle) and layout (collectors)
4. convert them with problem-grouped splits; the test split becomes the held-out set (converters.sft)
5. train the recipe `learning_proof` through `recipes.train` for a fixed wall-clock budget
   (`max_train_seconds`, recipes/time_budget.py)
6. evaluate the untrained model, the trained model and the scripted baselines on the same held-out
   problems (`python -m eval`)
7. print one table: format_ok, names valid, RR@5, OP, FP, DA, first-step repair rate

Each step is the CLI a user would type (demo.cli's helpers), with its own time limit; an evaluation
that fails or runs out of time leaves its row empty and the table is still written. Everything goes
under ``--out``: bench/, trajectories/, data/, heldout/, runs/proof/, eval/<policy>/, table.md,
table.json.

    python benchmarks/learning_proof.py --out runs/proof            # one GPU (gpu_check.sh --learn)
    .venv/bin/python benchmarks/learning_proof.py --quick           # CPU rehearsal: numbers mean nothing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from demo.cli import command_text, elapsed, py, write_heldout_set
from demo.report import shown
from eval.metric_registry import get
from eval.run_dir import repo_root
from foundation.tables import markdown_table

RECIPE = "learning_proof"
AGENTS = ("heuristic", "oracle")  # collectors' default agents without a teacher endpoint
POLICIES = ("untrained", "trained", "drop_first", "heuristic", "oracle")
#: The table's columns from results.json's summary (titles and directions from the metric registry).
COLUMNS = ("format_ok", "args_valid", "rr@5", "op", "fp", "da_iis", "da_target")
FIRST_STEP = "first_step_repair"


@dataclass(frozen=True)
class Size:
    """How big the proof is."""

    n: int  # problems generated, split evenly over the 9 error types
    val: float
    test: float  # share of problems held out (the converter's grouped split)
    workers: int  # collectors' solver threads
    shape: str  # recipes.tiny_model --shape
    train_seconds: int  # max_train_seconds
    train: tuple[str, ...]  # further recipe overrides
    max_steps: int  # episode step limit of every evaluation
    max_new_tokens: int
    concurrency: int  # model episodes in flight (LLaMA-Factory's HF engine: MAX_CONCURRENT)
    limits: dict[str, int]  # step -> seconds


# One H100/H200 with 16 cores, the whole command <= 600 s with the install (estimates from
# ../shared/GPU.md and docs/benchmark.md; not measured on a GPU yet): generation ~40 problems/s -> ~60 s;
# collection on 16 workers ~30 s; 60 s to the first training step + 180 s of training; 121 held-out
# problems, 5-step episodes, 256 new tokens a step.
FULL = Size(n=2400, val=0.02, test=0.05, workers=16, shape="proof", train_seconds=180, train=(),
            max_steps=5, max_new_tokens=256, concurrency=8,
            limits={"model": 60, "generate": 100, "collect": 80, "convert": 60, "train": 300, "eval": 110})
# The CPU rehearsal: the demo-shaped 10M model, a 15 s budget, a handful of problems.
QUICK = Size(n=18, val=0.1, test=0.25, workers=2, shape="demo", train_seconds=15,
             train=("gpus=0", "use_cpu=true", "bf16=false", "per_device_train_batch_size=2",
                    "dataloader_num_workers=0", "logging_steps=1"),
             max_steps=2, max_new_tokens=48, concurrency=1,
             limits={"model": 120, "generate": 120, "collect": 300, "convert": 120, "train": 300, "eval": 300})


def model_dir(size: Size) -> str:
    from recipes.tiny_model import SHAPES

    return shown(SHAPES[size.shape][1])


def run(title: str, cmd: list[str], limit: int, env: dict[str, str] | None = None) -> bool:
    """Run one CLI with a time limit, output streamed; True when it exited 0."""
    print(f"\n=== {title} (limit {limit} s)\n$ {command_text(cmd, env)}", flush=True)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    try:
        rc = subprocess.run(cmd, cwd=repo_root(), env=full_env, timeout=limit, check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"--- {title}: TIMED OUT after {limit} s", flush=True)
        return False
    if rc != 0:
        print(f"--- {title}: exit status {rc}", flush=True)
    return rc == 0


def data_steps(out: Path, size: Size) -> list[tuple[str, list[str], int]]:
    o = shown(out)
    collect = [(f"collect ({a})", py("collectors", "--problems", f"{o}/bench", "--agent", a, "--out",
                                     f"{o}/trajectories/{a}.jsonl", "--workers", str(size.workers), "--overwrite",
                                     "--no-progress"), size.limits["collect"]) for a in AGENTS]
    return [
        ("build the model", py("recipes.tiny_model", "--shape", size.shape), size.limits["model"]),
        ("generate problems", py("ordebug.generate", "--out", f"{o}/bench", "--n", str(size.n), "--seed", "0",
                                 "--types", "all", "--overwrite", "--no-progress"), size.limits["generate"]),
        *collect,
        ("convert with problem-grouped splits",
         py("converters.sft", "--root", o, "--in", *[f"{o}/trajectories/{a}.jsonl" for a in AGENTS], "--name",
            "ordebug", "--val", str(size.val), "--test", str(size.test), "--seed", "0", "--cutoff", "1024"),
         size.limits["convert"]),
        (f"train {RECIPE} for {size.train_seconds} s",
         py("recipes.train", "--recipe", RECIPE, "--override", f"dataset_dir={o}", f"output_dir={o}/runs/proof",
            f"model_name_or_path={model_dir(size)}", f"max_train_seconds={size.train_seconds}", *size.train,
            "--overwrite"), size.limits["train"]),
    ]


def card_settings(out: Path) -> list[str]:
    """The observation layout and what-if actions the data used (its dataset card): eval reads them from a
    run's card, but the untrained model and the baselines have no run, so every policy is told them."""
    card = json.loads((out / "data" / "ordebug" / "card.json").read_text(encoding="utf-8"))
    return ["--layout", str(card.get("layout") or "legacy"), "--whatif" if card.get("whatif") else "--no-whatif"]


def eval_steps(out: Path, size: Size) -> list[tuple[str, list[str], int]]:
    o = shown(out)
    episode = ["--problems", f"{o}/heldout", "--max-steps", str(size.max_steps), *card_settings(out),
               "--no-oracle-cost", "--no-progress"]
    model = [*episode, "--max-new-tokens", str(size.max_new_tokens), "--baselines", "none", "--backend",
             "huggingface", "--concurrency", str(size.concurrency)]
    return [
        ("untrained", py("eval", "--base-model", model_dir(size), *model, "--out", f"{o}/eval/untrained"),
         size.limits["eval"]),
        ("trained", py("eval", "--run", f"{o}/runs/proof", *model, "--out", f"{o}/eval/trained"), size.limits["eval"]),
        *[(b, py("eval", "--policy", b, *episode, "--out", f"{o}/eval/{b}"), size.limits["eval"])
          for b in POLICIES[2:]],
    ]


def table_rows(out: Path) -> list[dict[str, object]]:
    """One row per policy: the summary's values (the first-step repair rate among them) and the episode count."""
    rows = []
    for policy in POLICIES:
        path = out / "eval" / policy / "results.json"
        row: dict[str, object] = {"policy": policy}
        if path.is_file():
            results = json.loads(path.read_text(encoding="utf-8"))
            summary = results.get("summary", {})
            row.update({k: summary.get(k) for k in (*COLUMNS, FIRST_STEP)})
            row["n"] = summary.get("n")
        rows.append(row)
    return rows


def render_table(rows: list[dict[str, object]], *, quick: bool, note: str) -> str:
    def cell(v: object) -> str:
        return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    titles = {"args_valid": "names valid ↑", FIRST_STEP: "first-step repair ↑"}
    header = ["policy", "episodes", *[titles.get(c) or get(c).title for c in COLUMNS], titles[FIRST_STEP]]
    body = [[r["policy"], cell(r.get("n")), *[cell(r.get(c)) for c in (*COLUMNS, FIRST_STEP)]] for r in rows]
    lines = []
    if quick:
        lines.append("**CPU REHEARSAL (--quick): these numbers mean nothing; they prove the phase runs.**\n")
    lines += [*markdown_table(header, body, align="ll" + "r" * (len(header) - 2)), "",
              ("names valid = args_valid: the action's names exist in the problem's model. DA-IIS: Jaccard of "
               "the blamed constraints and the initial IIS; DA-target: share of ground-truth targets changed."),
              ("first-step repair (`first_step_repair`): the share of episodes whose first action alone made "
               "the model OPTIMAL, what a single-step RL stage rewards."),
              note]
    return "\n".join(lines) + "\n"


def training_note(out: Path) -> str:
    path = out / "runs" / "proof" / "time_budget.json"
    if not path.is_file():
        return "training: no time_budget.json (the run did not finish)."
    b = json.loads(path.read_text(encoding="utf-8"))
    return (f"training: {b['steps']} optimizer steps in {b['trained_seconds']} s (budget {b['max_train_seconds']} s, "
            f"stopped by the budget: {b['stopped_by_budget']}), {b['tokens_seen']:,} non-padding tokens.")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/proof", help="where everything goes (default runs/proof)")
    p.add_argument("--quick", action="store_true", help="CPU rehearsal: tiny sizes; its numbers mean nothing")
    args = p.parse_args(argv)
    size = QUICK if args.quick else FULL
    out = Path(args.out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    print(f"learning proof ({'CPU rehearsal' if args.quick else 'full'}): {json.dumps(asdict(size))}", flush=True)
    for title, cmd, limit in data_steps(out, size):
        if not run(title, cmd, limit):
            print(f"learning proof stopped at '{title}' after {elapsed(t0)}", file=sys.stderr)
            return 1
        if title.startswith("convert"):
            write_heldout_set(out)
    for title, cmd, limit in eval_steps(out, size):
        run(f"evaluate {title}", cmd, limit, env={"MAX_CONCURRENT": str(size.concurrency)})
    table = render_table(table_rows(out), quick=args.quick, note=training_note(out))
    (out / "table.md").write_text(table, encoding="utf-8")
    (out / "table.json").write_text(json.dumps({"quick": args.quick, "size": asdict(size), "rows": table_rows(out)},
                                               indent=2) + "\n", encoding="utf-8")
    print(f"\n=== learning proof table ({elapsed(t0)} in all)\n{table}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
