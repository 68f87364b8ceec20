"""Shared fixtures. Real inputs come from tests/data/, a small excerpt committed with the suite
(tests/data/README.md says what each file is); ORDEBUG_SHARED_DATA points the same tests at a full copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.paths import real_data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real inputs in the layout of tests/data/: the full copy when ORDEBUG_SHARED_DATA is set, else the excerpt."""
    return real_data_dir()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
