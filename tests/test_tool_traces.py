"""Tool-call trace logs -> step-level SFT data (docs/workloads.md), and the tool-call validity check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workloads_data import call, good_run, make_runs, request, result, write_run

from converters.core.workload_errors import ToolSchemaError
from converters.tool_traces import cli as tool_traces
from converters.tool_traces.schema import (
    DEFAULT_TOOLS_PATH,
    canonical_call,
    load_tools,
    parse_tools,
    reason_code,
    validate_call,
)

TOOLS = load_tools()


def convert(root: Path, *args: str) -> int:
    return tool_traces.main(["--in", str(root / "runs"), "--root", str(root), *args])


def rows(root: Path, split: str, name: str = "tool_calls") -> list[dict]:
    path = root / "data" / name / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def card(root: Path, name: str = "tool_calls") -> dict:
    return json.loads((root / "data" / name / "card.json").read_text())


# ------------------------------------------------------------------ the schema and validate_call


def test_shipped_schema_has_the_seed_tools_with_typed_required_args() -> None:
    assert {name: list(spec.args) for name, spec in TOOLS.items()} == {
        "list_files": ["rel_dir", "max_files"],
        "read_file": ["rel_path", "max_chars"],
        "grep": ["pattern", "rel_dir", "max_hits"],
        "write_file": ["rel_path", "content"],
    }
    assert TOOLS["grep"].args["max_hits"].type == ["integer"]
    assert all(spec.required for tool in TOOLS.values() for spec in tool.args.values())


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py","max_chars":10}}', ""),
        (('<think>\nI read it.\n</think>\n\n```json\n{"type":"tool_call","name":"list_files",'
          '"args":{"rel_dir":".","max_files":5}}\n```'), ""),
        ('{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py"', "malformed_json"),
        ('{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py","max_chars":1}} extra', "malformed_json"),
        ('["read_file"]', "not_object"),
        ('{"type":"final","message":"done"}', "not_tool_call"),
        ('{"type":"tool_call","name":"run_tests","args":{}}', "unknown_tool"),
        ('{"type":"tool_call","name":"list_files","args":{"rel_path":"."}}', "missing_arg"),
        ('{"type":"tool_call","name":"grep","args":{"pattern":"x","rel_dir":".","max_hits":"5"}}', "wrong_type"),
        ('{"type":"tool_call","name":"grep","args":{"pattern":"x","rel_dir":".","max_hits":true}}', "wrong_type"),
        ('{"type":"tool_call","name":"grep","args":{"pattern":"x","rel_dir":".","max_hits":5.0}}', "wrong_type"),
        ('{"type":"tool_call","name":"write_file","args":{"rel_path":"a","content":"x","mode":"w"}}',
         "unexpected_arg"),
    ],
)
def test_validate_call_reasons(text: str, code: str) -> None:
    ok, reason = validate_call(text, TOOLS)
    assert ok is (code == "")
    assert reason_code(reason) == code


def test_validate_call_names_the_missing_argument_and_accepts_dicts() -> None:
    ok, reason = validate_call({"type": "tool_call", "name": "read_file", "args": {"rel_path": "a.py"}}, TOOLS)
    assert not ok and reason == "missing_arg: read_file needs `max_chars`"


def test_canonical_call_is_compact_in_declared_order() -> None:
    text = canonical_call("grep", {"max_hits": 3, "rel_dir": ".", "pattern": "def"}, TOOLS)
    assert text == '{"type":"tool_call","name":"grep","args":{"pattern":"def","rel_dir":".","max_hits":3}}'
    assert validate_call(text, TOOLS) == (True, "")


def test_openai_function_specs_are_accepted() -> None:
    tools = parse_tools([{"type": "function", "function": {
        "name": "search", "parameters": {"type": "object", "required": ["q"],
                                         "properties": {"q": {"type": "string"}, "k": {"type": "integer"}}}}}])
    assert validate_call('{"type":"tool_call","name":"search","args":{"q":"x"}}', tools) == (True, "")
    assert reason_code(validate_call('{"type":"tool_call","name":"search","args":{"k":2}}', tools)[1]) \
        == "missing_arg"


def test_bad_tools_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "tools.yaml"
    bad.write_text("tools:\n  grep:\n    args:\n      pattern: {type: text}\n")
    with pytest.raises(ToolSchemaError) as info:
        load_tools(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value) and "type" in str(info.value)


# ------------------------------------------------------------------ conversion


def test_one_sample_per_valid_call_with_context_and_truncation(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "quicksort" / "s0.jsonl", good_run("quicksort", big=5000))
    write_run(tmp_path / "runs" / "gcd" / "s0.jsonl", good_run("gcd"))
    assert convert(tmp_path, "--val", "0", "--max-chars", "300") == 0
    train = rows(tmp_path, "train")
    qs = [r for r in train if r["task_id"] == "quicksort"]
    assert [r["tool"] for r in qs] == ["list_files", "read_file", "write_file"]
    third = qs[2]["messages"]
    assert [m["role"] for m in third] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert third[1]["content"] == "GOAL:\nFix the bug in quicksort.py"
    assert third[-1]["content"] == canonical_call(
        "write_file", {"rel_path": "quicksort.py", "content": "def quicksort(xs):\n    return sorted(xs)\n"}, TOOLS)
    assert third[5]["content"].startswith("[tool_result] def quicksort")
    assert "...[truncated" in third[5]["content"] and len(third[5]["content"]) < 400
    assert all(validate_call(r["messages"][-1]["content"], TOOLS)[0] for r in train)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["tool_calls_train"]["file_name"] == "data/tool_calls/train.jsonl"
    assert "tool_calls_val" not in info


def test_filters_and_drop_report(tmp_path: Path) -> None:
    events = [
        request("Fix gcd.py"),
        call("list_files", rel_dir="."),  # missing max_files
        result("", ok=False, error="TypeError: list_files() missing 1 required positional argument"),
        "{not json",  # unreadable line
        {"type": "llm_action", "action": '{"type":"tool_call","name":"grep","args":{"pattern":"def"'},  # malformed
        result("", ok=False, error="could not parse"),
        call("delete_repo", rel_dir="."),  # unknown tool
        call("grep", pattern="def", rel_dir=".", max_hits="9"),  # wrong type
        call("list_files", rel_dir=".", max_files=20, recursive=True),  # unexpected arg
        call("read_file", rel_path="gcd.py", max_chars=-1),  # schema-valid, tool rejects the value
        result("", ok=False, error="invalid argument max_chars: must be positive"),
        call("read_file", rel_path="nope.py", max_chars=100),  # valid, file missing: kept
        result("", ok=False, error="FileNotFoundError: nope.py"),
        call("read_file", rel_path="gcd.py", max_chars=100, extra_field_ok=None) | {"latency_ms": 3},
        call("read_file", rel_path="gcd.py", max_chars=100),
        result("def gcd(a, b): ..."),
        {"event": "final", "passed": True, "tests": 4},
    ]
    write_run(tmp_path / "runs" / "gcd" / "s0.jsonl", events, tail='{"event": "tool_res')
    write_run(tmp_path / "runs" / "gcd" / "failed.jsonl", good_run("gcd", passed=False))
    write_run(tmp_path / "runs" / "gcd" / "unknown.jsonl", good_run("gcd")[:-1])
    assert convert(tmp_path, "--val", "0") == 0
    report = card(tmp_path)["report"]
    assert report["unreadable_lines"] == 2
    assert report["dropped"] == {"malformed_json": 1, "missing_arg": 1, "unknown_tool": 1, "wrong_type": 1,
                                 "unexpected_arg": 2, "bad_args_result": 1, "run_not_passed": 3,
                                 "run_outcome_missing": 3}
    kept = rows(tmp_path, "train")
    assert [(r["tool"], r["step"]) for r in kept] == [("read_file", 7), ("read_file", 9)]
    # dropped calls never show up in a later context
    assert all("max_hits\":\"9" not in m["content"] and "-1" not in m["content"]
               for r in kept for m in r["messages"][:-1])
    # a valid call the tool rejected for another reason stays, with its error, in later contexts
    assert kept[1]["messages"][-2]["content"] == "[tool_result] error: FileNotFoundError: nope.py"


def test_failed_runs_are_kept_on_request_and_recovery_examples(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "t" / "failed.jsonl", good_run("t", passed=False))
    write_run(tmp_path / "runs" / "t" / "retry.jsonl", [
        request("Fix t.py"),
        call("read_file", rel_path="t.py"),
        result("", ok=False, error="TypeError: read_file() missing 1 required positional argument: 'max_chars'"),
        call("read_file", rel_path="t.py", max_chars=100),
        result("def t(): ..."),
        {"event": "run_end", "passed": True},
    ])
    assert convert(tmp_path, "--val", "0") == 0
    assert len(rows(tmp_path, "train")) == 1
    assert convert(tmp_path, "--val", "0", "--include-failed-runs", "--recovery") == 0
    kept = rows(tmp_path, "train")
    assert len(kept) == 4
    recovery = [r for r in kept if r["recovery"]]
    assert len(recovery) == 1
    ctx = recovery[0]["messages"]
    assert ctx[-3]["content"] == '{"type": "tool_call", "name": "read_file", "args": {"rel_path": "t.py"}}'
    assert ctx[-2]["content"].startswith("[tool_result] error: TypeError")


def test_splits_are_grouped_by_task(tmp_path: Path) -> None:
    tasks = [f"task{i:02d}" for i in range(10)]
    make_runs(tmp_path, tasks, rollouts=2)
    assert convert(tmp_path, "--val", "0.3", "--seed", "1") == 0
    train, val = rows(tmp_path, "train"), rows(tmp_path, "val")
    train_tasks, val_tasks = {r["task_id"] for r in train}, {r["task_id"] for r in val}
    assert len(val_tasks) == 3 and not train_tasks & val_tasks and train_tasks | val_tasks == set(tasks)
    assert card(tmp_path)["splits"]["val"]["task_ids"] == sorted(val_tasks)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert {"tool_calls_train", "tool_calls_val"} <= set(info)
    assert convert(tmp_path, "--val-tasks", "task04,task07") == 0
    assert {r["task_id"] for r in rows(tmp_path, "val")} == {"task04", "task07"}


def test_task_id_from_field_then_directory_then_stem(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs / "flat_run.jsonl", good_run("a"))
    write_run(runs / "dirtask" / "r1.jsonl", good_run("b"))
    write_run(runs / "dirtask" / "r2.jsonl", [{"event": "run_start", "task_id": "explicit"}, *good_run("c")])
    assert convert(tmp_path, "--val", "0") == 0
    assert {r["task_id"] for r in rows(tmp_path, "train")} == {"flat_run", "dirtask", "explicit"}


def test_nothing_usable_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "runs" / "x.jsonl", ["garbage", '{"event": "llm_action", "action": "???"}'])
    assert convert(tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no usable tool calls" in err and "runs" in err
    assert not (tmp_path / "dataset_info.json").exists()


def test_help_of_every_workload_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from converters.presample import cli as presample
    from converters.search_traces import cli as search_traces

    for module in (tool_traces, search_traces, presample):
        with pytest.raises(SystemExit) as info:
            module.main(["--help"])
        assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--max-chars" in out and "--input-kind" in out and "--method" in out


def test_default_tools_path_ships() -> None:
    assert DEFAULT_TOOLS_PATH.is_file()


# ------------------------------------------------------------------ option checks (issue 23, probes 8-9)


def test_a_bad_regex_is_a_usage_error_naming_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_runs(tmp_path, ["task00", "task01"])
    with pytest.raises(SystemExit) as stop:
        convert(tmp_path, "--bad-args-regex", "[")
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--bad-args-regex" in err and "not a valid regular expression" in err
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("val", ["2", "-1", "1", "lots"])
def test_val_is_a_share_below_one(tmp_path: Path, capsys: pytest.CaptureFixture[str], val: str) -> None:
    make_runs(tmp_path, ["task00", "task01", "task02"])
    with pytest.raises(SystemExit) as stop:
        convert(tmp_path, "--val", val)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --val" in err and "[0, 1)" in err
    assert not (tmp_path / "data").exists()


def test_val_tasks_must_name_tasks_the_inputs_hold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_runs(tmp_path, ["task00", "task01", "task02"])
    assert convert(tmp_path, "--val-tasks", "task01,nosuch") == 2
    err = capsys.readouterr().err
    assert "--val-tasks" in err and "nosuch" in err and "task00, task01, task02" in err
    assert not (tmp_path / "data").exists()
