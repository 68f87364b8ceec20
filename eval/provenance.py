"""What makes an evaluation reproducible: the package versions it records (git state, dates and
atomic writes live in ``foundation``)."""

from __future__ import annotations

from foundation import provenance

PACKAGES = (
    "ordebug-sft",
    "gurobipy",
    "llamafactory",
    "transformers",
    "torch",
    "vllm",
    "openai",
    "pydantic",
    "numpy",
)


def versions() -> dict[str, str | None]:
    """Python and package versions (None for packages not installed); nothing is imported."""
    return provenance.versions(PACKAGES)


def git_state() -> dict[str, str | bool | None]:
    """Commit hash and dirty flag as results.json records them (see foundation.provenance)."""
    return provenance.git_info().model_dump()
