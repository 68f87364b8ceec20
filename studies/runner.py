"""Run a study's cells: train (`python -m recipes.train`) then evaluate (`python -m eval`), one line each.

Each step is the CLI a user would type, as a subprocess whose output goes to a log beside the
cell's run directory (OUT/<arm>/seed<k>.train.log, .eval.log), so a crash in one cell cannot take
the others down; a failed cell is reported with the last error line of its log and the study goes
on. With several GPUs given (`--gpus 0,1`), cells whose recipe needs at most one GPU run one per
GPU at a time (CUDA_VISIBLE_DEVICES); the others run afterwards, one at a time, on all of them.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from foundation.atomic import write_atomic
from recipes.paths import REPO_ROOT
from studies.cells import EVAL_STAMP, Cell, eval_key, problems_sha256
from studies.errors import StudyError
from studies.spec import Study


@dataclass
class Outcome:
    cell: Cell
    state: str  # reused, done, failed
    seconds: float
    error: str | None = None


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def last_error(log: Path) -> str:
    """The line a person needs from a failed step's log: the last `error:` line, else the last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    errors = [ln for ln in lines if ln.lower().startswith(("error", "traceback")) or "Error:" in ln]
    return (errors or lines or ["(empty log)"])[-1][:300]


def train_command(cell: Cell) -> list[str]:
    if cell.recipe is None:
        raise StudyError(f"{cell.id}: its recipe was not loaded; plan the study first (plan_cells)")
    flag = "--resume" if cell.train == "resume" else "--overwrite"
    return [sys.executable, "-m", "recipes.train", "--recipe", str(cell.recipe.path), "--override",
            *cell.overrides, flag]


def eval_command(study: Study, cell: Cell) -> list[str]:
    return [sys.executable, "-m", "eval", "--run", str(cell.run_dir), "--problems", str(study.problems),
            "--out", str(cell.eval_dir), "--seed", str(cell.seed), "--baselines", "none", "--no-progress",
            *study.eval.cli_args()]


def _step(cmd: list[str], log: Path, env: dict[str, str]) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        return subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              check=False).returncode


def run_cell(study: Study, cell: Cell, problems_hash: str, gpus: str | None = None) -> Outcome:
    """Train (unless reused) and evaluate (unless reused) one cell; never raises for a failed step."""
    start = time.monotonic()
    if cell.train == "reuse" and cell.evaluate == "reuse":
        return Outcome(cell, "reused", 0.0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus
    if cell.train != "reuse":
        rc = _step(train_command(cell), cell.log("train"), env)
        if rc != 0:
            return Outcome(cell, "failed", time.monotonic() - start,
                           f"training exited {rc}: {last_error(cell.log('train'))} (log {cell.log('train')})")
    key = eval_key(study, cell.run_dir, problems_hash)
    (cell.eval_dir / EVAL_STAMP).unlink(missing_ok=True)  # stale until this evaluation completes
    rc = _step(eval_command(study, cell), cell.log("eval"), env)
    if rc != 0:
        return Outcome(cell, "failed", time.monotonic() - start,
                       f"evaluation exited {rc}: {last_error(cell.log('eval'))} (log {cell.log('eval')})")
    write_atomic(cell.eval_dir / EVAL_STAMP, json.dumps(key, indent=2) + "\n")
    return Outcome(cell, "done", time.monotonic() - start)


def _describe(cell: Cell) -> str:
    if cell.train == "reuse" and cell.evaluate == "reuse":
        return "reuse"
    what = {"reuse": "", "resume": "resume training, ", "train": "train, "}[cell.train]
    return f"{what}evaluate"


class Progress:
    """One line when a cell starts and one when it ends: its state and elapsed time."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.t0, self.lock = total, 0, time.monotonic(), threading.Lock()

    def start(self, cell: Cell, gpus: str | None) -> None:
        if cell.train == "reuse" and cell.evaluate == "reuse":
            return
        on = f" on GPU {gpus}" if gpus is not None else ""
        with self.lock:
            print(f"[{self.done}/{self.total}] {cell.id}: {_describe(cell)}{on} ({cell.why})", flush=True)

    def end(self, out: Outcome) -> None:
        with self.lock:
            self.done += 1
            tail = f": {out.error}" if out.error else ""
            print(f"[{self.done}/{self.total}] {out.cell.id}: {out.state} in {clock(out.seconds)} "
                  f"(study {clock(time.monotonic() - self.t0)}){tail}", flush=True)


def run_cells(study: Study, cells: Sequence[Cell], gpu_ids: Sequence[str] = ()) -> list[Outcome]:
    """Every cell, in order; with gpu_ids, single-GPU cells run one per GPU at a time."""
    problems_hash = problems_sha256(study.problems)
    progress = Progress(len(cells))
    outcomes: dict[int, Outcome] = {}

    def one(i: int, gpus: str | None) -> None:
        progress.start(cells[i], gpus)
        outcomes[i] = run_cell(study, cells[i], problems_hash, gpus)
        progress.end(outcomes[i])

    parallel = [i for i, c in enumerate(cells) if len(gpu_ids) > 1 and c.gpus <= 1]
    if parallel:
        free: queue.Queue[str] = queue.Queue()
        for g in gpu_ids:
            free.put(g)

        def on_free_gpu(i: int) -> None:
            gpu = free.get()
            try:
                one(i, gpu)
            finally:
                free.put(gpu)

        with ThreadPoolExecutor(max_workers=len(gpu_ids)) as pool:
            list(pool.map(on_free_gpu, parallel))
    for i in (i for i in range(len(cells)) if i not in parallel):
        one(i, ",".join(gpu_ids) if gpu_ids else None)
    return [outcomes[i] for i in range(len(cells))]
