"""The cells of a study (arm x seed): where each lives, what is already done, what must run.

Reuse rule (pending = all - done): a cell's training is reused only when its run directory's
`recipe.resolved.yaml` equals the recipe resolved now and the dataset files hash as its manifest
recorded (recipes/manifest.py); an unfinished run of the same recipe is resumed; anything else is
trained again from scratch. Its evaluation is reused only when the training was, and the
`study_eval.json` written beside `results.json` records the same run (its start time), problem
files (sha256) and eval settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from foundation.hashing import sha256_file
from recipes.errors import Problem, RecipeError
from recipes.recipe import Recipe, load_recipe
from recipes.rundir import RESOLVED, RunState, inspect_run_dir, read_manifest
from recipes.validate import dataset_files
from recipes.yamlio import load_file
from studies.spec import Arm, Study

EVAL_STAMP = "study_eval.json"


@dataclass
class Cell:
    arm: Arm
    seed: int
    run_dir: Path
    overrides: list[str]
    recipe: Recipe | None = None
    train: Literal["reuse", "resume", "train"] = "train"
    evaluate: Literal["reuse", "run"] = "run"
    why: str = ""
    gpus: int = 0  # GPUs the recipe asks for (0: CPU)

    @property
    def id(self) -> str:
        return f"{self.arm.name}/seed{self.seed}"

    @property
    def eval_dir(self) -> Path:
        return self.run_dir / "eval"

    @property
    def results(self) -> Path:
        return self.eval_dir / "results.json"

    def log(self, kind: str) -> Path:
        """Beside the run directory: a retrain (--overwrite) deletes the directory itself."""
        return self.run_dir.parent / f"seed{self.seed}.{kind}.log"


def make_cells(study: Study) -> list[Cell]:
    """Baseline first, then each variant; seeds in the order given."""
    cells = []
    for arm in study.arms:
        for seed in study.seeds:
            run_dir = study.out / arm.name / f"seed{seed}"
            overrides = [*arm.override_list(study.overrides), f"seed={seed}", f"output_dir={run_dir}"]
            cells.append(Cell(arm, seed, run_dir, overrides))
    return cells


def problems_sha256(path: Path) -> str:
    """One hash over a problem set's files (names and contents)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        digest.update(str(f.relative_to(path) if f != path else f.name).encode() + b"\0")
        digest.update(sha256_file(f).encode())
    return digest.hexdigest()


def data_hashes(recipe: Recipe) -> dict[str, list[str]]:
    """sha256 of every dataset file the recipe reads, by dataset name (as the manifest records them)."""
    out: dict[str, list[str]] = {}
    for plan in recipe.phase_plans():
        for name, files in dataset_files(plan.args).items():
            out.setdefault(name, [sha256_file(f) for f in files if f.is_file()])
    return out


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in {*old, *new} if old.get(k) != new.get(k))


def train_action(recipe: Recipe, run_dir: Path) -> tuple[Literal["reuse", "resume", "train"], str]:
    info = inspect_run_dir(run_dir)
    if info.state == RunState.NEW:
        return "train", "new"
    if info.state == RunState.FOREIGN:
        return "train", "the directory holds no run manifest"
    try:
        stored, _ = load_file(run_dir / RESOLVED)
    except RecipeError:
        stored = None
    if not isinstance(stored, dict):
        return "train", f"no readable {RESOLVED}"
    changed = _changed_keys(stored, recipe.resolved())
    if changed:
        return "train", f"recipe changed ({', '.join(changed)})"
    if info.state == RunState.UNFINISHED:
        return "resume", f"unfinished ({(info.manifest or {}).get('status')})"
    recorded = {name: [h.get("sha256") for h in hashes]
                for name, hashes in ((info.manifest or {}).get("datasets") or {}).items()}
    now = data_hashes(recipe)
    changed = sorted(n for n in {*recorded, *now} if recorded.get(n) != now.get(n))
    if changed:
        return "train", f"dataset files changed ({', '.join(changed)})"
    return "reuse", "same recipe and data"


def eval_key(study: Study, run_dir: Path, problems_hash: str) -> dict[str, Any]:
    """What an evaluation depends on besides the code: the trained run, the problems, the settings."""
    manifest = read_manifest(run_dir) or {}
    return {"run_started_at": manifest.get("started_at"), "problems": str(study.problems),
            "problems_sha256": problems_hash, "settings": study.eval.model_dump()}


def eval_action(cell: Cell, key: dict[str, Any]) -> tuple[Literal["reuse", "run"], str]:
    if cell.train != "reuse":
        return "run", "after training"
    try:
        stamp = json.loads((cell.eval_dir / EVAL_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = None
    if stamp is None or not cell.results.is_file():
        return "run", "not evaluated yet"
    if stamp != key:
        return "run", f"evaluation changed ({', '.join(_changed_keys(stamp, key))})"
    return "reuse", "same run, problems and settings"


def _label(cell: Cell, p: Problem) -> Problem:
    """A recipe problem as the study reports it: the arm's name, and the study line for its overrides."""
    where = cell.arm.where if not p.where or p.where.startswith("--override") else p.where
    return dataclasses.replace(p, key=f"{cell.arm.name}: {p.key}", where=where)


def plan_cells(study: Study, *, dry_run: bool) -> tuple[list[Cell], list[Problem]]:
    """Every cell loaded, its actions decided and its recipe validated (as `make train` does).

    Returns the cells and every problem (errors and warnings; machine-dependent ones are errors
    only for cells that will train outside a dry run), each reported once across seeds."""
    from recipes.validate import check_recipe

    cells = make_cells(study)
    problems: list[Problem] = []
    problems_hash = problems_sha256(study.problems)
    for cell in cells:
        try:
            cell.recipe = load_recipe(cell.arm.recipe, cell.overrides)
        except RecipeError as err:
            problems.append(Problem(cell.arm.name, str(err), where=cell.arm.where))
            continue
        cell.gpus = cell.recipe.gpus or 0
        cell.train, cell.why = train_action(cell.recipe, cell.run_dir)
        cell.evaluate, why = eval_action(cell, eval_key(study, cell.run_dir, problems_hash))
        if cell.train == "reuse":
            cell.why = why if cell.evaluate == "run" else "reused: " + cell.why
        checked = check_recipe(cell.recipe, dry_run=dry_run or cell.train == "reuse",
                               resume=cell.train == "resume", overwrite=cell.train != "resume")
        problems += [_label(cell, p) for p in checked.problems]
    unique: list[Problem] = []
    for p in problems:  # every seed of an arm shares its recipe's problems: report each once
        if p not in unique:
            unique.append(p)
    return cells, unique
