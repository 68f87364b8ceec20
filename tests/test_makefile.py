"""The Makefile passes each variable on as the CLI expects: one argument per value, spaces and quotes kept.

`make collect OUT="dir with space/x.jsonl"` once split the path into two arguments (issue 23, probe 13).
`make -n` prints the command without running it; shlex reads it as bash would.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def argv(target: str, **variables: str) -> list[str]:
    """The argument list `make TARGET VAR=value...` would run (its one command line)."""
    # under `make test` the parent make's variables would make this one print "Entering directory" lines
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "-n", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())],
                          cwd=REPO, capture_output=True, text=True, check=True, env=env)
    line = done.stdout.replace("\\\n", " ").strip().splitlines()[-1]
    return shlex.split(line)


@pytest.mark.parametrize(("target", "variable", "option"), [
    ("collect", "OUT", "--out"), ("eval", "OUT", "--out"), ("generate", "OUT", "--out"),
    ("export", "RUN", "--run"), ("summarize", "OUT", "--out"), ("demo", "OUT", "--out"),
])
def test_a_value_with_spaces_and_quotes_stays_one_argument(target: str, variable: str, option: str) -> None:
    value = "dir with space/it's x.jsonl"
    args = argv(target, **{variable: value})
    assert args[args.index(option) + 1] == value, args


def test_lists_flags_and_unset_variables_keep_working() -> None:
    args = argv("collect", PROBLEMS="setA setB/models", LIMIT="2", OVERWRITE="1", OUT="a b/t.jsonl")
    assert args[args.index("--problems") + 1: args.index("--problems") + 3] == ["setA", "setB/models"]
    assert args[args.index("--limit") + 1] == "2" and "--overwrite" in args and "--retry-errors" not in args
    assert "--workers" not in args  # unset: the CLI's default applies
    train = argv("train", RECIPE="tiny_cpu_sft", OVERRIDES="max_steps=1 output_dir=runs/x", DRY_RUN="1")
    assert train[train.index("--override") + 1:][:2] == ["max_steps=1", "output_dir=runs/x"]
    assert "--dry-run" in train
