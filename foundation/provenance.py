"""What makes a run or an evaluation reproducible: git commit, dirty flag, package versions, time.

"Dirty" means the checkout differs from its commit in anything that could change what runs:
a modified or staged tracked file, or an untracked file git does not ignore (a new module not
yet committed is imported all the same). Ignored outputs (data/, runs/, models/) do not count.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from foundation.paths import REPO_ROOT


class GitInfo(BaseModel):
    commit: str | None = Field(None, description="HEAD of the checkout (None outside a git checkout)")
    dirty: bool | None = Field(
        None, description="uncommitted changes to tracked files or new files git does not ignore"
    )


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args], check=False, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_info(root: str | Path = REPO_ROOT) -> GitInfo:
    """Commit and dirty flag of the checkout at ``root`` (both None when git or the checkout is missing)."""
    root = Path(root)
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=normal")
    return GitInfo(commit=commit, dirty=None if status is None or commit is None else bool(status))


def versions(packages: Iterable[str]) -> dict[str, str | None]:
    """Python and each package's installed version (None when not installed); nothing is imported."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def utc_now() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")
