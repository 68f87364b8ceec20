"""Train a recipe: `python -m recipes.train --recipe NAME [--override k=v ...] [--dry-run] [--resume] [--overwrite]`.

The recipe is resolved (inheritance, phases, overrides) and validated before anything loads;
a dry run prints the resolved recipe and the exact command of every phase and stops there.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from foundation.cli import cli_main
from recipes.errors import RecipeValidationError
from recipes.recipe import load_recipe
from recipes.yamlio import dump

EPILOG = """examples:
  make train RECIPE=qwen3_lora_sft
  make train RECIPE=qwen3_lora_sft DRY_RUN=1 OVERRIDES="learning_rate=5e-5 lora_rank=32 output_dir=runs/lr5e-5"
  make train RECIPE=tiny_cpu_sft RESUME=1
  FORCE_TORCHRUN=1 NPROC_PER_NODE=2 python -m recipes.train --recipe tiny_cpu_sft --override ddp_backend=gloo
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recipes.train", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", required=True, help="recipe name under recipes/configs (or a YAML path)")
    parser.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="change keys for this run (YAML values; phases.NAME.key=value for one phase)")
    parser.add_argument("--dry-run", action="store_true", help="validate, print the resolved recipe and commands, stop")
    parser.add_argument("--resume", action="store_true", help="continue an unfinished run from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="delete an existing run directory and start over")
    return parser


def run(opts: argparse.Namespace, argv: list[str]) -> int:
    recipe = load_recipe(opts.recipe, opts.override)
    # Before LLaMA-Factory (and huggingface_hub) is imported: nothing downloads, anywhere.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from recipes.runner import execute, phase_command, resolved_text
    from recipes.validate import check_recipe

    checked = check_recipe(recipe, dry_run=opts.dry_run, resume=opts.resume, overwrite=opts.overwrite)
    plans, launch, info = checked.plans, checked.launch, checked.run
    for p in checked.warnings:
        print(f"warning: {p}", file=sys.stderr)
    if checked.errors:
        raise RecipeValidationError(f"{recipe.name} ({recipe.path})", checked.errors)
    command = "python -m recipes.train " + shlex.join(argv)
    if opts.dry_run:
        print(resolved_text(recipe, command))
        print(f"# run directory: {recipe.run_dir()} ({info.state.value})")
        why = f" ({', '.join(launch.reasons)})" if launch.reasons else ""
        print(f"# launch: {launch.mode}, {launch.nproc_per_node} process(es) x {launch.nnodes} node(s){why}")
        if launch.mode == "torchrun" and launch.master_port is None:
            print("# (MASTER_PORT unset: the launch picks a free port and records it in the manifest)")
        for plan in plans:
            print(f"# phase {plan.name}: {phase_command(plan, launch, recipe)}")
        print(f"dry run OK: {recipe.name} validated ({len(plans)} phase(s), "
              f"{len(checked.warnings)} warning(s)); nothing was trained")
        return 0
    manifest = execute(recipe, plans, launch, checked.hardware, info, resume=opts.resume, overwrite=opts.overwrite,
                       command=command)
    loss = manifest.phases[-1]
    print(dump({"run_dir": manifest.run_dir, "status": manifest.status, "final_model_dir": manifest.final_model_dir,
                "loss_first": loss.loss_first, "loss_last": loss.loss_last}), end="")
    return 0


@cli_main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = build_parser().parse_args(argv)
    return run(opts, argv)


if __name__ == "__main__":
    raise SystemExit(main())
