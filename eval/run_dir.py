"""Read a training run directory: its resolved recipe, manifest, model, dataset cards, loss log.

Layout written by ``recipes.train`` (runs/<name>/): ``recipe.resolved.yaml`` (LLaMA-Factory
keys plus wrapper keys), ``manifest.json``, the LoRA adapter (``adapter_config.json``) or a
merged model (``merged/`` from ``recipes.export``), and LLaMA-Factory's ``trainer_log.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.errors import EvalConfigError
from foundation.paths import REPO_ROOT, from_repo
from foundation.yaml_mapping import read_yaml_mapping

RECIPE_FILE = "recipe.resolved.yaml"
MANIFEST_FILE = "manifest.json"
TRAINER_LOG = "trainer_log.jsonl"


def repo_root() -> Path:
    return REPO_ROOT


@dataclass
class RunDir:
    """What eval needs to know about one training run."""

    path: Path
    recipe: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.recipe.get("run_name") or self.manifest.get("run_name") or self.path.name)

    def phases(self) -> list[dict[str, Any]]:
        """The recipe's phases (each a dict of LLaMA-Factory keys), or [] for a single-phase run."""
        phases = self.recipe.get("phases") or []
        return [p for p in phases if isinstance(p, dict)] if isinstance(phases, list) else []

    def _key(self, key: str) -> Any:
        """A recipe key: top level, else the last phase that sets it."""
        if self.recipe.get(key) is not None:
            return self.recipe[key]
        for phase in reversed(self.phases()):
            if phase.get(key) is not None:
                return phase[key]
        return None

    @property
    def template(self) -> str:
        tpl = self.manifest.get("template")
        name = tpl.get("name") if isinstance(tpl, dict) else tpl
        return str(name or self._key("template") or "qwen3_think")

    @property
    def finetuning_type(self) -> str:
        return str(self.manifest.get("finetuning_type") or self._key("finetuning_type") or "lora")

    def _recorded(self, value: str) -> Path | None:
        """A directory the manifest recorded, found inside this run directory (None: it lies outside).

        Training recorded absolute paths under the run directory of the time; a copied or moved
        run must be evaluated from its own files, never from the original's (issue 23, probe 4).
        """
        path = Path(value).expanduser()
        if not path.is_absolute():
            return self.path / path
        recorded_run = self.manifest.get("run_dir") or self.recipe.get("output_dir")
        if recorded_run:
            try:
                return self.path / path.relative_to(from_repo(recorded_run))
            except ValueError:
                pass
        return path if path == self.path or self.path in path.parents else None

    def output_dirs(self) -> list[Path]:
        """Where training wrote, most final first, all inside this run directory: the manifest's
        final_model_dir, the phase dirs (last first), the run dir itself."""
        recorded = [self.manifest.get("final_model_dir")] + [
            phase.get("output_dir") for phase in reversed(self.manifest.get("phases") or []) if isinstance(phase, dict)
        ]
        dirs = [d for value in recorded if value and (d := self._recorded(str(value))) is not None]
        return list(dict.fromkeys([*dirs, self.path]))

    def merged_model(self) -> Path | None:
        for d in self.output_dirs():
            for cand in (d / "merged", d / "export"):
                if (cand / "config.json").is_file():
                    return cand
        return None

    def adapter(self) -> Path | None:
        for d in self.output_dirs():
            if (d / "adapter_config.json").is_file():
                return d
        return None

    def full_model(self) -> Path | None:
        """A full-parameter fine-tune saved in the run dir itself."""
        for d in self.output_dirs():
            if (d / "config.json").is_file() and any(d.glob("*.safetensors")):
                return d
        return None

    def base_model(self) -> str:
        base = self.manifest.get("base_model") or self.recipe.get("model_name_or_path")
        if not base and self.phases():
            base = self.phases()[0].get("model_name_or_path")
        if not base:
            raise EvalConfigError(
                f"no model_name_or_path in {self.path / RECIPE_FILE}", fix="re-run the recipe (recipes.train)"
            )
        text = str(base)
        local = from_repo(text)
        return str(local) if local.exists() else text

    def model_spec(self, prefer: str = "auto") -> tuple[str, str | None, str]:
        """(model_name_or_path, adapter or None, kind) to load: merged, adapter or full.

        ``prefer``: "auto" (merged > adapter > full), "merged", "adapter".
        """
        merged, adapter, full = self.merged_model(), self.adapter(), self.full_model()
        if prefer == "merged" and merged is None:
            raise EvalConfigError(
                f"{self.path}: no merged model",
                fix=f"run `make export RUN={self.path}` or use --model-kind adapter",
            )
        if prefer == "adapter" and adapter is None:
            raise EvalConfigError(
                f"{self.path}: no LoRA adapter (adapter_config.json)", fix="train the run first"
            )
        if prefer in ("auto", "merged") and merged is not None:
            return str(merged), None, "merged"
        if adapter is not None:
            return self.base_model(), str(adapter), "adapter"
        if full is not None:
            return str(full), None, "full"
        raise EvalConfigError(
            f"{self.path}: no trained model (no adapter_config.json, merged/ or weights)",
            fix="train it with `make train RECIPE=...` (or point --run at the run directory)",
        )

    def datasets(self) -> list[str]:
        """Training dataset names of every phase (their cards hold the test split)."""
        names: list[str] = []
        for source in [self.recipe, *self.phases()]:
            value = source.get("dataset") or []
            items = value.split(",") if isinstance(value, str) else list(value)
            names += [n.strip() for n in items if n and str(n).strip()]
        return list(dict.fromkeys(names))

    def dataset_dir(self) -> Path:
        return from_repo(self._key("dataset_dir") or ".")

    def trainer_logs(self) -> list[tuple[str, Path]]:
        """(phase name, trainer_log.jsonl) of every phase that logged, in training order."""
        out: list[tuple[str, Path]] = []
        for phase in self.manifest.get("phases") or []:
            if isinstance(phase, dict) and phase.get("output_dir"):
                found = self._recorded(str(phase["output_dir"]))
                path = (found or self.path / "-") / TRAINER_LOG
                if path.is_file():
                    out.append((str(phase.get("name") or path.parent.name), path))
        if not out:
            for d in self.output_dirs():
                if (d / TRAINER_LOG).is_file():
                    return [(self.name, d / TRAINER_LOG)]
        return out


def load_run(path: str | Path) -> RunDir:
    """Read a run directory (errors name the file and the fix)."""
    path = Path(path)
    if not path.is_dir():
        raise EvalConfigError(f"{path}: no such run directory", fix="pass --run runs/<name>")
    recipe_file = path / RECIPE_FILE
    if not recipe_file.is_file():
        raise EvalConfigError(
            f"{recipe_file}: missing; is {path} a run directory written by recipes.train?",
            fix="pass --run runs/<name>",
        )
    recipe = read_yaml_mapping(recipe_file, error=EvalConfigError, fix="a run's recipe is a mapping of recipe keys")
    manifest: dict[str, Any] = {}
    if (path / MANIFEST_FILE).is_file():
        try:
            manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise EvalConfigError(
                f"{path / MANIFEST_FILE}:{exc.lineno}: not valid JSON ({exc.msg})"
            ) from None
    return RunDir(path=path, recipe=recipe, manifest=manifest)


def read_trainer_log(path: Path) -> list[dict[str, Any]]:
    """LLaMA-Factory's trainer_log.jsonl rows (a torn last line is skipped)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows
