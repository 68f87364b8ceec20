"""Train, evaluate and compare an ablation study: a baseline recipe and its variants, once per seed.

`python -m studies --study NAME [--dry-run] [--gpus 0,1]` (`make study STUDY=NAME [DRY_RUN=1] [GPUS=0,1]`)
validates the study file and every cell's recipe (as `make train` does) before anything trains,
then trains and evaluates every cell that is not already done, and writes the paired comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from foundation.cli import cli_main
from studies.cells import Cell, plan_cells
from studies.errors import StudyValidationError
from studies.spec import Study, read_study

EPILOG = """examples:
  make study STUDY=rank DRY_RUN=1      # validate every cell, print the plan; trains nothing
  make study STUDY=rank                # train + evaluate what is not done yet, then compare
  make study STUDY=rank GPUS=0,1       # one single-GPU cell per GPU at a time
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m studies", description=__doc__.splitlines()[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", required=True, help="study name under recipes/studies (or a YAML path)")
    p.add_argument("--dry-run", action="store_true", help="validate every cell and print the plan; train nothing")
    p.add_argument("--gpus", default="", help="comma list of GPU ids: run cells that need at most one GPU "
                   "one per GPU at a time (default: one cell after another, each with the GPUs it asks for)")
    return p


def _action(cell: Cell) -> str:
    if cell.train == "reuse" and cell.evaluate == "reuse":
        return "reuse"
    return {"reuse": "", "resume": "resume+", "train": "train+"}[cell.train] + "eval"


def print_plan(study: Study, cells: Sequence[Cell], gpu_ids: Sequence[str]) -> None:
    todo = [c for c in cells if _action(c) != "reuse"]
    print(f"study {study.name} ({study.path}): {len(study.arms)} arms x {len(study.seeds)} seeds = "
          f"{len(cells)} cells, {len(todo)} to run; problems {study.problems}; out {study.out}")
    width = max(len(c.id) for c in cells)
    print(f"  {'#':>3}  {'cell':<{width}}  {'recipe':<24} {'gpus':>4}  {'action':<12} why")
    for i, c in enumerate(cells, 1):
        recipe = c.recipe.name if c.recipe else "?"
        print(f"  {i:>3}  {c.id:<{width}}  {recipe:<24} {c.gpus:>4}  {_action(c):<12} {c.why}")
    if len(gpu_ids) > 1:
        single = sum(1 for c in todo if c.gpus <= 1)
        print(f"order: {single} cell(s) needing <=1 GPU run one per GPU on {','.join(gpu_ids)}, in the order "
              f"above; then {len(todo) - single} multi-GPU cell(s) one after another on all of them")
    else:
        print("order: one cell after another, in the order above, each with the GPUs its recipe asks for")


def run(opts: argparse.Namespace) -> int:
    study, problems = read_study(opts.study)
    if study is None:
        raise StudyValidationError(opts.study, problems)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before LLaMA-Factory loads: nothing downloads
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    gpu_ids = [g.strip() for g in opts.gpus.split(",") if g.strip()]
    cells, cell_problems = plan_cells(study, dry_run=opts.dry_run)
    problems += cell_problems
    for p in problems:
        if p.level == "warning":
            print(f"warning: {p}", file=sys.stderr)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise StudyValidationError(f"{study.name} ({study.path})", errors)
    print_plan(study, cells, gpu_ids)
    if opts.dry_run:
        print(f"dry run OK: {len(cells)} cells validated; nothing was trained")
        return 0
    from studies.compare import write_comparison
    from studies.runner import run_cells

    outcomes = run_cells(study, cells, gpu_ids)
    failed = [f"`{o.cell.id}`: {o.error}" for o in outcomes if o.state == "failed"]
    # a failed re-evaluation may leave an older results.json behind: only cells that finished count
    finished = [o.cell for o in outcomes if o.state != "failed"]
    md_path, csv_path, png, md = write_comparison(study, finished, failed)
    print(md, end="")
    counts = {s: sum(o.state == s for o in outcomes) for s in ("done", "reused", "failed")}
    print(f"study {study.name}: {counts['done']} cell(s) run, {counts['reused']} reused, {counts['failed']} "
          f"failed; wrote {md_path}, {csv_path}" + (f", {png}" if png else ""))
    return 1 if failed else 0


@cli_main
def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
