"""Search-agent traces -> multi-turn, step-split and summary datasets (docs/workloads.md), parquet.

    python -m converters.search_traces --in traces.jsonl            # raw traces
    python -m converters.search_traces --in steps_summarized.jsonl  # step samples + summaries

From raw traces (schema and rendering: converters/search_traces/schema.py):
- ``<name>_multiturn``: the whole trace as chat turns (user: question; assistant: reasoning +
  search or answer; user: the search results), ShareGPT messages; loss on every assistant turn.
- ``<name>_steps``: the step split. A trace with N search results gives N samples: prompt =
  everything up to and including result i, answer = what follows until result i+1 or the end
  (a sample whose answer would be empty, e.g. two results in a row, is dropped as
  ``empty_answer``). Alpaca rows (instruction = prompt, output = answer). All step samples are
  also written to ``data/<name>_steps/steps.jsonl`` (format: docs/collecting.md), the
  input of ``make summarize``.
From step samples carrying a ``summary`` (added by ``collectors.summaries``):
- ``<name>_summary_prefix``: prompt = full context -> ``<summary>\\n…\\n</summary>\\n\\n`` + answer.
- ``<name>_summary_only``: prompt = the summary alone -> answer.

Every dataset is split 90/10 (``--val``) by trace id with the seeded hash-threshold rule of
converters/core/group_split.py, so a trace has the same split in all four datasets.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from converters.core.cli_args import fraction
from converters.core.dataset_out import dataset_dir, publish_splits, write_json, write_jsonl
from converters.core.group_split import split_groups
from converters.core.registry import alpaca_entry, messages_entry
from converters.core.utf8 import NotUtf8, utf8_lines
from converters.core.workload_errors import TraceInputError
from converters.search_traces.schema import Trace, TraceFormatError, parse_trace, render, render_question
from foundation.cli import cli_main

STEP_SCHEMA = "search_step/1"


def read_jsonl(path: Path, drops: Counter[str], examples: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, object) for each JSON line; unreadable lines are counted and skipped."""
    for lineno, line in utf8_lines(path):  # not errors="replace": U+FFFD would reach the samples
        if isinstance(line, NotUtf8):
            drops["unreadable_line"] += 1
            if len(examples) < 5:
                examples.append(f"{path}:{lineno}: unreadable_line: {line}")
            continue
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as err:
            drops["unreadable_line"] += 1
            if len(examples) < 5:
                examples.append(f"{path}:{lineno}: unreadable_line: {err.msg}")


def detect_kind(path: Path) -> str:
    """"steps" when the first JSON object has string ``prompt`` and ``answer``, else "traces"."""
    for _, obj in read_jsonl(path, Counter(), []):
        if isinstance(obj, dict):
            both = isinstance(obj.get("prompt"), str) and isinstance(obj.get("answer"), str)
            return "steps" if both else "traces"
    raise TraceInputError("holds no JSON object line", where=str(path), fix="pass a search-trace JSONL file")


def multiturn_messages(trace: Trace) -> list[dict[str, str]]:
    """System (if any), question, then alternating assistant turns and result turns."""
    messages = [{"role": "system", "content": trace.system}] if trace.system else []
    messages.append({"role": "user", "content": render_question(trace.question)})
    turn: list = []
    results: list = []
    for step in trace.steps:
        if step.kind == "result":
            if turn:
                messages.append({"role": "assistant", "content": render(turn)})
                turn = []
            results.append(step)
        else:
            if results:
                messages.append({"role": "user", "content": render(results)})
                results = []
            turn.append(step)
    if turn:
        messages.append({"role": "assistant", "content": render(turn)})
    return messages  # trailing results with no reply are dropped: nothing to learn from them


def step_samples(trace: Trace, drops: Counter[str]) -> list[dict[str, Any]]:
    """The N step samples of a trace with N search results (see the module docstring)."""
    cuts = [i for i, s in enumerate(trace.steps) if s.kind == "result"]
    samples = []
    for number, cut in enumerate(cuts, start=1):
        end = cuts[number] if number < len(cuts) else len(trace.steps)
        answer_steps = trace.steps[cut + 1:end]
        if not answer_steps:
            drops["empty_answer"] += 1
            continue
        prompt = render_question(trace.question) + "\n\n" + render(trace.steps[:cut + 1])
        samples.append({"schema": STEP_SCHEMA, "trace_id": trace.trace_id, "step": number,
                        "n_steps": len(cuts), "question": trace.question, "system": trace.system,
                        "prompt": prompt, "answer": render(answer_steps)})
    return samples


def alpaca_row(instruction: str, output: str, sample: dict[str, Any]) -> dict[str, Any]:
    return {"instruction": instruction, "input": "", "output": output, "system": sample.get("system") or "",
            "trace_id": str(sample["trace_id"]), "step": int(sample.get("step") or 0),
            "n_steps": int(sample.get("n_steps") or 0)}


def _split(rows: list[dict[str, Any]], assign: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
    for row in rows:
        out[assign[row["trace_id"]]].append(row)
    return out


def from_traces(path: Path, args: argparse.Namespace, drops: Counter[str], examples: list[str]) -> dict:
    traces: list[Trace] = []
    seen: set[str] = set()
    for lineno, obj in tqdm(read_jsonl(path, drops, examples), desc="traces", unit="trace", disable=None):
        try:
            trace = parse_trace(obj, fallback_id=f"{path.name}:{lineno}")
        except TraceFormatError as err:
            drops[err.code] += 1
            if len(examples) < 5:
                examples.append(f"{path}:{lineno}: {err}")
            continue
        if trace.trace_id in seen:
            drops["duplicate_id"] += 1
            if len(examples) < 5:
                examples.append(f"{path}:{lineno}: duplicate_id: {trace.trace_id!r} seen before")
            continue
        seen.add(trace.trace_id)
        traces.append(trace)
    if not traces:
        raise TraceInputError(f"no readable trace (dropped: {dict(drops)})", where=str(path),
                              fix="see the schema in converters/search_traces/schema.py")
    assign = split_groups(seen, args.val, args.seed, method="threshold")
    multi = [{"messages": multiturn_messages(t), "trace_id": t.trace_id, "n_steps": t.n_results}
             for t in traces]
    steps = [s for t in traces for s in step_samples(t, drops)]
    counts = publish_splits(args.root, f"{args.name}_multiturn", _split(multi, assign), fmt="parquet",
                            entry_for=messages_entry)
    steps_dir = dataset_dir(args.root, f"{args.name}_steps")
    if steps:
        rows = [alpaca_row(s["prompt"], s["answer"], s) for s in steps]
        counts |= publish_splits(args.root, f"{args.name}_steps", _split(rows, assign), fmt="parquet",
                                 entry_for=alpaca_entry)
        write_jsonl(steps_dir / "steps.jsonl", steps)
        print(f"step samples for `make summarize`: {steps_dir / 'steps.jsonl'}")
    return {"traces": len(traces), "datasets": counts,
            "val_traces": sorted(g for g, sp in assign.items() if sp == "val")}


def from_steps(path: Path, args: argparse.Namespace, drops: Counter[str], examples: list[str]) -> dict:
    usable: list[dict[str, Any]] = []
    total = 0
    for lineno, obj in read_jsonl(path, drops, examples):
        total += 1
        if not (isinstance(obj, dict) and isinstance(obj.get("prompt"), str) and isinstance(obj.get("answer"), str)
                and obj.get("trace_id") not in (None, "")):
            drops["bad_step_sample"] += 1
            if len(examples) < 5:
                examples.append(f"{path}:{lineno}: bad_step_sample: needs trace_id, prompt, answer")
            continue
        summary = obj.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            drops["missing_summary"] += 1
            continue
        usable.append({**obj, "trace_id": str(obj["trace_id"]), "summary": summary.strip()})
    if not usable:
        raise TraceInputError(f"none of {total} step samples has a `summary` (dropped: {dict(drops)})",
                              where=str(path), fix="run `make summarize IN=<steps.jsonl> OUT=<file>` first")
    assign = split_groups((s["trace_id"] for s in usable), args.val, args.seed, method="threshold")
    prefix = [alpaca_row(s["prompt"], f"<summary>\n{s['summary']}\n</summary>\n\n{s['answer']}", s)
              for s in usable]
    only = [alpaca_row(s["summary"], s["answer"], s) for s in usable]
    counts = publish_splits(args.root, f"{args.name}_summary_prefix", _split(prefix, assign),
                            fmt="parquet", entry_for=alpaca_entry)
    counts |= publish_splits(args.root, f"{args.name}_summary_only", _split(only, assign),
                             fmt="parquet", entry_for=alpaca_entry)
    return {"step_samples": total, "datasets": counts,
            "val_traces": sorted(g for g, sp in assign.items() if sp == "val")}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m converters.search_traces", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in", dest="input", type=Path, required=True,
                   help="raw search traces (JSONL) or step samples with summaries (JSONL)")
    p.add_argument("--input-kind", choices=("auto", "traces", "steps"), default="auto",
                   help="what --in holds (auto: step samples when lines have prompt + answer)")
    p.add_argument("--name", default="search", help="dataset name prefix: <name>_multiturn, <name>_steps, ...")
    p.add_argument("--root", type=Path, default=Path("."), help="repo root holding dataset_info.json")
    p.add_argument("--val", type=fraction, default=0.1, help="share of traces held out for val in [0, 1) (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the trace split")
    return p


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    drops: Counter[str] = Counter()
    examples: list[str] = []
    if not args.input.is_file():
        raise TraceInputError("is not a file", where=str(args.input), fix="pass a JSONL file with --in")
    kind = detect_kind(args.input) if args.input_kind == "auto" else args.input_kind
    result = (from_steps if kind == "steps" else from_traces)(args.input, args, drops, examples)
    result |= {"input": str(args.input), "input_kind": kind, "dropped": dict(drops), "examples": examples}
    for name in result["datasets"]:
        base = name.rsplit("_", 1)[0]
        write_json(dataset_dir(args.root, base) / "card.json", {"name": base, "kind": "search", **result})
    print(f"read {args.input} as {kind}; dropped: {dict(drops) or 'nothing'}")
    for example in examples:
        print(f"  {example}")
    for name, n in result["datasets"].items():
        print(f"{name}: {n} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
