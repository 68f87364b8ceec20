"""Validate a recipe before any model loads, gathering every problem at once.

Checked with LLaMA-Factory's own argument dataclasses and parser: unknown keys (with "did you
mean"), wrong types, and LLaMA-Factory's cross-key rules. Then what LLaMA-Factory only finds
later: datasets registered in `dataset_info.json` with their files present, the template known,
the DeepSpeed file present, local model paths present, the run-directory policy.

Things that depend on the machine (GPU count, bf16 support, DeepSpeed installed, a hub model in
the local cache) are warnings in a dry run — a researcher validates on a login node with no
GPU — and errors at launch. Nothing here loads a model or touches the network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recipes import labelled_logits, schema_snapshot
from recipes.dataset_sources import source_of, split_name
from recipes.errors import Problem
from recipes.launch import Hardware, LaunchPlan
from recipes.ranges import check_ranges
from recipes.recipe import PhasePlan, Recipe, absolutize, is_local_ref
from recipes.rundir import RESOLVED, RunInfo, RunState, check_run_dir
from recipes.schema import check_keys_and_types
from recipes.yamlio import load_file

#: Keys whose effect depends on the machine: checked by the machine checks, not by the parse.
_MACHINE_KEYS = ("deepspeed", "bf16", "fp16", "pure_bf16", "tf32", "resume_from_checkpoint", "ddp_backend")


@contextlib.contextmanager
def _quiet_llamafactory() -> Iterator[None]:
    """LLaMA-Factory's parser turns transformers' logging to INFO and logs the device; not during a check."""
    old_env = os.environ.get("LLAMAFACTORY_VERBOSITY")
    os.environ["LLAMAFACTORY_VERBOSITY"] = "WARN"
    loggers = [logging.getLogger(name) for name in ("llamafactory", "transformers")]
    old_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, old_levels, strict=True):
            lg.setLevel(level)
        if old_env is None:
            os.environ.pop("LLAMAFACTORY_VERBOSITY", None)
        else:
            os.environ["LLAMAFACTORY_VERBOSITY"] = old_env


def check_with_llamafactory(plan: PhasePlan, bad_keys: set[str]) -> tuple[list[Problem], list[Problem]]:
    """Run LLaMA-Factory's own get_train_args on a machine-neutral copy: (config errors, machine problems)."""
    from llamafactory.hparams.parser import get_train_args

    args = {k: v for k, v in plan.args.items() if k not in bad_keys and k not in _MACHINE_KEYS}
    args["use_cpu"] = True  # the checks must not depend on (or initialise) this machine's GPUs
    with tempfile.TemporaryDirectory(prefix="recipe-check-") as tmp:
        args["output_dir"] = str(Path(tmp) / "out")  # our own run-directory policy applies, not its resume
        try:
            with _quiet_llamafactory():
                get_train_args(args)
        except ImportError as err:
            return [], [Problem("(environment)", f"LLaMA-Factory needs a package that is missing: {err}",
                                "install it on the training machine")]
        # LLaMA-Factory raises ValueError with a sentence; dataclass checks may raise the others
        except (ValueError, TypeError, RuntimeError, KeyError, AttributeError, OSError) as err:
            label = f"phases.{plan.name}" if plan.prefix else "llamafactory"
            return [Problem(label, "LLaMA-Factory refuses the arguments: " + str(err).strip().splitlines()[0])], []
    return [], []


def known_templates() -> list[str]:
    """LLaMA-Factory's template names and ours: from the saved snapshot, else from LLaMA-Factory (slow)."""
    from recipes.template import NAME

    return sorted({*(schema_snapshot.load_templates() or schema_snapshot.live_templates()), NAME})


def check_template(plan: PhasePlan) -> list[Problem]:
    from recipes.template import NAME

    name = plan.args.get("template")
    if name is None:
        return [Problem("template", "not set: LLaMA-Factory would guess it from the tokenizer",
                        f"template: {NAME}", level="warning")]
    if not isinstance(name, str):
        return []  # reported by the type check
    known = known_templates()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        return [Problem("template", "unknown template",
                        f"did you mean {' or '.join(close)}?" if close else f"template: {NAME}", name)]
    if name == "qwen3":
        return [Problem("template", "LLaMA-Factory's qwen3 template strips or injects <think> blocks, so training "
                        "text differs from the data", f"template: {NAME}", name, level="warning")]
    return []


def _split(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return []


def check_datasets(plan: PhasePlan) -> list[Problem]:
    args = plan.args
    names = [("dataset", n) for n in _split(args.get("dataset"))]
    names += [("eval_dataset", n) for n in _split(args.get("eval_dataset"))]
    if not names:
        return []
    dataset_dir = args.get("dataset_dir", "data")
    if not isinstance(dataset_dir, str) or dataset_dir == "ONLINE" or dataset_dir.startswith("REMOTE:"):
        return [Problem("dataset_dir", "hub datasets are not used: this toolkit trains offline",
                        'dataset_dir: "." (the repository\'s dataset_info.json)', dataset_dir)]
    info_path = Path(dataset_dir) / "dataset_info.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [Problem("dataset_dir", f"no dataset_info.json in {dataset_dir}",
                        "run `make convert` (it registers datasets there) or point dataset_dir at the right folder")]
    except ValueError as err:
        return [Problem("dataset_dir", f"{info_path} is not valid JSON ({err})", "fix or regenerate it")]
    problems: list[Problem] = []
    for key, name in names:
        entry = info.get(name) if isinstance(info, dict) else None
        source = source_of(name)
        stem, split = split_name(name)
        if not isinstance(entry, dict):
            close = _close_names(name, list(info) if isinstance(info, dict) else [])
            make = source.fix(stem) if split else "register it in dataset_info.json (the converters do)"
            fix = f"did you mean {' or '.join(close)}? If not, {make}" if close else make
            problems.append(Problem(key, f"dataset {name!r} is not registered in {info_path}", fix))
            continue
        hub = [k for k in ("hf_hub_url", "ms_hub_url", "om_hub_url", "cloud_file_name") if k in entry]
        if hub:
            problems.append(Problem(key, f"dataset {name!r} is a hub/cloud dataset ({hub[0]}); nothing downloads here",
                                    "convert it to a local file and register its file_name"))
            continue
        rel = entry.get("file_name") or entry.get("script_url")
        if not isinstance(rel, str):
            problems.append(Problem(key, f"dataset {name!r} in {info_path} has no file_name",
                                    'add "file_name": "data/<name>/train.jsonl"'))
            continue
        if not (Path(dataset_dir) / rel).exists():
            problems.append(Problem(key, f"dataset {name!r}: file {Path(dataset_dir) / rel} is missing",
                                    "regenerate it with `make convert` or fix file_name in dataset_info.json"))
        fmt = entry.get("formatting", "alpaca")
        if fmt not in ("alpaca", "sharegpt", "openai"):
            problems.append(Problem(key, f"dataset {name!r} has formatting {fmt!r}",
                                    "formatting: alpaca, sharegpt or openai"))
        elif source.messages and fmt == "alpaca":  # registered under this name by another converter
            problems.append(Problem(key, f"dataset {name!r} holds Alpaca rows (instruction/input/output), but the "
                                    f"name stands for {source.kind}", f"{source.fix(stem)}, or rename the dataset "
                                    "this recipe trains on"))
    return problems


def _close_names(name: str, registered: list[str]) -> list[str]:
    """Registered names that look like a typo of ``name``: same split, a near-identical stem.

    Comparing whole names matched on the shared ``_train`` alone (oracle_train ~ legm_train).
    """
    stem, split = split_name(name)
    if split is None:  # a typo in the split itself (ordebug_trian): compare whole names
        return difflib.get_close_matches(name, registered, n=3, cutoff=0.8)
    by_stem = {split_name(r)[0]: r for r in registered if split_name(r)[1] == split}
    return [by_stem[s] for s in difflib.get_close_matches(stem, list(by_stem), n=3, cutoff=0.8)]


def dataset_files(args: dict[str, Any]) -> dict[str, list[Path]]:
    """Local files of every dataset a phase reads (for hashing into the manifest)."""
    dataset_dir = Path(str(args.get("dataset_dir", "data")))
    try:
        info = json.loads((dataset_dir / "dataset_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, list[Path]] = {}
    for name in _split(args.get("dataset")) + _split(args.get("eval_dataset")):
        rel = (info.get(name) or {}).get("file_name")
        if isinstance(rel, str):
            path = dataset_dir / rel
            out[name] = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return out


def check_model(recipe: Recipe, plan: PhasePlan, plans: list[PhasePlan], machine: str) -> list[Problem]:
    problems: list[Problem] = []
    chained_key = None
    if plan.chained_from is not None:
        prev = plans[plan.index - 1]
        chained_key = "adapter_name_or_path" if plan.args.get("finetuning_type", "lora") == "lora" \
            else "model_name_or_path"
        own = recipe.phases[plan.index].get(chained_key)
        if own is not None and absolutize({chained_key: own})[chained_key] != str(prev.output_dir):
            problems.append(Problem(f"phases.{plan.name}.{chained_key}", "each phase starts from the previous "
                                    f"phase's output ({prev.output_dir})", f"remove {chained_key} from this phase",
                                    own, recipe.where("phases", plan.index, chained_key)))
    for key in ("model_name_or_path", "adapter_name_or_path"):
        value = plan.args.get(key)
        if not isinstance(value, str) or key == chained_key:
            continue
        for ref in value.split(","):
            if is_local_ref(ref) or Path(ref).is_absolute():
                marker = "config.json" if key == "model_name_or_path" else "adapter_config.json"
                if not (Path(ref) / marker).is_file():
                    fix = ("build it: `make tiny-model`" if "tiny-qwen3" in ref else
                           f"point {key} at a directory with {marker}")
                    problems.append(Problem(key, f"{ref} has no {marker}", fix, where=recipe.where(key)))
            elif key == "model_name_or_path" and not _in_hf_cache(ref, plan.args.get("cache_dir")):
                problems.append(Problem(key, f"hub model {ref} is not in the local Hugging Face cache, and "
                                        "nothing downloads here", f"`hf download {ref}` first, or set {key} to a "
                                        "local copy", level=machine))
    return problems


def _in_hf_cache(repo_id: str, cache_dir: Any) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache_dir if isinstance(cache_dir, str) else None)
    except ValueError:  # an id the hub library rejects (HFValidationError): the parser will say so
        return False
    return isinstance(found, str)


def check_deepspeed(plan: PhasePlan, machine: str) -> list[Problem]:
    value = plan.args.get("deepspeed")
    if not value:
        return []
    problems: list[Problem] = []
    if plan.args.get("use_cpu"):
        problems.append(Problem("deepspeed", "DeepSpeed does not train on the CPU", "remove deepspeed or use_cpu"))
    if isinstance(value, str) and not value.startswith("{"):
        path = Path(value)
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(Problem("deepspeed", f"file {path} is missing",
                                    "use recipes/deepspeed/ds_z2.json or ds_z3.json", value))
        except ValueError as err:
            problems.append(Problem("deepspeed", f"{path} is not valid JSON ({err})", "fix the file", value))
    if importlib.util.find_spec("deepspeed") is None:
        problems.append(Problem("deepspeed", "the deepspeed package is not installed here",
                                "pip install deepspeed on the training machine", level=machine))
    return problems


def check_machine(recipe: Recipe, plan: PhasePlan, launch: LaunchPlan, hw: Hardware, machine: str) -> list[Problem]:
    """GPU count and bf16: errors only at launch."""
    args = plan.args
    problems: list[Problem] = []
    if args.get("use_cpu"):
        return problems
    want = launch.nproc_per_node
    if recipe.gpus and hw.gpus < recipe.gpus:
        problems.append(Problem("gpus", f"the recipe expects {recipe.gpus} GPU(s) (its batch-size arithmetic assumes "
                                f"them); this machine has {hw.gpus}", "run on the training machine, or "
                                "--override gpus=N with a matching gradient_accumulation_steps", recipe.gpus,
                                recipe.where("gpus"), level=machine))
    elif want > hw.gpus:
        problems.append(Problem("NPROC_PER_NODE", f"{want} processes but {hw.gpus} GPU(s) visible",
                                "lower NPROC_PER_NODE or check CUDA_VISIBLE_DEVICES", want, level=machine))
    if (args.get("bf16") or args.get("pure_bf16")) and hw.gpus and not hw.bf16_gpu:
        problems.append(Problem("bf16", f"this GPU ({hw.gpu_names[0]}) does not support bf16",
                                "--override bf16=false fp16=true", True, recipe.where("bf16"), level=machine))
    elif (args.get("bf16") or args.get("pure_bf16")) and not hw.gpus:
        problems.append(Problem("bf16", "no GPU here to check bf16 support on", "validate again on the training "
                                "machine (the launch does)", True, recipe.where("bf16"), level=machine))
    return problems


def check_same_recipe(recipe: Recipe, run: RunInfo, resume: bool) -> list[Problem]:
    """A resumed run must continue the recipe it started with, not a changed one."""
    stored_file = run.path / RESOLVED
    if not resume or run.state != RunState.UNFINISHED or not stored_file.is_file():
        return []
    stored, _ = load_file(stored_file)
    current = recipe.resolved()
    if not isinstance(stored, dict):
        return []
    changed = sorted(k for k in {*stored, *current} if stored.get(k) != current.get(k))
    if not changed:
        return []
    return [Problem("--resume", f"the recipe differs from the one this run started with (changed: "
                    f"{', '.join(changed)}; see {stored_file})", "resume with the same recipe and overrides, "
                    "or start a new run (OVERWRITE=1 or output_dir=runs/NEW_NAME)", where=str(run.path))]


def first_checks(recipe: Recipe, plan: PhasePlan) -> list[Problem]:
    """Keys, types and value ranges, from the saved schema: nothing heavy is imported for these."""
    found = check_keys_and_types(recipe, plan)
    return found + check_ranges(recipe, plan, {p.key.rsplit(".", 1)[-1] for p in found})


def validate(recipe: Recipe, plans: list[PhasePlan], launch: LaunchPlan, hw: Hardware, run: RunInfo, *,
             dry_run: bool, resume: bool = False, overwrite: bool = False, full: bool = True) -> list[Problem]:
    """Every problem of a recipe; machine-dependent ones are warnings in a dry run and errors at launch.

    `full=False` (a wrong key, type or value was found) leaves out the checks that import LLaMA-Factory
    and torch (its parser, the GPUs): they run once the recipe passes the first ones.
    """
    machine = "warning" if dry_run else "error"
    problems: list[Problem] = list(recipe.problems)
    problems += check_run_dir(run, resume=resume, overwrite=overwrite) + check_same_recipe(recipe, run, resume)
    for plan in plans:
        found = first_checks(recipe, plan)
        bad = {p.key.rsplit(".", 1)[-1] for p in found}
        problems += found
        if "output_dir" in plan.own_keys and plan.prefix:
            problems.append(Problem(f"phases.{plan.name}.output_dir", "a phase writes to <output_dir>/<phase name>",
                                    "set output_dir at the top level of the recipe",
                                    where=recipe.where(*plan.prefix, "output_dir")))
        if not plan.args.get("do_train"):
            problems.append(Problem("do_train", "not set, so LLaMA-Factory would load everything and train nothing",
                                    "do_train: true", where=recipe.where("do_train")))
        if full:
            config, env = check_with_llamafactory(plan, bad)
            problems += config + [dataclasses.replace(p, level=machine) for p in env]
        problems += check_template(plan) + check_datasets(plan) + check_model(recipe, plan, plans, machine)
        problems += check_deepspeed(plan, machine)
        if recipe.logits_on_labels_only and (why := labelled_logits.refusal(plan.args)):
            problems.append(Problem("logits_on_labels_only", f"cannot apply: {why}",
                                    "remove logits_on_labels_only (or the key named)", True,
                                    recipe.where("logits_on_labels_only")))
        if full:
            problems += check_machine(recipe, plan, launch, hw, machine)
    unique: list[Problem] = []
    for p in problems:  # a shared key is checked once per phase: report it once
        if p not in unique:
            unique.append(p)
    return unique


@dataclasses.dataclass
class Checked:
    """A recipe resolved and validated: what a launch needs."""

    recipe: Recipe
    plans: list[PhasePlan]
    launch: LaunchPlan
    hardware: Hardware
    run: RunInfo
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


def check_recipe(recipe: Recipe, *, dry_run: bool, resume: bool = False, overwrite: bool = False,
                 hardware: Hardware | None = None, env: dict[str, str] | None = None) -> Checked:
    """Resolve phases, plan the launch and validate; `hardware`/`env` default to this machine's."""
    from recipes.launch import plan_launch
    from recipes.rundir import inspect_run_dir

    plans = recipe.phase_plans()
    # A wrong key, type or value is reported in a second or two, before torch (GPU detection),
    # transformers and LLaMA-Factory are imported; the checks that need them wait for a recipe that passes.
    full = not any(p.level == "error" for plan in plans for p in first_checks(recipe, plan))
    hw = hardware if hardware is not None else Hardware.detect() if full else Hardware(0)
    launch = plan_launch(plans[0].args, recipe.gpus, hw, env)
    run = inspect_run_dir(recipe.run_dir())
    problems = validate(recipe, plans, launch, hw, run, dry_run=dry_run, resume=resume, overwrite=overwrite,
                        full=full)
    return Checked(recipe, plans, launch, hw, run, problems)
