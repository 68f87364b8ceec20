"""Offline scoring: a predictions file (format) and tool-call predictions (validity), plus CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_problems import write_hand_set

from eval.cli import build_parser, main
from eval.format_metrics import Names, score_answer

OBS = (
    "## Problem\nID: one_conflict\nType: D\n\n## Current State\nStatus: INFEASIBLE\n\n"
    "## IIS (Irreducible Infeasible Subsystem)\nConflicting Constraints: ['c0', 'c3']\n"
    "Conflicting Bounds: []\n\n"
    "## Model Structure\nConstraints: 4\nVariables: 2\nConstraint Names: ['c0', 'c1', 'c2', 'c3']"
)
GOOD = "<think>\nc3 conflicts with c0.\n</think>\n\nAction: RELAX_CONSTRAINT(c3, 5.0)"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (
            GOOD,
            {
                "think_ok": True,
                "action_strict": True,
                "one_action": True,
                "args_valid": True,
                "format_ok": True,
            },
        ),
        ("<think>\n\n</think>\n\nAction: SUBMIT()", {"think_nonempty": False, "format_ok": False}),
        ("<think>a</think><think>b</think>\nAction: SUBMIT()", {"think_balanced": False, "format_ok": False}),
        (
            "<think>a\nAction: SUBMIT()",
            {"think_present": True, "think_balanced": False, "action_lenient": True},
        ),
        (
            "<think>a</think>\nAction: GET_IIS()\nAction: SUBMIT()",
            {"action_strict": False, "n_actions": 2, "one_action": False},
        ),
        ("<think>a</think>\nAction: drop_constraint(c3)", {"action_strict": False, "action_lenient": True}),
        (
            "<think>a</think>\nAction: RELAX_CONSTRAINT(c3, nan)",
            {"action_strict": False, "action_lenient": False},
        ),
        ("<think>a</think>\nAction: UPDATE_BOUNDS(c1, 0, 1)", {"action_strict": True, "args_valid": False}),
    ],
)
def test_step_format_facts(text, expect):
    fmt = score_answer(text, Names.of(["c0", "c1", "c2", "c3"], ["x", "y"])).format
    for key, value in expect.items():
        assert getattr(fmt, key) == value, (key, fmt)


def test_predictions_file_scored_offline(tmp_path):
    # LLaMA-Factory's generated_predictions.jsonl shape: prompt / predict / label
    rows = [
        {"prompt": OBS, "predict": GOOD, "label": GOOD},  # ok, matches
        {"prompt": OBS, "predict": "Action: DROP_CONSTRAINT(c0)", "label": GOOD},  # no think, other action
        {"prompt": OBS, "predict": "<think>\nx\n</think>\n\nAction: DROP_CONSTRAINT(c7)"},  # unknown name
        {"prompt": OBS, "predict": "no idea"},  # nothing
    ]
    path = _jsonl(tmp_path / "generated_predictions.jsonl", rows)
    assert main(["--predictions", str(path), "--out", str(tmp_path / "out")]) == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["mode"] == "predictions"
    s = res["summary"]
    assert s["n"] == 4 and s["n_labelled"] == 2
    assert s["format_ok"] == 0.25  # row 1 only
    assert s["think_present"] == 0.5
    assert s["action_lenient"] == 0.75
    assert s["args_valid"] == pytest.approx(2 / 3)  # names from the observation; c7 unknown
    assert s["action_match"] == 0.5  # row 1 matches its label, row 2 does not
    assert [r["names_source"] for r in res["predictions"]] == ["observation"] * 4
    assert "## Summary" in (tmp_path / "out" / "report.md").read_text()


def test_predictions_names_checked_against_model(tmp_path):
    hand = tmp_path / "set"
    write_hand_set(hand)
    path = _jsonl(
        tmp_path / "p.jsonl",
        [{"problem_id": "one_conflict", "output": "<think>\nx\n</think>\n\nAction: UPDATE_BOUNDS(x, 0, 1)"}],
    )
    assert (
        main(
            [
                "--policy",
                "predictions",
                "--predictions",
                str(path),
                "--problems",
                str(hand),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    row = res["predictions"][0]
    assert (
        row["names_source"] == "model" and row["format"]["args_valid"] is True
    )  # x is a variable of the model


def test_tool_call_validity(tmp_path):
    rows = [
        {
            "predict": '{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py","max_chars":100}}',
            "label": '{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py","max_chars":100}}',
        },
        {
            "predict": "<think>\nlist\n</think>\n"
            '{"type":"tool_call","name":"list_files","args":{"rel_dir":"."}}'
        },
        {"predict": '{"type":"tool_call","name":"read_file","args":{"rel_path":"a.py","max_chars":"100"}}'},
        {"predict": '{"type":"tool_call","name":"run_tests","args":{}}'},
        {"predict": "read the file please"},
    ]
    path = _jsonl(tmp_path / "calls.jsonl", rows)
    assert main(["--tool-calls", str(path), "--out", str(tmp_path / "out")]) == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["stage"] for r in res["tool_calls"]] == [
        None,
        "missing_arg",
        "wrong_type",
        "unknown_tool",
        "malformed_json",
    ]
    s = res["summary"]
    assert s["tool_call_valid"] == 0.2 and s["n"] == 5
    assert s["invalid:missing_arg"] == 0.2 and s["invalid:malformed_json"] == 0.2
    assert s["call_match"] == 1.0  # the only labelled row matches


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--run", "x", "--policy", "drop_first"], "use just one of --run or --policy"),
        ([], "nothing to evaluate"),
        (["--policy", "predictions"], "needs --predictions"),
        (["--tool-calls", "f.jsonl", "--policy", "drop_first"], "use just one of --tool-calls"),
        (["--run", "no/such/run"], "no such run directory"),
        (["--policy", "drop_first", "--problems", "no/such/dir"], "no such file or folder"),
        (["--policy", "drop_first", "--problems", "x", "--baselines", "bogus"], "--baselines"),
    ],
)
def test_cli_errors_are_one_line_exit_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_predictions_bad_line_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"predict": "x"}\n{not json\n', encoding="utf-8")
    assert main(["--predictions", str(path), "--out", str(tmp_path / "o")]) == 2
    assert f"{path}:2" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.json").exists()


def test_help_lists_every_option():
    text = build_parser().format_help()
    for opt in (
        "--run",
        "--policy",
        "--problems",
        "--out",
        "--concurrency",
        "--max-steps",
        "--predictions",
        "--tool-calls",
        "--model",
        "--base-url",
        "--baselines",
        "--layout",
        "--parse",
    ):
        assert opt in text
