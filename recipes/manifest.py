"""The run manifest (`runs/<name>/manifest.json`): everything needed to say how a model was made.

Written when a run starts (status "running"), after every phase, and when it ends; always through
a temporary file and a rename. Eval reads `final_model_dir`, `base_model`, `finetuning_type` and
`template` from it. API keys and other secrets are never recorded: only the launch variables in
`LAUNCH_ENV` are.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from foundation import provenance
from foundation.atomic import write_atomic
from foundation.hashing import sha256_file
from foundation.provenance import GitInfo, git_info  # noqa: F401  (the manifest records them)
from foundation.provenance import utc_now as now  # noqa: F401  (the runner stamps phases with it)

SCHEMA_VERSION = 1
PACKAGES = ("torch", "transformers", "llamafactory", "peft", "accelerate", "datasets", "deepspeed", "ordebug-sft")
LAUNCH_ENV = ("FORCE_TORCHRUN", "NPROC_PER_NODE", "NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT",
              "CUDA_VISIBLE_DEVICES", "HF_HUB_OFFLINE")
Status = Literal["pending", "running", "finished", "failed", "interrupted"]


class FileHash(BaseModel):
    path: str = Field(description="file path as read")
    sha256: str
    bytes: int


class PhaseRecord(BaseModel):
    name: str
    output_dir: str = Field(description="LLaMA-Factory output_dir of this phase (adapter, checkpoints, loss plot)")
    args_file: str = Field(description="the exact LLaMA-Factory arguments of this phase (YAML)")
    command: str = Field(description="the exact command that trains this phase")
    status: Status = "pending"
    started_at: str | None = None
    ended_at: str | None = None
    resumed_from: str | None = Field(None, description="checkpoint this phase resumed from, if any")
    chained_from: str | None = Field(None, description="phase whose output this phase starts from")
    metrics: dict[str, Any] = Field(default_factory=dict, description="LLaMA-Factory's all_results.json")
    loss_first: float | None = Field(None, description="first logged training loss")
    loss_last: float | None = Field(None, description="last logged training loss")
    peak_rss_mib: dict[str, int] = Field(default_factory=dict, description="peak resident memory of each training "
                                         "process, rank -> MiB (getrusage; a rank that was killed has none)")


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    run_name: str
    run_dir: str
    recipe: str = Field(description="recipe name")
    recipe_file: str
    description: str = ""
    recipe_sources: list[FileHash] = Field(description="every recipe file read (bases first), hashed")
    overrides: list[str] = Field(default_factory=list, description="--override key=value, in order")
    status: Status = "running"
    started_at: str
    ended_at: str | None = None
    duration_s: float | None = Field(None, description="seconds the last launch trained (since the resume, if any)")
    error: str | None = Field(None, description="one line on why the run stopped, if it failed")
    command: str = Field(description="the command the user ran")
    launch: dict[str, Any] = Field(description="mode (in_process/torchrun), processes, nodes, reasons, launch env")
    git: GitInfo
    versions: dict[str, str | None] = Field(description="python and package versions")
    hardware: dict[str, Any]
    template: dict[str, Any] = Field(description="chat template name and, for qwen3_think, its Jinja sha256")
    base_model: str | None = Field(description="model_name_or_path of the first phase")
    finetuning_type: str = "lora"
    datasets: dict[str, list[FileHash]] = Field(description="every dataset file read, by dataset name, hashed")
    phases: list[PhaseRecord]
    final_model_dir: str = Field(description="the last phase's output: the adapter (LoRA) or model to evaluate")
    metrics: dict[str, Any] = Field(default_factory=dict, description="final metrics (the last phase's)")
    resumes: list[dict[str, Any]] = Field(default_factory=list, description="each --resume: when, from where")

    def save(self, run_dir: Path) -> None:
        write_atomic(run_dir / "manifest.json", self.model_dump_json(indent=2) + "\n")

    def phase(self, name: str) -> PhaseRecord:
        return next(p for p in self.phases if p.name == name)


def file_hash(path: Path) -> FileHash:
    return FileHash(path=str(path), sha256=sha256_file(path), bytes=path.stat().st_size)


def versions() -> dict[str, str | None]:
    return provenance.versions(PACKAGES)


def hardware(gpu_names: tuple[str, ...]) -> dict[str, Any]:
    import torch

    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "memory_gb": memory_gb,
        "gpu_count": len(gpu_names),
        "gpus": list(gpu_names),
        "cuda": torch.version.cuda,
        "python_executable": sys.executable,
    }


def launch_env() -> dict[str, str]:
    return {k: os.environ[k] for k in LAUNCH_ENV if k in os.environ}


def read_peak_rss(output_dir: Path, prefix: str) -> dict[str, int]:
    """rank -> peak RSS in MiB, from the files each rank wrote as it ended (recipes._entry)."""
    peaks: dict[str, int] = {}
    for path in sorted(output_dir.glob(f"{prefix}*.json")):
        try:
            row = json.loads(path.read_text())
            peaks[str(row["rank"])] = int(row["peak_rss_mib"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return peaks


def read_phase_results(output_dir: Path) -> tuple[dict[str, Any], float | None, float | None]:
    """LLaMA-Factory's all_results.json and the first/last logged loss of trainer_state.json."""
    metrics: dict[str, Any] = {}
    try:
        metrics = json.loads((output_dir / "all_results.json").read_text())
    except (OSError, ValueError):
        pass
    losses: list[float] = []
    try:
        state = json.loads((output_dir / "trainer_state.json").read_text())
        losses = [float(e["loss"]) for e in state.get("log_history", []) if "loss" in e]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return metrics, (losses[0] if losses else None), (losses[-1] if losses else None)
