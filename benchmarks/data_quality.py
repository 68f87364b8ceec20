"""The grounded-data table: what a trajectory file teaches and how well its agent repairs.

    python benchmarks/data_quality.py trajectories/heuristic.jsonl trajectories/oracle.jsonl [--by-type]

For each trajectory file: the share of labels the benchmark's RL stage parses as one of its eight
actions (ordebug.benchmark_actions), grounding (numbers and samples, converters.sft
.grounding), the first-step repair rate, RR@5, OP, FP, mean steps, and prompt tokens p50/p95
(system + user turn in the qwen3_think template, real Qwen3 tokenizer). Not a speed benchmark
(``make bench`` does not run it): it measures data quality, from the files alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from converters.sft.checks import token_counter
from converters.sft.grounding_report import ground
from converters.sft.sources import ReadStats
from converters.sft.trajectories import read_trajectories
from foundation.tables import markdown_table
from ordebug.benchmark_actions import check_benchmark_action
from ordebug.prompts import system_prompt


def _pct(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0


def measure(path: Path) -> tuple[dict, dict[str, list[float]]]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    samples = list(read_trajectories(path, layout=None, keep_failures=False, skip_bad=False, stats=ReadStats()))
    system = system_prompt("rich", whatif=any(s.meta["whatif"] for s in samples))
    compatible = sum(check_benchmark_action(s.output).ok for s in samples)
    verdicts = [ground(s) for s in samples]
    prompts = token_counter().count([(system, s.user, "") for s in samples])
    by_type: dict[str, list[float]] = defaultdict(list)
    first, m = [], defaultdict(list)
    for r in records:
        metrics = r.get("metrics") or {}
        for k in ("rr@5", "op", "fp", "steps"):
            if metrics.get(k) is not None:
                m[k].append(metrics[k])
        if metrics.get("op") is not None:
            by_type[r["problem"].get("error_type") or "?"].append(metrics["op"])
        if r["steps"]:
            first.append(1.0 if r["steps"][0]["status"] == "OPTIMAL" else 0.0)
    numbers = sum(v.numbers_total for v in verdicts)
    row = {
        "file": str(path),
        "labels": len(samples),
        "eight_actions": f"{compatible / max(1, len(samples)):.3f}",
        "grounded_numbers": f"{sum(v.numbers_grounded for v in verdicts) / max(1, numbers):.3f}",
        "grounded_samples": f"{sum(v.ok for v in verdicts) / max(1, len(verdicts)):.3f}",
        "first_step_repair": f"{statistics.fmean(first):.3f}" if first else "-",
        **{k: f"{statistics.fmean(v):.3f}" for k, v in m.items()},
        "prompt_p50": _pct(prompts, 0.5),
        "prompt_p95": _pct(prompts, 0.95),
    }
    return row, by_type


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--by-type", action="store_true", help="also OP per error type")
    args = p.parse_args(argv)
    rows, types = [], {}
    for path in args.files:
        row, by_type = measure(path)
        rows.append(row)
        types[str(path)] = by_type
    header = list(rows[0])
    print("\n".join(markdown_table(header, [[r.get(h, "-") for h in header] for r in rows])))
    if args.by_type:
        letters = sorted({t for bt in types.values() for t in bt})
        table = [[f, *(f"{statistics.fmean(bt[t]):.3f}" if bt.get(t) else "-" for t in letters)] for f, bt in types.items()]
        print()
        print("\n".join(markdown_table(["file", *letters], table)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
