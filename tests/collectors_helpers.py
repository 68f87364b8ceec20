"""Shared helpers for the collectors tests (not a test module)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ordebug.generate import generate
from ordebug.trajectory import Trajectory, iter_trajectories

REPO = Path(__file__).resolve().parents[1]


def make_bench(out: Path, n: int = 18, seed: int = 3) -> Path:
    """A small generated benchmark (two problems of each type A-I by default)."""
    generate(out, n=n, seed=seed, types=list("ABCDEFGHI"), progress=False)
    return out


def read_trajectories(path: Path) -> list[Trajectory]:
    """Every line of a finished file, strictly (a torn last line would be an error here)."""
    return list(iter_trajectories(path, skip_torn_tail=False))


def ids(path: Path) -> list[str]:
    return [json.loads(line)["problem_id"] for line in path.read_text(encoding="utf-8").splitlines()]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300):
    """``python -m <args>`` with the repo importable; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", *args],
        check=False,
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def files_contain(folder: Path, secret: str) -> list[Path]:
    """Files under ``folder`` whose bytes contain ``secret``."""
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
