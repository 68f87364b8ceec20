"""Run a validated recipe: prepare the run directory, train each phase, keep the manifest current.

Run directory layout (`runs/<name>/`, or the recipe's `output_dir`):

    recipe.resolved.yaml      the recipe after inheritance and overrides (itself a valid recipe)
    manifest.json             see recipes/manifest.py
    llamafactory_args.yaml    single phase: the exact LLaMA-Factory arguments
    adapter_model.safetensors, trainer_state.json, all_results.json, training_loss.png, checkpoint-N/ ...
                              single phase: LLaMA-Factory's own outputs
    <phase>/                  multi-phase: one LLaMA-Factory output dir per phase, same contents
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from foundation.atomic import write_atomic
from recipes._entry import LOGITS_ON_LABELS_ENV, MAX_TRAIN_SECONDS_ENV, PEAK_RSS_PREFIX
from recipes._torchrun import FAILURES_ENV
from recipes.errors import LaunchError
from recipes.launch import Hardware, LaunchPlan, free_port, rank_failure_message
from recipes.manifest import (
    Manifest,
    PhaseRecord,
    file_hash,
    git_info,
    hardware,
    launch_env,
    now,
    read_peak_rss,
    read_phase_results,
    versions,
)
from recipes.paths import REPO_ROOT
from recipes.recipe import PhasePlan, Recipe
from recipes.rundir import RESOLVED, RunInfo, inspect_run_dir, last_checkpoint, overwrite_refusal
from recipes.validate import dataset_files
from recipes.yamlio import dump

#: Environment every training process gets: nothing is downloaded from a hub.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def args_file(plan: PhasePlan) -> Path:
    return plan.output_dir / "llamafactory_args.yaml"


def resolved_text(recipe: Recipe, command: str) -> str:
    header = [f"# Resolved recipe {recipe.name} ({recipe.path})", f"# command: {command}"]
    header += [f"# source: {s}" for s in recipe.sources]
    header += [f"# override: {o}" for o in recipe.overrides]
    return "\n".join(header) + "\n" + dump(recipe.resolved())


def entry_env(recipe: Recipe) -> dict[str, str]:
    """What every training process gets in its environment, beyond the caller's."""
    env = {**OFFLINE_ENV, **({LOGITS_ON_LABELS_ENV: "1"} if recipe.logits_on_labels_only else {})}
    if recipe.max_train_seconds is not None:
        env[MAX_TRAIN_SECONDS_ENV] = f"{recipe.max_train_seconds:g}"
    return env


def phase_command(plan: PhasePlan, launch: LaunchPlan, recipe: Recipe) -> str:
    return launch.command_line(args_file(plan), entry_env(recipe))


def new_manifest(recipe: Recipe, plans: list[PhasePlan], launch: LaunchPlan, hw: Hardware, command: str) -> Manifest:
    from recipes.template import NAME, template_sha256

    first = plans[0].args
    template = first.get("template")
    datasets: dict[str, Any] = {}
    for plan in plans:
        for name, files in dataset_files(plan.args).items():
            datasets.setdefault(name, [file_hash(f) for f in files if f.is_file()])
    return Manifest(
        run_name=recipe.run_dir().name,
        run_dir=str(recipe.run_dir()),
        recipe=recipe.name,
        recipe_file=str(recipe.path),
        description=recipe.description,
        recipe_sources=[file_hash(s) for s in recipe.sources],
        overrides=recipe.overrides,
        started_at=now(),
        command=command,
        launch={"mode": launch.mode, "nproc_per_node": launch.nproc_per_node, "nnodes": launch.nnodes,
                "node_rank": launch.node_rank, "reasons": list(launch.reasons), "env": launch_env()},
        git=git_info(),
        versions=versions(),
        hardware=hardware(hw.gpu_names),
        template={"name": template, "sha256": template_sha256() if template == NAME else None},
        base_model=first.get("model_name_or_path"),
        finetuning_type=str(first.get("finetuning_type", "lora")),
        datasets=datasets,
        phases=[PhaseRecord(name=p.name, output_dir=str(p.output_dir), args_file=str(args_file(p)),
                            command=phase_command(p, launch, recipe), chained_from=p.chained_from) for p in plans],
        final_model_dir=str(plans[-1].output_dir),
    )


def _run_phase(args: dict[str, Any], path: Path, launch: LaunchPlan, entry: dict[str, str]) -> None:
    if launch.mode == "in_process":
        from recipes._entry import train

        os.environ.update(entry)
        try:
            train(args)
        finally:
            for key in (LOGITS_ON_LABELS_ENV, MAX_TRAIN_SECONDS_ENV):  # the next recipe in this process decides
                os.environ.pop(key, None)
            # (and recipes._entry undid its wrapper when run_exp returned)
        return
    env = {**os.environ, **entry}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    failures = path.parent / "rank_failures.json"  # written by recipes._torchrun when a rank dies
    failures.unlink(missing_ok=True)
    env[FAILURES_ENV] = str(failures)
    rc = subprocess.run(launch.argv(path), env=env, cwd=REPO_ROOT, check=False).returncode
    if rc != 0:
        rows = json.loads(failures.read_text(encoding="utf-8")) if failures.is_file() else []
        raise LaunchError(f"{rank_failure_message(rows)} (torchrun exit status {rc})")


def execute(recipe: Recipe, plans: list[PhasePlan], launch: LaunchPlan, hw: Hardware, info: RunInfo, *,
            resume: bool, overwrite: bool, command: str) -> Manifest:
    """Train every phase (skipping those a resumed run already finished); return the final manifest."""
    run_dir = recipe.run_dir()
    if launch.mode == "torchrun" and launch.master_port is None:  # pick it now so the manifest records it
        launch = dataclasses.replace(launch, master_port=free_port())
    writer = launch.node_rank == 0  # on other nodes of a multi-node run, only train
    if overwrite and run_dir.exists() and writer:
        refusal = overwrite_refusal(inspect_run_dir(run_dir))  # checked again: the delete cannot be undone
        if refusal is not None:
            raise LaunchError(str(refusal))
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest = new_manifest(recipe, plans, launch, hw, command)
    if resume and info.manifest:
        old = Manifest.model_validate(info.manifest)
        done = {p.name: p for p in old.phases if p.status == "finished"}
        manifest.phases = [done.get(p.name, p) for p in manifest.phases]
        manifest.resumes = [*old.resumes, {"at": now(), "command": command}]
        manifest.started_at = old.started_at
    if writer:
        write_atomic(run_dir / RESOLVED, resolved_text(recipe, command))
        manifest.save(run_dir)
    clock = time.monotonic()
    for plan in plans:
        record = manifest.phase(plan.name)
        if record.status == "finished":
            continue
        args = dict(plan.args)
        ckpt = last_checkpoint(plan.output_dir) if resume else None
        if ckpt is not None:
            args["resume_from_checkpoint"] = str(ckpt)
            record.resumed_from = str(ckpt)
        else:
            args["overwrite_output_dir"] = True  # the run-directory policy already decided; no silent auto-resume
        write_atomic(args_file(plan), dump(args))
        for stale in plan.output_dir.glob(f"{PEAK_RSS_PREFIX}*.json"):  # from an earlier attempt
            stale.unlink()
        record.status, record.started_at = "running", now()
        if writer:
            manifest.save(run_dir)
        try:
            _run_phase(args, args_file(plan), launch, entry_env(recipe))
        except BaseException as err:
            record.peak_rss_mib = read_peak_rss(plan.output_dir, PEAK_RSS_PREFIX)
            interrupted = isinstance(err, KeyboardInterrupt)
            record.status = manifest.status = "interrupted" if interrupted else "failed"
            record.ended_at = manifest.ended_at = now()
            manifest.error = f"phase {plan.name}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            if writer:
                manifest.save(run_dir)
            if interrupted:
                raise
            raise LaunchError(f"{manifest.error}; the run is in {run_dir}: fix the cause, then RESUME=1 "
                              "continues from the last checkpoint") from err
        record.metrics, record.loss_first, record.loss_last = read_phase_results(plan.output_dir)
        record.peak_rss_mib = read_peak_rss(plan.output_dir, PEAK_RSS_PREFIX)
        record.status, record.ended_at = "finished", now()
        if writer:
            manifest.save(run_dir)
    manifest.status, manifest.ended_at = "finished", now()
    manifest.duration_s = round(time.monotonic() - clock, 1)
    manifest.metrics = manifest.phases[-1].metrics
    if writer:
        manifest.save(run_dir)
    return manifest
