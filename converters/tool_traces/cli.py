"""Tool-call trace logs -> step-level SFT dataset (docs/workloads.md): one sample per valid tool call.

    python -m converters.tool_traces --in runs/ [--tools FILE] [--max-chars 2000] [--name tool_calls]

Input: ``runs/**/*.jsonl`` event logs (schema: converters/tool_traces/events.py). Output:
``data/<name>/{train,val}.jsonl`` in ShareGPT form with OpenAI-style ``messages``, registered as
``<name>_train`` / ``<name>_val``, and ``data/<name>/card.json`` with the drop report.

A sample's ``messages``: the system prompt and goal (the first ``llm_request``'s system message and
the user messages before its first assistant message), then each earlier accepted call as an
assistant turn (canonical JSON) followed by a user turn ``[tool_result] <output>`` (or
``[tool_result] error: <error>``) cut to ``--max-chars``, then the target call as the last
assistant turn (``converters.tool_traces.schema.canonical_call``: compact, stable key order).
Train with LLaMA-Factory's ``mask_history: true`` so only that last turn carries loss (earlier
calls are context, each is the target of its own sample).

Filters, in this order, each call counted once under the first that applies (the seed's list):
``malformed_json``, ``not_object``, ``not_tool_call``, ``unknown_tool``, ``missing_arg``,
``wrong_type``, ``unexpected_arg`` (schema check), ``bad_args_result`` (its ``tool_result`` has
``ok: false`` and the error is about arguments: an ``error_type``/``reason`` field naming bad
arguments, or the error text matching ``--bad-args-regex``), ``tool_failed`` (any other
``ok: false``, only with ``--drop-failed-calls``), then ``run_not_passed`` /
``run_outcome_missing`` for runs that do not end in passing tests (keep them with
``--include-failed-runs``). Dropped calls and their results never appear in later contexts,
except with ``--recovery``: the next accepted call then sees the failed attempts and their errors
and is marked ``recovery: true`` (the seed's optional recovery examples).

Splits are grouped by task id (rule in trace_events.py): ``--val`` of the tasks (exact count,
seeded) or ``--val-tasks a,b`` are held out; no task has samples in both splits.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from converters.core.cli_args import fraction, regex
from converters.core.dataset_out import dataset_dir, publish_splits, write_json
from converters.core.group_split import split_groups
from converters.core.registry import messages_entry
from converters.core.workload_errors import TraceInputError
from converters.tool_traces.events import Action, Event, RunLog, action_of, find_runs, read_run
from converters.tool_traces.schema import DEFAULT_TOOLS_PATH, Tools, canonical_call, check_args, load_tools
from foundation.cli import cli_main

DEFAULT_BAD_ARGS = (
    r"(?i)(missing|required|invalid|unexpected|unknown|bad)\s+(keyword\s+)?(argument|arg|parameter|param)s?"
    r"|TypeError|positional argument|validation error|is a required property"
)
BAD_ARG_KINDS = {"bad_args", "invalid_args", "missing_args", "bad_arguments", "invalid_arguments"}
EXAMPLES_PER_REASON = 3


@dataclass
class Options:
    max_chars: int = 2000
    include_failed_runs: bool = False
    recovery: bool = False
    drop_failed_calls: bool = False
    max_history: int = 0  # 0 = every earlier accepted call
    bad_args_regex: str = DEFAULT_BAD_ARGS


@dataclass
class Report:
    """What was kept and dropped, and why (printed, and stored in card.json)."""

    runs: int = 0
    runs_used: int = 0
    calls: int = 0
    unreadable_lines: int = 0
    final_actions: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, reason: str, where: str, n: int = 1) -> None:
        code = reason.split(":", 1)[0]
        self.dropped[code] += n
        if len(self.examples[code]) < EXAMPLES_PER_REASON:
            self.examples[code].append(f"{where}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "runs_used": self.runs_used, "tool_calls": self.calls,
                "unreadable_lines": self.unreadable_lines, "final_actions": self.final_actions,
                "dropped": dict(sorted(self.dropped.items())), "examples": dict(self.examples)}


def _text(content: Any) -> str:
    """Message content as text (a list of OpenAI content parts keeps its text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def base_context(events: list[Event]) -> list[dict[str, str]] | None:
    """System + goal from the first llm_request with messages; None when there is no goal."""
    for ev in events:
        messages = ev.data.get("messages") if ev.kind == "llm_request" else None
        if not isinstance(messages, list):
            continue
        system = next((_text(m.get("content")) for m in messages
                       if isinstance(m, dict) and m.get("role") == "system"), "")
        goal: list[str] = []
        for m in messages:
            if not isinstance(m, dict) or m.get("role") == "assistant":
                break
            if m.get("role") == "user":
                goal.append(_text(m.get("content")))
        if not any(goal):
            return None
        base = [{"role": "system", "content": system}] if system else []
        return [*base, {"role": "user", "content": "\n\n".join(g for g in goal if g)}]
    return None


def truncate(text: str, max_chars: int) -> str:
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n...[truncated {len(text) - max_chars} chars]"


def render_result(ev: Event | None, max_chars: int) -> str:
    if ev is None:
        return "[tool_result] (no result logged)"
    output = ev.data.get("output", "")
    output = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    if ev.data.get("ok") is False:
        error = ev.data.get("error")
        return "[tool_result] error: " + truncate(error if isinstance(error, str) and error else output,
                                                   max_chars)
    return "[tool_result] " + truncate(output, max_chars)


def is_bad_args(ev: Event, pattern: re.Pattern[str]) -> bool:
    for key in ("error_type", "reason", "error_kind"):
        if str(ev.data.get(key, "")).lower() in BAD_ARG_KINDS:
            return True
    text = " ".join(str(ev.data.get(k, "")) for k in ("error", "output"))
    return bool(pattern.search(text))


@dataclass
class _Pending:
    action: Action
    reason: str
    line: int
    context: list[dict[str, str]]
    recovery: bool
    step: int


def run_samples(run: RunLog, tools: Tools, opts: Options, report: Report) -> list[dict[str, Any]]:
    """Samples of one run (all filters applied); drops are recorded in ``report``."""
    where = run.path.as_posix()
    base = base_context(run.events)
    actions = [ev for ev in run.events if ev.kind == "llm_action"]
    if base is None:
        report.drop("no_goal: no llm_request with a user message", where, n=max(len(actions), 1))
        return []
    pattern = re.compile(opts.bad_args_regex)
    history: list[tuple[str, str]] = []
    failures: list[tuple[str, str]] = []
    kept: list[dict[str, Any]] = []
    pending: _Pending | None = None

    def context() -> tuple[list[dict[str, str]], bool]:
        pairs = history[-opts.max_history:] if opts.max_history > 0 else list(history)
        recovery = opts.recovery and bool(failures)
        if recovery:
            pairs += failures
        msgs = list(base)
        for call, result in pairs:
            msgs += [{"role": "assistant", "content": call}, {"role": "user", "content": result}]
        return msgs, recovery

    def close(p: _Pending | None, result: Event | None) -> None:
        if p is None:
            return
        result_text = render_result(result, opts.max_chars)
        at = f"{where}:{p.line}"
        if p.reason:
            report.drop(p.reason, at)
            failures.append((p.action.raw, result_text))
            return
        call = canonical_call(p.action.name, p.action.args, tools)
        if result is not None and result.data.get("ok") is False:
            if is_bad_args(result, pattern):
                report.drop(f"bad_args_result: {render_result(result, 120)}", at)
                failures.append((call, result_text))
                return
            if opts.drop_failed_calls:
                report.drop(f"tool_failed: {render_result(result, 120)}", at)
                failures.append((call, result_text))
                return
        kept.append({"messages": [*p.context, {"role": "assistant", "content": call}],
                     "task_id": run.task_id, "run_id": run.run_id, "step": p.step,
                     "tool": p.action.name, "recovery": p.recovery, "origin": at})
        history.append((call, result_text))
        failures.clear()

    step = 0
    for ev in run.events:
        if ev.kind == "llm_action":
            close(pending, None)
            pending = None
            action = action_of(ev)
            if action.kind == "final":
                report.final_actions += 1
                continue
            step += 1
            report.calls += 1
            reason = action.reason or check_args(action.name, action.args, tools)
            ctx, recovery = context()
            pending = _Pending(action, reason, ev.line, ctx, recovery, step)
        elif ev.kind == "tool_result":
            close(pending, ev)
            pending = None
    close(pending, None)

    if kept and run.passed is not True and not opts.include_failed_runs:
        reason = "run_not_passed" if run.passed is False else "run_outcome_missing"
        report.drop(f"{reason}: {len(kept)} valid calls", where, n=len(kept))
        return []
    return kept


def convert(inputs: Sequence[Path], tools: Tools, opts: Options) -> tuple[list[dict[str, Any]], Report]:
    """Every sample of every run under ``inputs``, plus the report."""
    report = Report()
    runs = list(find_runs(list(inputs)))
    samples: list[dict[str, Any]] = []
    for path, root in tqdm(runs, desc="trace logs", unit="run", disable=None):
        run = read_run(path, root)
        report.runs += 1
        report.unreadable_lines += len(run.bad_lines)
        for lineno, why in run.bad_lines[:EXAMPLES_PER_REASON]:
            if len(report.examples["unreadable_line"]) < EXAMPLES_PER_REASON:
                report.examples["unreadable_line"].append(f"{path.as_posix()}:{lineno}: {why}")
        got = run_samples(run, tools, opts, report)
        report.runs_used += bool(got)
        samples += got
    return samples, report


def print_report(report: Report, counts: dict[str, int], tasks: dict[str, list[str]]) -> None:
    print(f"runs: {report.runs} read, {report.runs_used} used; tool calls: {report.calls}; "
          f"unreadable lines skipped: {report.unreadable_lines}")
    for example in report.examples.get("unreadable_line", []):
        print(f"  skipped {example}")
    if report.dropped:
        print(f"{'dropped because':<24} {'calls':>6}  first example")
        for code, n in sorted(report.dropped.items(), key=lambda kv: -kv[1]):
            example = report.examples.get(code, [""])[0]
            print(f"{code:<24} {n:>6}  {example[:110]}")
    for name, n in counts.items():
        split = name.rsplit("_", 1)[-1]
        print(f"{name}: {n} samples from {len(tasks.get(split, []))} tasks")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m converters.tool_traces", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in", dest="inputs", nargs="+", type=Path, required=True,
                   help="trace-log directories (searched for **/*.jsonl) or .jsonl files")
    p.add_argument("--tools", type=Path, default=None,
                   help=f"tool schema YAML (default: {DEFAULT_TOOLS_PATH.name}, the seed's four tools)")
    p.add_argument("--max-chars", type=int, default=2000,
                   help="cut each tool result in the context to this many characters (0: no cut)")
    p.add_argument("--name", default="tool_calls", help="dataset name: data/<name>/, <name>_train/_val")
    p.add_argument("--root", type=Path, default=Path("."), help="repo root holding dataset_info.json")
    p.add_argument("--val", type=fraction, default=0.1, help="share of tasks held out for val in [0, 1) (0: none)")
    p.add_argument("--val-tasks", default="", help="comma-separated task ids to hold out (overrides --val)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task split")
    p.add_argument("--include-failed-runs", action="store_true",
                   help="also use runs that do not end with passing tests")
    p.add_argument("--recovery", action="store_true",
                   help="keep failed calls + their errors in the context of the next valid call")
    p.add_argument("--drop-failed-calls", action="store_true",
                   help="drop every call whose tool_result has ok=false (not only bad-argument ones)")
    p.add_argument("--max-history", type=int, default=0,
                   help="keep only the last N earlier calls in a sample's context (0: all)")
    p.add_argument("--bad-args-regex", type=regex, default=DEFAULT_BAD_ARGS,
                   help="an ok=false tool_result whose error matches this is a bad-argument failure")
    return p


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for item in args.inputs:
        if not item.exists():
            raise TraceInputError("does not exist", where=str(item), fix="pass a directory of trace logs")
    tools = load_tools(args.tools)
    opts = Options(max_chars=args.max_chars, include_failed_runs=args.include_failed_runs,
                   recovery=args.recovery, drop_failed_calls=args.drop_failed_calls,
                   max_history=args.max_history, bad_args_regex=args.bad_args_regex)
    samples, report = convert(args.inputs, tools, opts)
    if not samples:
        raise TraceInputError(
            f"no usable tool calls in {report.runs} run files (dropped: {dict(report.dropped)})",
            where=" ".join(str(i) for i in args.inputs),
            fix="check the event schema in converters/tool_traces/events.py, or --include-failed-runs")
    forced = [t.strip() for t in args.val_tasks.split(",") if t.strip()]
    known = sorted({s["task_id"] for s in samples})
    unknown = [t for t in forced if t not in known]
    if unknown:
        shown = ", ".join(known[:10]) + (f" ... ({len(known)} in all)" if len(known) > 10 else "")
        raise TraceInputError(f"--val-tasks names task(s) the inputs do not hold: {', '.join(unknown)}",
                              where=" ".join(str(i) for i in args.inputs), fix=f"use task ids from: {shown}")
    assign = split_groups((s["task_id"] for s in samples), args.val, args.seed, forced_val=forced)
    splits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in samples:
        splits[assign[s["task_id"]]].append(s)
    counts = publish_splits(args.root, args.name, splits, fmt="jsonl", entry_for=messages_entry)
    tasks = {sp: sorted({s["task_id"] for s in rows}) for sp, rows in splits.items()}
    write_json(dataset_dir(args.root, args.name) / "card.json", {
        "name": args.name, "kind": "tool_calls", "format": "sharegpt", "multi_turn": True,
        "train_hint": "mask_history: true (loss on the last assistant turn: the target call)",
        "tools_file": str(args.tools or DEFAULT_TOOLS_PATH), "tools": sorted(tools),
        "options": vars(opts), "datasets": counts,
        "splits": {sp: {"rows": len(splits[sp]), "task_ids": tasks.get(sp, [])} for sp in ("train", "val")},
        "report": report.as_dict()})
    print_report(report, counts, tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
