"""Builders of the workload converters' test inputs: trace logs, search traces, parquet files.

Every test makes its own data in a tmp dir (no real trace log is needed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SYSTEM = "You are a code-fixing agent. Reply with one tool call as JSON."


def request(goal: str) -> dict[str, Any]:
    return {"event": "llm_request", "messages": [{"role": "system", "content": SYSTEM},
                                                 {"role": "user", "content": f"GOAL:\n{goal}"}]}


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"event": "llm_action", "action": {"type": "tool_call", "name": name, "args": args}}


def result(output: str, ok: bool = True, **extra: Any) -> dict[str, Any]:
    return {"event": "tool_result", "ok": ok, "output": output, **extra}


def write_run(path: Path, events: list[dict[str, Any]], *, tail: str = "") -> Path:
    """One run log; ``tail`` is appended raw (e.g. a broken line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for ev in events:
            fh.write((ev if isinstance(ev, str) else json.dumps(ev)) + "\n")
        fh.write(tail)
    return path


def good_run(task: str, *, passed: bool = True, big: int = 0) -> list[dict[str, Any]]:
    """list_files -> read_file -> write_file, ending with the given test outcome."""
    return [
        request(f"Fix the bug in {task}.py"),
        call("list_files", rel_dir=".", max_files=50),
        result(f"{task}.py\ntest_{task}.py"),
        call("read_file", rel_path=f"{task}.py", max_chars=4000),
        result(f"def {task}(xs):\n    return xs\n" + "#" * big),
        call("write_file", rel_path=f"{task}.py", content=f"def {task}(xs):\n    return sorted(xs)\n"),
        result("wrote 40 chars"),
        {"event": "llm_action", "action": {"type": "final", "message": "fixed"}},
        {"event": "run_end", "passed": passed},
    ]


def make_runs(root: Path, tasks: list[str], rollouts: int = 2) -> Path:
    runs = root / "runs"
    for task in tasks:
        for seed in range(rollouts):
            write_run(runs / task / f"seed{seed}.jsonl", good_run(task))
    return runs


def search_trace(i: int, n_results: int = 2) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for k in range(n_results):
        steps += [{"type": "reasoning", "content": f"Trace {i}: I need fact {k}."},
                  {"type": "search", "content": f"fact {k} about topic {i}"},
                  {"type": "search_result", "content": f"Fact {k} of topic {i} is {i * 10 + k}."}]
    steps += [{"type": "reasoning", "content": "I have everything."},
              {"type": "answer", "content": f"answer-{i}"}]
    return {"id": f"q{i}", "question": f"What is the answer for topic {i}?", "steps": steps}


def write_jsonl(path: Path, rows: list[Any], *, tail: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
        fh.write(tail)
    return path


ENGLISH = "How many apples remain if Tom has {i} apples and gives two of them to his sister?"
GERMAN = "Wie viele Äpfel bleiben übrig, wenn Tom {i} Äpfel hat und seiner Schwester zwei davon gibt?"
CHINESE = "如果汤姆有{i}个苹果，给了他妹妹两个，还剩下多少个苹果？请详细说明。"


def reasoning_table(n: int, *, start: int = 0) -> pa.Table:
    """Rows i: every 3rd question German, every 5th Chinese, every 11th answer empty."""
    questions, thinking, answers = [], [], []
    for i in range(start, start + n):
        text = GERMAN if i % 3 == 0 else CHINESE if i % 5 == 0 else ENGLISH
        questions.append(text.format(i=i))
        thinking.append(f"Tom starts with {i} apples. Giving away two leaves {i} minus two.")
        answers.append("" if i % 11 == 0 else f"Tom has {i - 2} apples left.")
    return pa.table({"prompt": questions, "thinking": thinking, "response": answers,
                     "row_id": pa.array(range(start, start + n), pa.int64())})


def expected_pass(i: int) -> bool:
    return i % 3 != 0 and i % 5 != 0 and i % 11 != 0


def write_parquet(path: Path, n: int, *, row_group: int = 5000, start: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(reasoning_table(n, start=start), path, row_group_size=row_group)
    return path
