"""Where things live: the repository root, recipes, run directories, the Qwen3 tokenizer files."""

from __future__ import annotations

from pathlib import Path

# one definition each (foundation.paths); re-exported because the recipes' modules and tests use them
from foundation.paths import REPO_ROOT, from_repo, qwen3_tokenizer_dir  # noqa: F401

RECIPES_DIR = Path(__file__).resolve().parent
CONFIGS_DIR = RECIPES_DIR / "configs"
DEEPSPEED_DIR = RECIPES_DIR / "deepspeed"
RUNS_DIR = REPO_ROOT / "runs"


