"""Compare trajectory JSONL or results.json files before and after a change, ignoring time fields.

    .venv/bin/python benchmarks/compare_runs.py BEFORE AFTER   # .jsonl (by problem_id) or results.json

Prints the number of differences and the first 30 (path: before != after). Time and provenance
keys (started_at, finished_at, latency_s, elapsed_s, date, duration_s, git) are dropped first.
"""

from __future__ import annotations

import json
import sys
from typing import Any

TIME_KEYS = frozenset({"started_at", "finished_at", "latency_s", "elapsed_s", "date", "duration_s", "git"})


def strip(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in TIME_KEYS}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x


def load(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            return sorted((json.loads(line) for line in f if line.strip()), key=lambda r: r["problem_id"])
        return json.load(f)


def diff(a: Any, b: Any, where: str = "") -> list[str]:
    if type(a) is not type(b):
        return [f"{where}: {a!r:.80} != {b!r:.80}"]
    out: list[str] = []
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only {'after' if k in b else 'before'}")
            else:
                out += diff(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += diff(x, y, f"{where}[{i}]")
    elif a != b:
        out.append(f"{where}: {a!r:.80} != {b!r:.80}")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    before, after = strip(load(argv[0])), strip(load(argv[1]))
    found = diff(before, after)
    n = len(before) if isinstance(before, list) else 1
    print(f"{argv[1]}: {n} record(s), {len(found)} difference(s) from {argv[0]}")
    for line in found[:30]:
        print("  ", line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
