"""Read the repo agent's trace logs: one run per ``.jsonl`` file, one event per line (docs/workloads.md).

Event schema (``event`` names the kind; ``type`` is accepted as a synonym; extra fields are kept
and ignored):

    {"event": "llm_request", "messages": [{"role": "system"|"user"|..., "content": str}, ...]}
    {"event": "llm_action",  "action": {"type": "tool_call", "name": str, "args": {...}}}
                             (or {"type": "final", ...}; the action may also be a JSON string)
    {"event": "tool_result", "ok": bool, "output": str, "error": str (optional)}
    {"event": "final" | "run_end", "passed": bool}

Lenient reading of actions (logs come from many agent versions): ``tool``/``function`` for
``name``, ``arguments``/``parameters`` for ``args`` (a JSON string is parsed), an OpenAI
``{"function": {"name", "arguments"}}`` wrapper, and the whole action as a JSON string.
An action that is none of these is kept as an invalid call with its reason (for the drop report).

Unreadable lines (not JSON, not an object, no event kind) are counted and skipped, never fatal.
An ``llm_action`` event whose action is a ``final`` answer is distinct from the ``final`` event
that ends a run (the latter carries ``passed``).

Task id of a run, first that applies: a ``task_id`` or ``task`` string field on any event;
the name of the directory holding the file (``runs/<task>/<rollout>.jsonl``) when that is not the
input directory itself; else the file stem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converters.core.utf8 import NotUtf8, utf8_lines
from converters.tool_traces.schema import parse_call_text

RUN_END_EVENTS = ("final", "run_end")
KNOWN_EVENTS = ("llm_request", "llm_action", "tool_result", *RUN_END_EVENTS)


@dataclass
class Event:
    kind: str
    data: dict[str, Any]
    line: int


@dataclass
class Action:
    """A normalized ``llm_action``: kind is "tool_call", "final" or "invalid" (then ``reason``)."""

    kind: str
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    raw: str = ""
    reason: str = ""


@dataclass
class RunLog:
    path: Path
    run_id: str
    task_id: str
    events: list[Event]
    bad_lines: list[tuple[int, str]]
    passed: bool | None


def read_events(path: Path) -> tuple[list[Event], list[tuple[int, str]]]:
    """Events of one file plus (line number, why) for each unreadable line."""
    events: list[Event] = []
    bad: list[tuple[int, str]] = []
    for lineno, line in utf8_lines(path):  # not errors="replace": U+FFFD would reach the samples
        if isinstance(line, NotUtf8):
            bad.append((lineno, str(line)))
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            bad.append((lineno, f"not JSON ({err.msg})"))
            continue
        if not isinstance(obj, dict):
            bad.append((lineno, "not a JSON object"))
            continue
        kind = obj.get("event", obj.get("type"))
        if not isinstance(kind, str):
            bad.append((lineno, "no `event` (or `type`) field"))
            continue
        events.append(Event(kind=kind, data=obj, line=lineno))
    return events, bad


def _raw_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def normalize_action(value: Any) -> Action:
    """One ``llm_action.action`` (object or JSON text) -> Action, accepting the variants above."""
    raw = _raw_text(value)
    obj = value
    if isinstance(value, str):
        obj, reason = parse_call_text(value)
        if reason:
            return Action("invalid", raw=raw, reason=reason)
    if not isinstance(obj, dict):
        return Action("invalid", raw=raw, reason="not_object: action is not a JSON object")
    if isinstance(obj.get("function"), dict):  # OpenAI tool_calls[i] shape
        obj = {"type": "tool_call", **obj["function"]}
    kind = obj.get("type", "tool_call")
    if kind in ("final", "final_answer", "answer"):
        return Action("final", raw=raw)
    if kind not in ("tool_call", "function", "tool"):
        return Action("invalid", raw=raw, reason=f"not_tool_call: type is {kind!r}")
    name = next((obj[k] for k in ("name", "tool", "tool_name") if isinstance(obj.get(k), str)), "")
    if not name:
        return Action("invalid", raw=raw, reason="unknown_tool: no `name`")
    args: Any = next((obj[k] for k in ("args", "arguments", "parameters", "input") if k in obj), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as err:
            return Action("invalid", name=name, raw=raw, reason=f"malformed_json: args {err.msg}")
    if not isinstance(args, dict):
        return Action("invalid", name=name, raw=raw, reason="wrong_type: args must be an object")
    return Action("tool_call", name=name, args=args, raw=raw)


def action_of(event: Event) -> Action:
    """The action an ``llm_action`` event carries (``action``, else raw text fields)."""
    data = event.data
    for key in ("action", "tool_call", "output", "text", "content", "raw"):
        if key in data:
            return normalize_action(data[key])
    return Action("invalid", raw="", reason="malformed_json: llm_action has no `action` field")


def run_passed(events: list[Event]) -> bool | None:
    """Outcome of the run: the last final/run_end event's ``passed`` (``success`` accepted)."""
    outcome: bool | None = None
    for ev in events:
        if ev.kind in RUN_END_EVENTS:
            value = ev.data.get("passed", ev.data.get("success"))
            if isinstance(value, bool):
                outcome = value
    return outcome


def task_of(path: Path, root: Path, events: list[Event]) -> str:
    """Task id by the rule in the module docstring."""
    for ev in events:
        for key in ("task_id", "task"):
            value = ev.data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    if path.parent.resolve() != root.resolve():
        return path.parent.name
    return path.stem


def find_runs(inputs: list[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every ``*.jsonl`` under each input dir (recursively), or a file itself."""
    for item in inputs:
        if item.is_dir():
            for path in sorted(item.rglob("*.jsonl")):
                yield path, item
        else:
            yield item, item.parent


def read_run(path: Path, root: Path) -> RunLog:
    events, bad = read_events(path)
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    run_id = rel.with_suffix("").as_posix()
    return RunLog(path=path, run_id=run_id, task_id=task_of(path, root, events), events=events,
                  bad_lines=bad, passed=run_passed(events))
