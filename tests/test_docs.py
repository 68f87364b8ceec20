"""Every make target is listed by `make help` and documented in the README; every CLI answers --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAKEFILE = (REPO / "Makefile").read_text()
README = (REPO / "README.md").read_text()
TARGETS = re.findall(r"^([a-z][a-z-]*):.*?## ", MAKEFILE, flags=re.M)
#: The CLI behind each target (and the helper CLIs users call directly).
CLIS = sorted(set(re.findall(r"\$\(PY\) -m ([a-z_.]+)", MAKEFILE)))


def test_every_target_is_in_make_help_and_in_the_readme() -> None:
    assert len(TARGETS) >= 20
    listed = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for target in TARGETS:
        assert re.search(rf"^\s+{re.escape(target)}\s", listed, flags=re.M), f"`make help` misses {target}"
        assert f"make {target}" in README, f"README never shows `make {target}`"


@pytest.mark.parametrize("module", CLIS)
def test_every_cli_has_help(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
