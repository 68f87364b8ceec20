"""Recipes: LLaMA-Factory YAML plus a few wrapper keys, resolved into the exact arguments of each phase.

A recipe file holds LLaMA-Factory's own keys and these wrapper keys:

- `base:` a file (or list of files) to inherit from, relative to the including file (`.yaml` may be
  left out). Any depth; nested mappings merge key by key; lists and scalars replace; `key: null`
  removes an inherited key (LLaMA-Factory's default applies again). Cycles are an error.
- `description:` one line for tables and `--help`.
- `gpus:` how many GPUs the recipe's batch-size arithmetic assumes (0 = CPU).
- `logits_on_labels_only: true` computes the LM head only at positions that carry a label: the
  same loss and gradients, several times faster for a small model on the CPU (SFT only;
  `recipes/labelled_logits.py`).
- `max_train_seconds: S` stops training at the first optimizer step that ends S seconds after
  training began (model loading and tokenising not counted; `recipes/time_budget.py`). Pair it with
  a schedule that a cut-off does not leave half-way, e.g. `lr_scheduler_type: constant_with_warmup`.
- `phases:` progressive training: a list of `{name:, description:, <LLaMA-Factory keys>}`. Each phase
  is the shared keys updated by its own; each phase after the first starts from the previous
  phase's output (LoRA: `adapter_name_or_path`, which resumes training that adapter; full/freeze:
  `model_name_or_path`). In a child recipe, `phases:` as a mapping `{phase_name: {key: value}}`
  patches the inherited phases by name instead of replacing the list.

Overrides `key=value` (values parsed as YAML: `5e-5` is a float, `true` a bool) apply to every
phase and win over phase values; `phases.NAME.key=value` changes one phase. Paths in LLaMA-Factory
keys are relative to the repository root.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.paths import find_named_file
from recipes.errors import Problem, RecipeFormatError, RecipeNotFoundError
from recipes.paths import CONFIGS_DIR, REPO_ROOT, RUNS_DIR, from_repo
from recipes.yamlio import load_file, parse_scalar

WRAPPER_KEYS = ("base", "description", "gpus", "logits_on_labels_only", "max_train_seconds", "phases")
PHASE_WRAPPER_KEYS = ("name", "description")
#: LLaMA-Factory keys holding a filesystem path (resolved against the repository root).
PATH_KEYS = ("dataset_dir", "deepspeed", "output_dir", "tokenized_path", "media_dir", "cache_dir",
             "logging_dir", "resume_from_checkpoint", "export_dir")
#: Keys that may hold a local path or a hub id.
MODEL_KEYS = ("model_name_or_path", "adapter_name_or_path")
_PHASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_.-]+)*$")

KeyPath = tuple[Any, ...]


@dataclass
class PhasePlan:
    """One LLaMA-Factory training run: its name, output directory and complete arguments."""

    name: str
    index: int
    output_dir: Path
    args: dict[str, Any]
    chained_from: str | None = None
    #: key path prefix of the phase's own keys in the recipe (for error messages)
    prefix: KeyPath = ()
    own_keys: frozenset[str] = frozenset()


@dataclass
class Recipe:
    name: str
    path: Path
    description: str = ""
    gpus: int | None = None
    logits_on_labels_only: bool = False
    max_train_seconds: float | None = None
    args: dict[str, Any] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    origins: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, *path: Any) -> str:
        """'file:line' (or '--override ...') where a key path was set, '' if unknown."""
        return self.origins.get(tuple(path), "")

    def run_dir(self) -> Path:
        out = self.args.get("output_dir")
        return from_repo(out) if isinstance(out, str) and out else RUNS_DIR / self.name

    def phase_plans(self) -> list[PhasePlan]:
        run_dir = self.run_dir()
        if not self.phases:
            args = absolutize({**self.args, "output_dir": str(run_dir)})
            return [PhasePlan(self.name, 0, run_dir, args, own_keys=frozenset(self.args))]
        plans: list[PhasePlan] = []
        for i, phase in enumerate(self.phases):
            own = {k: v for k, v in phase.items() if k not in PHASE_WRAPPER_KEYS}
            out = run_dir / phase["name"]
            args = {**copy.deepcopy(self.args), **copy.deepcopy(own), "output_dir": str(out)}
            prev = plans[-1] if plans else None
            if prev is not None:
                key = "adapter_name_or_path" if args.get("finetuning_type", "lora") == "lora" else "model_name_or_path"
                args[key] = str(prev.output_dir)
            plans.append(PhasePlan(phase["name"], i, out, absolutize(args),
                                   chained_from=prev.name if prev else None,
                                   prefix=("phases", i), own_keys=frozenset(own)))
        return plans

    def resolved(self) -> dict[str, Any]:
        """The recipe with inheritance and overrides applied: itself a valid recipe (no `base:`)."""
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        if self.gpus is not None:
            out["gpus"] = self.gpus
        if self.logits_on_labels_only:
            out["logits_on_labels_only"] = True
        if self.max_train_seconds is not None:
            out["max_train_seconds"] = self.max_train_seconds
        plans = self.phase_plans()
        if not self.phases:
            out.update(plans[0].args)
            return out
        out["output_dir"] = str(self.run_dir())  # phases write to <output_dir>/<phase name>
        out["phases"] = [
            {"name": p.name, **({"description": d} if (d := self.phases[p.index].get("description")) else {}),
             **{k: v for k, v in p.args.items() if k != "output_dir"}}
            for p in plans
        ]
        return out


def is_local_ref(value: str) -> bool:
    """A model/adapter reference that names a local directory rather than a hub id."""
    if value.startswith(("/", "./", "../", "~")):
        return True
    return (REPO_ROOT / value).exists() or value.split("/")[0] in ("models", "runs")


def absolutize(args: dict[str, Any]) -> dict[str, Any]:
    out = dict(args)
    for key in PATH_KEYS:
        value = out.get(key)
        if isinstance(value, str) and value and not value.startswith(("{", "REMOTE:")) and value != "ONLINE":
            out[key] = str(from_repo(value))
    for key in MODEL_KEYS:
        value = out.get(key)
        if isinstance(value, str) and value:
            parts = [p.strip() for p in value.split(",")]
            out[key] = ",".join(str(from_repo(p)) if is_local_ref(p) else p for p in parts)
    return out


# ---- finding recipes --------------------------------------------------------------------------

def all_recipes(root: Path = CONFIGS_DIR) -> dict[str, Path]:
    """Every recipe under recipes/configs (recursively), by name (file stem)."""
    found: dict[str, Path] = {}
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        found.setdefault(path.stem, path)
    return found


def find_recipe(spec: str) -> Path:
    """A recipe by name (`qwen3_lora_sft`, `ablations/lora_r8`) or by path."""
    return find_named_file(
        spec, CONFIGS_DIR, _recipe_by_name, all_recipes(), kind="recipe", error=RecipeNotFoundError
    )


def _recipe_by_name(spec: str) -> Path | None:
    matches = sorted({*CONFIGS_DIR.rglob(f"{spec}.yaml"), *CONFIGS_DIR.rglob(f"{spec}.yml")})
    if len(matches) > 1:
        listed = ", ".join(str(m.relative_to(CONFIGS_DIR)) for m in matches)
        raise RecipeNotFoundError(f"recipe name {spec!r} is ambiguous ({listed}); give the path instead")
    return matches[0].resolve() if matches else None


# ---- loading with inheritance -----------------------------------------------------------------

def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _merge(dst: dict[str, Any], src: dict[str, Any], dst_orig: dict[KeyPath, str],
           src_orig: dict[KeyPath, str], prefix: KeyPath = ()) -> None:
    """Deep-merge src into dst (mappings merge, the rest replaces, None deletes), carrying origins."""
    for key, value in src.items():
        path = (*prefix, key)
        if value is None:
            dst.pop(key, None)
            _drop_origins(dst_orig, path)
        elif isinstance(value, dict) and isinstance(dst.get(key), dict) and key != "phases":
            _merge(dst[key], value, dst_orig, src_orig, path)
        else:
            dst[key] = copy.deepcopy(value)
            _drop_origins(dst_orig, path)
            dst_orig.update({p: o for p, o in src_orig.items() if p[: len(path)] == path})


def _drop_origins(origins: dict[KeyPath, str], path: KeyPath) -> None:
    for p in [p for p in origins if p[: len(path)] == path]:
        del origins[p]


def _patch_phases(base_phases: Any, patch: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """`phases:` given as a mapping in a child: update inherited phases by name."""
    if not isinstance(base_phases, list):
        raise RecipeFormatError(f"{where}: phases: a mapping patches inherited phases by name, "
                                "but nothing inherited has phases; write phases as a list")
    phases = copy.deepcopy(base_phases)
    by_name = {p.get("name"): p for p in phases if isinstance(p, dict)}
    for name, changes in patch.items():
        if name not in by_name:
            raise RecipeFormatError(f"{where}: phases.{name}: no inherited phase of that name "
                                    f"(phases: {', '.join(map(str, by_name))})")
        if not isinstance(changes, dict):
            raise RecipeFormatError(f"{where}: phases.{name}: expected a mapping of keys to change")
        for key, value in changes.items():
            if value is None:
                by_name[name].pop(key, None)
            else:
                by_name[name][key] = copy.deepcopy(value)
    return phases


def _load_chain(path: Path, stack: tuple[Path, ...]) -> tuple[dict[str, Any], dict[KeyPath, str], list[Path]]:
    if path in stack:
        cycle = " -> ".join(_rel(p) for p in (*stack[stack.index(path):], path))
        raise RecipeFormatError(f"recipe inheritance cycle: {cycle}; remove one of these `base:` entries")
    data, lines = load_file(path)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise RecipeFormatError(f"{_rel(path)}: a recipe is a mapping of keys to values, got a {type(data).__name__}")
    origins = {p: f"{_rel(path)}:{line}" for p, line in lines.items()}
    bases = data.pop("base", None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
        raise RecipeFormatError(f"{origins.get(('base',), _rel(path))}: base: expected a file name or a list "
                                f"of file names, got {bases!r}")
    merged: dict[str, Any] = {}
    merged_orig: dict[KeyPath, str] = {}
    sources: list[Path] = []
    for base in bases:
        base_path = (path.parent / base).resolve()
        if not base_path.suffix:
            base_path = base_path.with_suffix(".yaml")
        if not base_path.is_file():
            raise RecipeFormatError(f"{origins.get(('base',), _rel(path))}: base {base!r} not found "
                                    f"(looked for {_rel(base_path)}); base paths are relative to the including file")
        b_data, b_orig, b_sources = _load_chain(base_path, (*stack, path))
        _merge(merged, b_data, merged_orig, b_orig)
        sources += [s for s in b_sources if s not in sources]
    if isinstance(data.get("phases"), dict):
        data["phases"] = _patch_phases(merged.get("phases"), data["phases"], origins.get(("phases",), _rel(path)))
    _merge(merged, data, merged_orig, origins)
    sources.append(path)
    return merged, merged_orig, sources


# ---- overrides --------------------------------------------------------------------------------

def parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _OVERRIDE_KEY.match(key):
        raise RecipeFormatError(f"overrides must be in the form key=value (e.g. learning_rate=5e-5), got {text!r}")
    if key.split(".")[0] == "base":
        raise RecipeFormatError(f"override {text!r}: `base` cannot be overridden; use --recipe with another file")
    return key.split("."), parse_scalar(raw.strip())


def _set_path(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        nxt = target.get(key)
        if not isinstance(nxt, dict):
            nxt = target[key] = {}
        target = nxt
    if value is None:
        target.pop(keys[-1], None)
    else:
        target[keys[-1]] = value


def _apply_override(data: dict[str, Any], origins: dict[KeyPath, str], text: str) -> None:
    keys, value = parse_override(text)
    label = f"--override {'.'.join(keys)}=***" if keys[-1].endswith("_token") else f"--override {text}"
    if keys[0] == "phases":
        phases = data.get("phases")
        if len(keys) < 3 or not isinstance(phases, list):
            raise RecipeFormatError(f"override {text!r}: phase overrides look like phases.NAME.key=value "
                                    "and need a recipe with phases")
        names = [p.get("name") if isinstance(p, dict) else None for p in phases]
        index = names.index(keys[1]) if keys[1] in names else (int(keys[1]) if keys[1].isdigit() else -1)
        if not 0 <= index < len(phases):
            raise RecipeFormatError(f"override {text!r}: no phase {keys[1]!r} (phases: {', '.join(map(str, names))})")
        _set_path(phases[index], keys[2:], value)
        origins[("phases", index, *keys[2:])] = label
        return
    _set_path(data, keys, value)
    origins[tuple(keys)] = label
    if keys[0] not in WRAPPER_KEYS and isinstance(data.get("phases"), list):
        for i, phase in enumerate(data["phases"]):  # a plain override applies to every phase
            if isinstance(phase, dict) and keys[0] in phase:
                _set_path(phase, keys, value)
                origins[("phases", i, *keys)] = label


# ---- the public loader ------------------------------------------------------------------------

def load_recipe(spec: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Find, inherit, override and split a recipe into wrapper values and LLaMA-Factory arguments."""
    path = find_recipe(str(spec))
    data, origins, sources = _load_chain(path, ())
    for text in overrides:
        _apply_override(data, origins, text)
    recipe = Recipe(name=path.stem, path=path, sources=sources, overrides=list(overrides), origins=origins)
    _take_wrappers(recipe, data)
    return recipe


def _take_wrappers(recipe: Recipe, data: dict[str, Any]) -> None:
    description = data.pop("description", "")
    if not isinstance(description, str):
        recipe.problems.append(Problem("description", "expected one line of text", "quote it",
                                       description, recipe.where("description")))
        description = str(description)
    recipe.description = description.strip()
    gpus = data.pop("gpus", None)
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0):
        recipe.problems.append(Problem("gpus", "expected a whole number of GPUs (0 = CPU)", "gpus: 2",
                                       gpus, recipe.where("gpus")))
        gpus = None
    recipe.gpus = gpus
    on_labels = data.pop("logits_on_labels_only", False)
    if not isinstance(on_labels, bool):
        recipe.problems.append(Problem("logits_on_labels_only", "expected true or false",
                                       "logits_on_labels_only: true", on_labels, recipe.where("logits_on_labels_only")))
        on_labels = False
    recipe.logits_on_labels_only = on_labels
    seconds = data.pop("max_train_seconds", None)
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0):
        recipe.problems.append(Problem("max_train_seconds", "expected a positive number of seconds",
                                       "max_train_seconds: 240", seconds, recipe.where("max_train_seconds")))
        seconds = None
    recipe.max_train_seconds = seconds
    phases = data.pop("phases", None)
    recipe.args = data
    if phases is None:
        return
    if not isinstance(phases, list) or not phases:
        raise RecipeFormatError(f"{recipe.where('phases') or recipe.path}: phases: expected a non-empty list of "
                                "mappings, each with a name and the keys that phase changes")
    seen: set[str] = set()
    for i, phase in enumerate(phases):
        where = recipe.where("phases", i)
        if not isinstance(phase, dict):
            raise RecipeFormatError(f"{where}: phases[{i}]: expected a mapping (name: ..., dataset: ...), got {phase!r}")
        name = phase.setdefault("name", f"phase{i + 1}")
        if not isinstance(name, str) or not _PHASE_NAME.match(name) or name in seen:
            recipe.problems.append(Problem(f"phases[{i}].name", "phase names must be unique and usable as a "
                                           "directory name", f"name: phase{i + 1}", name, where))
            phase["name"] = f"phase{i + 1}"
        seen.add(phase["name"])
    recipe.phases = phases
