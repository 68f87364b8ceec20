"""Rebuild tests/data/, the small excerpt of real inputs the test suite reads, from a full local copy.

The full copy holds three OR-Debug-Bench sets, the legacy SFT data collected with the benchmark's old
scripts and the Netlib LPs (the layout tests/data/README.md describes). The excerpt keeps the same layout
so a test reads either one: a few problems of each error type per benchmark set, the legacy samples the
format tests use with the models they came from, and every Netlib LP (they are small).

    .venv/bin/python scripts/make_test_data.py --source /path/to/full/data [--out tests/data]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_SETS = ("test", "hard", "mdp_v2")
PER_ERROR_TYPE = 3  # enough for every difficulty a type has, small enough to stay a few hundred kB
LEGACY_ALPACA = "sft_gpt52chat.json"
LEGACY_MESSAGES = "sft_qwen_chat.val.jsonl"


def pick_problems(problems: list[dict]) -> list[dict]:
    """Up to PER_ERROR_TYPE problems per error type, preferring one of each difficulty, in file order."""
    picked: list[dict] = []
    for error_type in sorted({p["error_type"] for p in problems}):
        of_type = [p for p in problems if p["error_type"] == error_type]
        first_of_each_difficulty = list({p["difficulty"]: p for p in reversed(of_type)}.values())
        chosen = first_of_each_difficulty[:PER_ERROR_TYPE]
        chosen += [p for p in of_type if p not in chosen][: PER_ERROR_TYPE - len(chosen)]
        picked += chosen
    order = {id(p): i for i, p in enumerate(problems)}
    return sorted(picked, key=lambda p: order[id(p)])


def excerpt_bench_set(source: Path, out: Path) -> None:
    data = json.loads((source / "dataset.json").read_text(encoding="utf-8"))
    problems = pick_problems(data["problems"])
    by_type = Counter(p["error_type"] for p in problems)
    difficulty = Counter(p["difficulty"] for p in problems)
    data.update(
        num_problems=len(problems),
        success_by_type={t: by_type[t] for t in data["error_types"]},
        difficulty_distribution={d: difficulty.get(d, 0) for d in data["difficulty_distribution"]},
        problems=problems,
    )
    (out / "models").mkdir(parents=True, exist_ok=True)
    (out / "dataset.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    for p in problems:
        shutil.copy(source / p["model_file"], out / p["model_file"])


def excerpt_legacy(source: Path, out: Path) -> None:
    """Every messages sample, and the Alpaca samples of the same problems plus every initial-state one."""
    messages = (source / LEGACY_MESSAGES).read_text(encoding="utf-8").splitlines(keepends=True)
    message_ids = {
        re.search(r"^ID: (\S+)$", json.loads(line)["messages"][1]["content"], re.MULTILINE)[1]
        for line in messages
    }
    wrapped = json.loads((source / LEGACY_ALPACA).read_text(encoding="utf-8"))
    wrapped["data"] = [
        s
        for s in wrapped["data"]
        if s["metadata"]["problem_id"] in message_ids or s["metadata"]["steps"] == 1
    ]
    (out / "models").mkdir(parents=True, exist_ok=True)
    (out / LEGACY_ALPACA).write_text(
        json.dumps(wrapped, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / LEGACY_MESSAGES).write_text("".join(messages), encoding="utf-8")
    for pid in sorted({s["metadata"]["problem_id"] for s in wrapped["data"]} | message_ids):
        shutil.copy(source / "models" / f"{pid}.mps", out / "models" / f"{pid}.mps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the full data folder")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data")
    opts = parser.parse_args()
    for name in BENCH_SETS:
        excerpt_bench_set(opts.source / "or_debug_bench" / name, opts.out / "or_debug_bench" / name)
    excerpt_legacy(opts.source / "legacy_sft", opts.out / "legacy_sft")
    shutil.copytree(opts.source / "netlib", opts.out / "netlib", dirs_exist_ok=True)


if __name__ == "__main__":
    main()
