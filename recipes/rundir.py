"""Run directories: what is already there, and whether this launch may use it.

Policy: a finished run is never overwritten unless asked (`--overwrite`); an unfinished one
(checkpoints, a crash, a kill) is continued only when asked (`--resume`) and otherwise refused,
so a typo in a run name can never destroy or silently extend a 24-hour run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from recipes.errors import Problem
from recipes.paths import REPO_ROOT

MANIFEST = "manifest.json"
RESOLVED = "recipe.resolved.yaml"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class RunState(StrEnum):
    NEW = "new"  # missing or empty
    FINISHED = "finished"  # our manifest says every phase finished
    UNFINISHED = "unfinished"  # ours, started but not finished (running, failed, interrupted, killed)
    FOREIGN = "foreign"  # not empty and not a run directory of ours


@dataclass(frozen=True)
class RunInfo:
    path: Path
    state: RunState
    manifest: dict[str, Any] | None = None
    last_checkpoint: Path | None = None


def last_checkpoint(output_dir: Path) -> Path | None:
    """The highest `checkpoint-N` directory in a LLaMA-Factory output dir, if any."""
    if not output_dir.is_dir():
        return None
    steps = [(int(m.group(1)), p) for p in output_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return max(steps)[1] if steps else None


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def inspect_run_dir(run_dir: Path) -> RunInfo:
    if not run_dir.exists() or (run_dir.is_dir() and not any(run_dir.iterdir())):
        return RunInfo(run_dir, RunState.NEW)
    manifest = read_manifest(run_dir)
    if manifest is None:
        return RunInfo(run_dir, RunState.FOREIGN)
    ckpts = [c for c in (last_checkpoint(run_dir), *(last_checkpoint(run_dir / str(p.get("name", "")))
             for p in manifest.get("phases", []) if p.get("name"))) if c is not None]
    latest = max(ckpts, key=lambda p: p.stat().st_mtime) if ckpts else None
    state = RunState.FINISHED if manifest.get("status") == "finished" else RunState.UNFINISHED
    return RunInfo(run_dir, state, manifest, latest)


def protected_dir(path: Path) -> bool:
    """The repository, a folder above it, one of its top-level folders (data, runs, models...), or home."""
    path = path.resolve()
    home = Path.home().resolve()
    return path == REPO_ROOT or path in REPO_ROOT.parents or path.parent == REPO_ROOT or path == home \
        or path in home.parents


def overwrite_refusal(info: RunInfo) -> Problem | None:
    """Why ``--overwrite`` may not delete this directory (None: it is a run directory of ours).

    Only a directory holding this toolkit's manifest.json is ever deleted, and never the repository
    or one of its top-level folders, even with a manifest copied into it (`output_dir=data` once
    deleted the registered datasets).
    """
    where = str(info.path)
    if protected_dir(info.path):
        return Problem("output_dir", "is the repository, a folder above it or one of its top-level folders; "
                       "--overwrite never deletes it", "--override output_dir=runs/NEW_NAME", where=where)
    if info.state == RunState.FOREIGN:
        return Problem("output_dir", "holds no manifest.json of a run, so --overwrite will not delete it",
                       "choose another output_dir (runs/NEW_NAME), or empty this directory yourself",
                       where=where)
    return None


def check_run_dir(info: RunInfo, *, resume: bool, overwrite: bool) -> list[Problem]:
    """Problems with launching into this run directory (errors in a dry run too: they do not depend on the machine)."""
    where = str(info.path)
    if resume and overwrite:
        return [Problem("--resume/--overwrite", "use just one: --resume continues a run, --overwrite deletes it",
                        "drop one of RESUME=1 / OVERWRITE=1", where=where)]
    if overwrite and (info.state != RunState.NEW or protected_dir(info.path)):
        refusal = overwrite_refusal(info)
        return [refusal] if refusal else []
    if info.state == RunState.NEW:
        if resume:
            return [Problem("--resume", "nothing to resume in this run directory: training starts from scratch",
                            level="warning", where=where)]
        return []
    if info.state == RunState.FINISHED:
        ended = (info.manifest or {}).get("ended_at", "?")
        return [Problem("output_dir", f"a finished run is already here (ended {ended}); it is never overwritten "
                        "unless asked", "pass --overwrite (OVERWRITE=1) to replace it, or "
                        "--override output_dir=runs/NEW_NAME", where=where)]
    if info.state == RunState.FOREIGN:
        return [Problem("output_dir", "directory is not empty and holds no manifest.json of a run",
                        "choose another output_dir (runs/NEW_NAME); --overwrite only deletes a run directory "
                        "this toolkit made", where=where)]
    if resume:
        return []
    ckpt = f" (last checkpoint {info.last_checkpoint.name})" if info.last_checkpoint else ""
    status = (info.manifest or {}).get("status", "unfinished")
    return [Problem("output_dir", f"an unfinished run is here, status {status}{ckpt}",
                    "--resume (RESUME=1) continues it; --overwrite (OVERWRITE=1) starts over", where=where)]
