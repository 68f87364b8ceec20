"""`python -m demo` (`make demo`): the whole chain on the CPU, as the CLIs a user types.

1. build the demo-shaped tiny Qwen3 model (recipes.tiny_model --shape demo; kept when already built)
2. generate a small benchmark of every error type (ordebug.generate, fixed seed)
3. collect trajectories with the heuristic and oracle agents (collectors)
4. convert them with problem-grouped train/val/test splits (converters.sft --root DIR)
5. train demo_cpu_sft on the CPU (recipes.train --override dataset_dir=DIR output_dir=DIR/runs/tiny)
6. evaluate on the held-out test problems: the untrained model (eval --base-model), the trained one
   (eval --run) and the baselines (eval --policy heuristic|drop_first|oracle)
7. report: eval.report over the evaluations, and DIR/REPORT.md with the headline and plots

Each step is a subprocess of ``sys.executable -m ...`` with its output streamed (progress bars
show), so the demo is exactly what a user would type. Everything it writes is under ``--out``
(default ``runs/demo/``, git-ignored) plus ``models/tiny-qwen3-demo``; the repository's own
``dataset_info.json`` is never touched (the converter writes ``DIR/dataset_info.json``).

A rerun starts over: every step runs again and replaces its own outputs (each CLI's overwrite
option). ``--keep`` instead reuses every step whose outputs are complete (after a failure, or to
re-render the report) and trusts them as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from demo.report import EVALUATIONS, shown, write_demo_report
from eval.run_dir import repo_root

DATASET = "ordebug"
RECIPE = "demo_cpu_sft"
TRAIN_MIX = ("--mix", "heuristic=0")  # converters.sft: keep none of the heuristic's samples
DEMO_CUTOFF = 1024  # demo_cpu_sft's cutoff_len
TINY_MODEL = "models/tiny-qwen3-demo"  # recipes.tiny_model --shape demo; the recipe's model_name_or_path


@dataclass(frozen=True)
class Size:
    """How big the demo is: what bounds its time on a 2-core CPU."""

    n: int  # problems generated (split evenly over the 9 error types)
    val: float
    test: float
    train_steps: int  # optimizer steps of demo_cpu_sft
    batch: int  # per_device_train_batch_size
    max_steps: int  # episode step limit of every evaluation (the same for all policies)
    max_new_tokens: int  # completion cap per step of the two model evaluations


# Full: 90 problems -> 17 held-out test problems (the converter's grouped split, seed 0).
# Training (measurements in docs/demo.md): on 2 cores the 152K-token LM head is most of the cost;
# demo_cpu_sft computes it only where the loss is (logits_on_labels_only), so 600 steps of 2 samples
# take about 4 minutes. An untrained model writes
# max_new_tokens on every step, so max_steps x max_new_tokens bounds its evaluation; 384 tokens
# hold every oracle answer (and 95% of the heuristic's).
FULL = Size(n=90, val=0.1, test=0.2, train_steps=600, batch=2, max_steps=5, max_new_tokens=384)
QUICK = Size(n=18, val=0.1, test=0.25, train_steps=4, batch=2, max_steps=2, max_new_tokens=48)


class StepFailed(Exception):
    """A demo step's command exited non-zero."""


@dataclass
class Step:
    title: str
    commands: list[list[str]]
    done: Callable[[], bool] = lambda: False  # outputs complete (for --keep)
    env: dict[str, str] | None = None
    after: Callable[[], None] | None = None  # in-process work after the commands (kept tiny)


def py(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def command_text(cmd: list[str], env: dict[str, str] | None = None) -> str:
    prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    words = ["python" if cmd[0] == sys.executable else cmd[0], *cmd[1:]]
    return (prefix + " " if prefix else "") + shlex.join(words)


def elapsed(t0: float) -> str:
    s = int(time.monotonic() - t0)
    return f"{s // 60}:{s % 60:02d}"


def heldout_ids(out: Path) -> list[str]:
    card = json.loads((out / "data" / DATASET / "card.json").read_text(encoding="utf-8"))
    return list(card["splits"]["test"]["problem_ids"])


def write_heldout_set(out: Path) -> None:
    """The test split's problems as their own benchmark set (DIR/heldout: dataset.json + models/),
    so that every policy plays exactly the same held-out problems."""
    ids = set(heldout_ids(out))
    if not ids:
        raise StepFailed("the converter put no problem in the test split; raise --test or --n")
    bench = json.loads((out / "bench" / "dataset.json").read_text(encoding="utf-8"))
    problems = [p for p in bench["problems"] if p["problem_id"] in ids]
    target = out / "heldout"
    tmp = out / ".heldout.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "models").mkdir(parents=True)
    for p in problems:
        model_file = p.get("model_file") or f"models/{p['problem_id']}.mps"
        shutil.copyfile(out / "bench" / model_file, tmp / model_file)
    header = {k: v for k, v in bench.items() if k != "problems"}
    header.update(
        dataset_name="heldout",
        description=f"the test split of {shown(out / 'data' / DATASET)} (problems of {shown(out / 'bench')})",
        num_problems=len(problems),
    )
    (tmp / "dataset.json").write_text(json.dumps({**header, "problems": problems}, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.replace(target)
    print(f"held-out test problems: {len(problems)} -> {shown(target)}", flush=True)


def run_finished(run: Path) -> bool:
    try:
        return json.loads((run / "manifest.json").read_text(encoding="utf-8")).get("status") == "finished"
    except (OSError, ValueError):
        return False


def build_steps(out: Path, size: Size) -> list[Step]:
    o = shown(out)
    bench, traj, run, evals = f"{o}/bench", f"{o}/trajectories", f"{o}/runs/tiny", out / "eval"
    agents = ("heuristic", "oracle")
    train = [
        "recipes.train",
        "--recipe",
        RECIPE,
        "--override",
        f"dataset_dir={o}",
        f"output_dir={run}",
        f"max_steps={size.train_steps}",
        f"per_device_train_batch_size={size.batch}",
        f"logging_steps={max(1, min(5, size.train_steps // 4))}",
    ]
    episode = ["--problems", f"{o}/heldout", "--max-steps", str(size.max_steps)]
    model = [*episode, "--max-new-tokens", str(size.max_new_tokens), "--baselines", "none"]
    eval_cmds = [
        py("eval", "--base-model", TINY_MODEL, *model, "--out", shown(evals / "untrained")),
        py("eval", "--run", run, *model, "--out", shown(evals / "trained")),
        *[py("eval", "--policy", b, *episode, "--out", shown(evals / b)) for b in EVALUATIONS[2:]],
    ]
    # One torch thread for generation: token-by-token decoding of a 64-wide model is all overhead,
    # and a second thread only contends with the solver and with other work on a 2-core machine.
    return [
        Step("build the tiny model", [py("recipes.tiny_model", "--shape", "demo")]),
        Step(
            "generate a benchmark",
            [
                py(
                    "ordebug.generate",
                    "--out",
                    bench,
                    "--n",
                    str(size.n),
                    "--seed",
                    "0",
                    "--types",
                    "all",
                    "--overwrite",
                )
            ],
            done=lambda: (out / "bench" / "dataset.json").is_file(),
        ),
        Step(
            "collect trajectories (heuristic, oracle)",
            [
                py(
                    "collectors",
                    "--problems",
                    bench,
                    "--agent",
                    a,
                    "--out",
                    f"{traj}/{a}.jsonl",
                    "--workers",
                    "2",
                    "--overwrite",
                )
                for a in agents
            ],
            done=lambda: all((out / "trajectories" / f"{a}.jsonl.summary.json").is_file() for a in agents),
        ),
        Step(
            "convert with problem-grouped splits",
            [
                py(
                    "converters.sft",
                    "--root",
                    o,
                    "--in",
                    *[f"{traj}/{a}.jsonl" for a in agents],
                    "--name",
                    DATASET,
                    "--val",
                    str(size.val),
                    "--test",
                    str(size.test),
                    "--seed",
                    "0",
                    # Train on one teacher: the oracle's answers are shorter (median 115 tokens on an
                    # infeasible model against the heuristic's 224) and give one text per observation;
                    # trained on both, the earlier demo closed <think> in 3 answers of 73 (docs/demo.md).
                    # The heuristic stays a baseline below.
                    *TRAIN_MIX,
                    # the card counts the samples over the recipe's cutoff_len (LLaMA-Factory cuts the
                    # end of their prompt; dropping them instead taught the format worse: docs/demo.md)
                    "--cutoff",
                    str(DEMO_CUTOFF),
                )
            ],
            done=lambda: (out / "heldout" / "dataset.json").is_file(),
            after=lambda: write_heldout_set(out),
        ),
        Step(
            f"train {RECIPE} on the CPU",
            [py(*train, "--overwrite")],
            done=lambda: run_finished(out / "runs" / "tiny"),
        ),
        Step(
            "evaluate on the held-out problems (untrained, trained, baselines)",
            eval_cmds,
            done=lambda: all((evals / name / "results.json").is_file() for name in EVALUATIONS),
            env={"OMP_NUM_THREADS": "1"},
        ),
        Step(
            "report",
            [
                py(
                    "eval.report",
                    *[shown(evals / name) for name in EVALUATIONS],
                    "--out",
                    shown(evals / "summary.md"),
                )
            ],
        ),
    ]


def run_step(i: int, n: int, step: Step, t0: float, keep: bool) -> None:
    # the progress line: where the demo is, how long it has run, how much is left (training and
    # evaluation then stream their own bars with steps done/total and the time left)
    print(f"\n=== [{i}/{n}] {step.title}  (elapsed {elapsed(t0)}, {n - i + 1} of {n} steps left)", flush=True)
    if keep and step.done():
        print("kept: its outputs are already there (--keep)", flush=True)
        return
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(step.env or {})}
    for cmd in step.commands:
        text = command_text(cmd, step.env)
        print(f"$ {text}", flush=True)
        rc = subprocess.run(cmd, cwd=repo_root(), env=env, check=False).returncode
        if rc != 0:
            raise StepFailed(f"step {i}/{n} ({step.title}) failed: `{text}` exited with status {rc}")
    if step.after is not None:
        step.after()


def check_out(out: Path) -> None:
    """Refuse an --out that would put the demo's dataset_info.json over the repository's own."""
    root = repo_root().resolve()
    if out == root or out in root.parents:
        raise StepFailed(f"--out {out} is the repository root (or above it); use a folder such as runs/demo/")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m demo",
        description="The whole OR-Debug SFT chain on the CPU: tiny model, benchmark, heuristic and oracle "
        "trajectories, grouped splits, demo_cpu_sft training, evaluation of the untrained and trained model "
        "and the baselines on held-out problems, and a report with plots (DIR/REPORT.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", default="runs/demo", help="where everything goes (relative to the current directory)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run (n={QUICK.n}, {QUICK.train_steps} training steps, {QUICK.max_steps}-step episodes); "
        "its numbers mean nothing",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="reuse every step whose outputs are already complete (default: every step runs again and "
        "replaces its outputs)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out).expanduser().resolve()
    size = QUICK if args.quick else FULL
    t0 = time.monotonic()
    timings: list[tuple[str, float]] = []
    try:
        check_out(out)
        out.mkdir(parents=True, exist_ok=True)
        steps = build_steps(out, size)
        for i, step in enumerate(steps, 1):
            start = time.monotonic()
            run_step(i, len(steps), step, t0, args.keep)
            timings.append((step.title, time.monotonic() - start))
        report = write_demo_report(out, size=size.__dict__, quick=args.quick, timings=timings)
    except StepFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    print(f"\ndemo finished in {elapsed(t0)}: open {shown(report)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
