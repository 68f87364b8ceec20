"""``converters.sft`` writes the same datasets and cards as the converter of another revision.

    .venv/bin/python benchmarks/convert_outputs.py --baseline REV [--synthetic N] [--trajectories FILE...]

A speed change to the converter must not change a byte of what it writes. This exports the tree at
``REV`` (``git archive``) and runs ``python -m converters.sft`` with each tree's own code on the same
cases: the legacy Alpaca and messages files (``legacy_sft`` of ``foundation.paths.real_data_dir()``), the given trajectory files (in
their own layout with failures kept, re-rendered in the legacy layout as messages, and with a holdout
type, a mix weight and parquet output), and ``--synthetic N`` trajectories of the benchmark's shape
in each layout (one with ``--require-grounded``). Every file a case writes is compared byte for byte:
the split files, ``dataset_info.json``, the card (``card.json`` without ``created_at`` and
``timings_s``; ``README.md`` without the creation time) and the console output (without timing
lines); each tree's ``--root`` reads ``ROOT``. Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from foundation.paths import real_data_dir

LEGACY = real_data_dir() / "legacy_sft"  # the full copy with $ORDEBUG_SHARED_DATA, else tests/data's excerpt
_VOLATILE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:|timings?|seconds|\d+\.\d+ s\b")  # lines that hold a time


def export(rev: str, into: Path) -> Path:
    """The repository's files at ``rev`` under ``into`` (no checkout: the work tree is left alone)."""
    data = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def cases(trajectories: list[Path], synthetic: dict[str, Path]) -> dict[str, list[str]]:
    """Case name -> converter arguments."""
    out: dict[str, list[str]] = {
        "legacy_alpaca": ["--in", str(LEGACY / "sft_gpt52chat.json")],
        "legacy_messages": ["--in", str(LEGACY / "sft_qwen_chat.val.jsonl"), "--format", "sharegpt"],
        "legacy_grounded": [
            "--in",
            str(LEGACY / "sft_gpt52chat.json"),
            "--require-grounded",
            "--canonical-actions",
        ],
    }
    if trajectories:
        files = [str(p) for p in trajectories]
        out["trajectories"] = ["--in", *files, "--keep-failures"]
        out["trajectories_legacy"] = [
            "--in",
            *files,
            "--layout",
            "legacy",
            "--format",
            "sharegpt",
            "--keep-failures",
        ]
        out["trajectories_holdout"] = ["--in", *files, "--holdout-type", "E", "--mix", "oracle=2",
                                       "--file-format", "parquet", "--keep-failures"]  # fmt: skip
    for layout, path in synthetic.items():
        out[f"synthetic_{layout}"] = ["--in", str(path)] + (
            ["--require-grounded"] if layout == "rich" else []
        )
    if "legacy" in synthetic:
        out["synthetic_mixed"] = ["--in", str(synthetic["legacy"]), str(LEGACY / "sft_gpt52chat.json"),
                                  "--layout", "legacy", "--cap", "legacy=300", "--keep-failures"]  # fmt: skip
    return out


def run(code: Path, root: Path, args: list[str]) -> None:
    root.mkdir(parents=True)
    cmd = [sys.executable, "-m", "converters.sft", "--root", str(root), "--quiet", *args]
    env = {**os.environ, "PYTHONPATH": str(code)}  # each tree imports its own code
    done = subprocess.run(cmd, check=False, cwd=code, env=env, capture_output=True, text=True)
    (root / "console.log").write_text(f"{done.stdout}{done.stderr}exit {done.returncode}\n", encoding="utf-8")


def same(a: Path, b: Path, root_a: Path, root_b: Path) -> bool:
    x = a.read_bytes().replace(str(root_a).encode(), b"ROOT")
    y = b.read_bytes().replace(str(root_b).encode(), b"ROOT")
    if a.name == "card.json":
        cx, cy = json.loads(x), json.loads(y)
        for card in (cx, cy):
            card.pop("created_at", None)
            card.pop("timings_s", None)
        return cx == cy
    if a.name in ("README.md", "console.log"):

        def keep(t: bytes) -> list[str]:
            return [line for line in t.decode().splitlines() if not _VOLATILE.search(line)]

        return keep(x) == keep(y)
    return x == y


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """Files compared and those that differ (or exist on one side only), relative to the case roots."""
    names = {p.relative_to(a) for p in a.rglob("*") if p.is_file()} | {
        p.relative_to(b) for p in b.rglob("*") if p.is_file()
    }
    names = {n for n in names if not n.name.endswith(".lock")}
    differ = [
        str(n)
        for n in sorted(names)
        if not ((a / n).exists() and (b / n).exists() and same(a / n, b / n, a, b))
    ]
    return len(names), differ


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", default="HEAD", help="git revision whose converter is the reference")
    p.add_argument("--trajectories", nargs="*", type=Path, default=[], help="collected trajectory files")
    p.add_argument(
        "--synthetic", type=int, default=2000, help="synthesised trajectories per layout (0: none)"
    )
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = export(args.baseline, work / "baseline")
        synthetic: dict[str, Path] = {}
        if args.synthetic:
            from tests.support.synthetic import write_trajectories

            for layout in ("legacy", "rich"):
                synthetic[layout] = write_trajectories(
                    work / f"synthetic_{layout}.jsonl", args.synthetic, layout=layout
                )
        total, bad = 0, 0
        for name, case in cases([t.resolve() for t in args.trajectories], synthetic).items():
            roots = work / "out" / "baseline" / name, work / "out" / "current" / name
            run(base, roots[0], case)
            run(REPO, roots[1], case)
            n, differ = compare(*roots)
            total, bad = total + n, bad + len(differ)
            print(f"{name}: {n} files, {len(differ)} differ{': ' + ', '.join(differ) if differ else ''}")
        print(f"{total} files compared against {args.baseline}, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
