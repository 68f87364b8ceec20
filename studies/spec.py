"""The study file (`recipes/studies/NAME.yaml`): read, checked key by key, every problem at once.

    description: one line for the table's title
    baseline: qwen3_lora_sft            # a recipe name (or path), or a mapping like a variant's
    variants:                           # each: a recipe name, or {name:, recipe:, overrides:, description:}
      - lora_r32
      - {name: r64, recipe: qwen3_lora_sft, overrides: {lora_rank: 64, lora_alpha: 128}}
    seeds: [0, 1, 2]                    # every arm trains once per seed (recipe key `seed`)
    overrides: {}                       # recipe keys set for every cell (before the arm's own)
    problems: data/bench/heldout        # the held-out set every cell is evaluated on
    eval: {max_steps: 20, max_new_tokens: 1024, temperature: 0.0}   # see EvalSettings
    metrics: [rr@5, rr@10, rr@20, da_iis, da_target, op, te, fp, format_ok]
    confidence: 0.95                    # of the bootstrap intervals
    n_boot: 2000
    out: runs/studies/NAME              # cells in OUT/<arm>/seed<k>/, the comparison in OUT/

Problems are reported as `file:line: key: what; fix` like recipe problems (recipes.errors.Problem),
with "did you mean" for unknown keys, recipes and metrics.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eval.metric_registry import DEFAULT_METRICS, RENAMED
from eval.paired import known_metrics
from foundation.paths import find_named_file
from foundation.stats import CONFIDENCE, N_RESAMPLES
from recipes.errors import Problem, RecipeError
from recipes.paths import RECIPES_DIR, REPO_ROOT, RUNS_DIR, from_repo
from recipes.recipe import WRAPPER_KEYS, find_recipe, parse_override
from recipes.yamlio import load_file, parse_scalar
from studies.errors import StudyNotFoundError, StudyValidationError

STUDIES_DIR = RECIPES_DIR / "studies"
TOP_KEYS = ("description", "baseline", "variants", "seeds", "overrides", "problems", "eval", "metrics",
            "confidence", "n_boot", "out")
ARM_KEYS = ("name", "recipe", "overrides", "description")
#: Recipe keys the study sets per cell: an arm or the study may not.
CELL_KEYS = ("seed", "output_dir")


class EvalSettings(BaseModel):
    """How every cell is evaluated (the options of `python -m eval` of the same names)."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(20, ge=1, description="step limit per episode")
    max_new_tokens: int = Field(1024, ge=1, description="completion token cap per step")
    temperature: float = Field(0.0, ge=0, description="sampling temperature (0 = greedy)")
    top_p: float = Field(1.0, gt=0, le=1)
    limit: int | None = Field(None, ge=1, description="play only the first N problems")
    layout: Literal["legacy", "rich"] | None = Field(None, description="default: the run's dataset card")
    concurrency: int | None = Field(None, ge=1, description="episodes in flight (default: eval's)")
    backend: Literal["auto", "huggingface", "vllm"] = "auto"

    def cli_args(self) -> list[str]:
        args = ["--max-steps", str(self.max_steps), "--max-new-tokens", str(self.max_new_tokens),
                "--temperature", str(self.temperature), "--top-p", str(self.top_p), "--backend", self.backend]
        for key in ("limit", "layout", "concurrency"):
            if getattr(self, key) is not None:
                args += [f"--{key}", str(getattr(self, key))]
        return args


@dataclass
class Arm:
    """The baseline or one variant: a recipe plus overrides, trained once per seed."""

    name: str
    recipe: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    where: str = ""

    def override_list(self, common: dict[str, Any]) -> list[str]:
        """`key=value` overrides for recipes.train: the study's, then the arm's own."""
        return [f"{k}={yaml_value(v)}" for k, v in {**common, **self.overrides}.items()]


@dataclass
class Study:
    name: str
    path: Path
    description: str
    baseline: Arm
    variants: list[Arm]
    seeds: list[int]
    overrides: dict[str, Any]
    problems: Path
    eval: EvalSettings
    metrics: list[str]
    confidence: float
    n_boot: int
    out: Path

    @property
    def arms(self) -> list[Arm]:
        return [self.baseline, *self.variants]


def yaml_value(value: Any) -> str:
    """A value as an override's right-hand side that parses back to the same value."""
    if isinstance(value, str) and parse_scalar(value) == value:
        return value
    return json.dumps(value)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def all_studies() -> dict[str, Path]:
    return {p.stem: p for p in sorted(STUDIES_DIR.glob("*.yaml"))}


def find_study(spec: str) -> Path:
    """A study by name (`rank`) or by path."""
    known = all_studies()
    return find_named_file(spec, STUDIES_DIR, known.get, known, kind="study", error=StudyNotFoundError)


def _did_you_mean(key: str, known: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    return f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(known)}"


class _Reader:
    """Collects problems with the file:line of each key path."""

    def __init__(self, path: Path, lines: dict[tuple[Any, ...], int]) -> None:
        self.path, self.lines, self.problems = path, lines, []

    def where(self, *key: Any) -> str:
        for n in range(len(key), 0, -1):  # the nearest key that has a line
            if key[:n] in self.lines:
                return f"{_rel(self.path)}:{self.lines[key[:n]]}"
        return _rel(self.path)

    def add(self, key: tuple[Any, ...], message: str, fix: str = "", value: Any = None) -> None:
        label = ".".join(map(str, key))
        self.problems.append(Problem(label, message, fix, value, self.where(*key)))


def _check_override_keys(r: _Reader, overrides: Any, key: tuple[Any, ...]) -> dict[str, Any]:
    """Override keys must be LLaMA-Factory's (or recipe wrapper keys); the study owns seed and output_dir."""
    from recipes.schema import lf_fields, suggest

    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        r.add(key, "expected a mapping of recipe keys to values", "overrides: {lora_rank: 32}", overrides)
        return {}
    fields = list(lf_fields())
    good: dict[str, Any] = {}
    for name, value in overrides.items():
        text = str(name)
        try:
            parts, _ = parse_override(f"{text}=0")
        except RecipeError as err:
            r.add((*key, name), str(err))
            continue
        leaf = parts[-1]
        if text in CELL_KEYS:
            r.add((*key, name), "set by the study for every cell (seeds:, out:)",
                  "use `seeds:` for seeds; cells go to OUT/<arm>/seed<k>/")
        elif parts[0] not in WRAPPER_KEYS and leaf not in fields:
            close = suggest(leaf, fields)
            fix = f"did you mean {' or '.join(close)}?" if close else "remove it (LLaMA-Factory has no such key)"
            r.add((*key, name), "not a recipe key", fix, value)
        else:
            good[text] = value
    return good


def _arm(r: _Reader, raw: Any, key: tuple[Any, ...]) -> Arm | None:
    if isinstance(raw, str):
        raw = {"recipe": raw}
    if not isinstance(raw, dict):
        r.add(key, "expected a recipe name or a mapping {name:, recipe:, overrides:}", value=raw)
        return None
    for k in raw:
        if k not in ARM_KEYS:
            r.add((*key, k), "unknown key", _did_you_mean(str(k), ARM_KEYS))
    spec = raw.get("recipe")
    if not isinstance(spec, str) or not spec:
        r.add((*key, "recipe"), "missing: every arm names a recipe", "recipe: qwen3_lora_sft")
        return None
    try:
        path = find_recipe(spec)
    except RecipeError as err:
        r.add((*key, "recipe"), str(err))
        return None
    overrides = _check_override_keys(r, raw.get("overrides"), (*key, "overrides"))
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        r.add((*key, "name"), "expected a plain name (it becomes a directory)", "name: r32", name)
        return None
    return Arm(name, path, overrides, str(raw.get("description") or ""), r.where(*key))


def _seeds(r: _Reader, raw: Any) -> list[int]:
    if raw is None:
        return [0]
    if not isinstance(raw, list) or not raw or not all(isinstance(s, int) and not isinstance(s, bool) for s in raw):
        r.add(("seeds",), "expected a non-empty list of integers", "seeds: [0, 1, 2]", raw)
        return [0]
    if len(set(raw)) != len(raw):
        r.add(("seeds",), "a seed is listed twice", "list each seed once", raw)
    return list(dict.fromkeys(raw))


def _problems(r: _Reader, raw: Any) -> Path:
    if not isinstance(raw, str) or not raw:
        r.add(("problems",), "missing: the held-out problem set every cell is evaluated on",
              "problems: data/bench/heldout (a benchmark set: dataset.json + models/)")
        return Path()
    path = from_repo(raw)
    if not path.exists():
        r.add(("problems",), f"{path} does not exist", f"generate it (make generate OUT={raw}) or fix the path")
    return path


def _metrics(r: _Reader, raw: Any) -> list[str]:
    if raw is None:
        return list(DEFAULT_METRICS)
    if not isinstance(raw, list) or not raw:
        r.add(("metrics",), "expected a list of metric names", f"metrics: [{', '.join(DEFAULT_METRICS)}]", raw)
        return list(DEFAULT_METRICS)
    known = known_metrics()
    for i, m in enumerate(raw):
        if m in RENAMED:
            r.add(("metrics", i), f"metric {m!r} was renamed", f"write {RENAMED[m]}")
        elif m not in known:
            r.add(("metrics", i), f"unknown metric {m!r}", _did_you_mean(str(m), sorted(known)))
    return [m for m in raw if m in known]


def _eval(r: _Reader, raw: Any) -> EvalSettings:
    try:
        return EvalSettings.model_validate(raw or {})
    except ValidationError as err:
        for e in err.errors():
            loc = ("eval", *e["loc"])
            fix = _did_you_mean(str(e["loc"][-1]), list(EvalSettings.model_fields)) \
                if e["type"] == "extra_forbidden" else ""
            r.add(loc, e["msg"], fix, e.get("input") if e["type"] != "extra_forbidden" else None)
        return EvalSettings()


def load_study(spec: str) -> Study:
    """Find, read and check a study file; raises StudyValidationError listing every problem."""
    study, problems = read_study(spec)
    if problems or study is None:
        raise StudyValidationError(spec, problems)
    return study


def read_study(spec: str) -> tuple[Study | None, list[Problem]]:
    """The study (None when too broken to plan) and every problem of its file."""
    path = find_study(spec)
    try:
        data, lines = load_file(path)
    except RecipeError as err:
        return None, [Problem("yaml", str(err))]
    r = _Reader(path, lines)
    if not isinstance(data, dict):
        return None, [Problem("study", "a study is a mapping of keys", where=_rel(path))]
    for k in data:
        if k not in TOP_KEYS:
            r.add((k,), "unknown key", _did_you_mean(str(k), TOP_KEYS))
    common = _check_override_keys(r, data.get("overrides"), ("overrides",))
    baseline = _arm(r, data.get("baseline"), ("baseline",)) if "baseline" in data else None
    if "baseline" not in data:
        r.add(("baseline",), "missing: the recipe every variant is compared with", "baseline: qwen3_lora_sft")
    raw_variants = data.get("variants")
    if not isinstance(raw_variants, list) or not raw_variants:
        r.add(("variants",), "expected a non-empty list of recipes", "variants: [lora_r32]", raw_variants)
        raw_variants = []
    variants = [_arm(r, v, ("variants", i)) for i, v in enumerate(raw_variants)]
    seen: dict[str, str] = {}
    for arm in [baseline, *variants]:
        if arm is None:
            continue
        if arm.name in seen:
            r.problems.append(Problem("name", f"two arms are named {arm.name!r} (first at {seen[arm.name]})",
                                      "give one of them its own `name:`", where=arm.where))
        seen.setdefault(arm.name, arm.where)
    seeds = _seeds(r, data.get("seeds"))
    problems = _problems(r, data.get("problems"))
    settings = _eval(r, data.get("eval"))
    metrics = _metrics(r, data.get("metrics"))
    confidence = data.get("confidence", CONFIDENCE)
    if not isinstance(confidence, float) or not 0.5 <= confidence < 1:
        r.add(("confidence",), "expected a number in [0.5, 1)", f"confidence: {CONFIDENCE}", confidence)
        confidence = CONFIDENCE
    n_boot = data.get("n_boot", N_RESAMPLES)
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or n_boot < 100:
        r.add(("n_boot",), "expected an integer of at least 100", f"n_boot: {N_RESAMPLES}", n_boot)
        n_boot = N_RESAMPLES
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        r.add(("out",), "expected a directory path", f"out: runs/studies/{path.stem}", out)
        out = None
    if baseline is None:
        return None, r.problems
    return Study(
        name=path.stem, path=path, description=str(data.get("description") or ""), baseline=baseline,
        variants=[v for v in variants if v is not None], seeds=seeds, overrides=common, problems=problems,
        eval=settings, metrics=metrics, confidence=confidence, n_boot=n_boot,
        out=from_repo(out) if out else RUNS_DIR / "studies" / path.stem,
    ), r.problems
