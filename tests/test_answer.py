"""The answer format: format_answer, parse_answer's format facts, reasoning_from_output, legacy data."""

from __future__ import annotations

from pathlib import Path

import pytest

from ordebug.actions import Action, ActionName, parse_action
from ordebug.answer import format_answer, parse_answer, reasoning_from_output
from ordebug.errors import ActionParseError, AnswerFormatError
from tests.legacy_data import legacy_counts, legacy_outputs

GOOD = "<think>\nThe IIS has c1 and c2.\nc1 is too tight.\n</think>\n\nAction: RELAX_CONSTRAINT(c1, 1.0)"


def test_format_answer_exact_shape() -> None:
    action = parse_action("RELAX_CONSTRAINT(c1, 1)")
    assert format_answer("The IIS has c1 and c2.\nc1 is too tight.", action) == GOOD
    assert format_answer("  The IIS has c1 and c2.\nc1 is too tight.\n\n", "RELAX_CONSTRAINT(c1, 1)") == GOOD
    assert format_answer("r", Action(name=ActionName.SUBMIT)) == "<think>\nr\n</think>\n\nAction: SUBMIT()"


def test_format_answer_rejects_bad_input() -> None:
    with pytest.raises(AnswerFormatError, match="reasoning contains <think> or </think> tags"):
        format_answer("<think>x</think>", "SUBMIT()")
    with pytest.raises(ActionParseError, match="takes 1 argument"):
        format_answer("x", "DROP_CONSTRAINT(c1, 0.0)")  # str actions must be strict


def test_parse_good_answer() -> None:
    parsed = parse_answer(GOOD)
    assert parsed.ok and parsed.think_ok and parsed.think_error is None and parsed.action_error is None
    assert parsed.reasoning == "The IIS has c1 and c2.\nc1 is too tight."
    assert parsed.action == parse_action("RELAX_CONSTRAINT(c1, 1.0)")
    assert parsed.n_actions == 1
    assert parse_answer(GOOD, lenient=True) == parsed
    assert format_answer(parsed.reasoning or "", parsed.action) == GOOD  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "think_error"),
    [
        ("Action: SUBMIT()", "no <think> block"),
        ("reasoning\n</think>\n\nAction: SUBMIT()", "</think> without <think>"),
        ("<think>\nreasoning\n\nAction: SUBMIT()", "<think> is never closed"),
        ("</think>x<think>\n\nAction: SUBMIT()", "</think> comes before <think>"),
        (
            "<think>a</think><think>b</think>\n\nAction: SUBMIT()",
            "2 <think> and 2 </think> tags; expected one block",
        ),
        ("Sure!\n<think>\nr\n</think>\n\nAction: SUBMIT()", "text before <think>"),
        ("<think>\n  \n</think>\n\nAction: SUBMIT()", "empty <think> block"),
    ],
)
def test_think_errors(text: str, think_error: str) -> None:
    for lenient in (False, True):
        parsed = parse_answer(text, lenient=lenient)
        assert not parsed.think_ok and not parsed.ok
        assert parsed.think_error == think_error


@pytest.mark.parametrize(
    ("text", "action_error", "n_actions"),
    [
        ("<think>\nr\n</think>\n\n", "no 'Action: NAME(args)' line after </think>", 0),
        ("<think>\nr\n</think>\n\nDROP_CONSTRAINT(c1)", "no 'Action: NAME(args)' line after </think>", 0),
        (
            "<think>\nr\n</think>\n\naction: DROP_CONSTRAINT(c1)",
            "no 'Action: NAME(args)' line after </think>",
            0,
        ),
        (
            "<think>\nr\n</think>\n\nAction: GET_IIS()\nAction: SUBMIT()",
            "2 'Action:' lines after </think>; expected exactly one",
            2,
        ),
        (
            "<think>\nr\n</think>\n\nI will drop c1.\nAction: DROP_CONSTRAINT(c1)",
            "text after </think> besides the action line: 'I will drop c1.'",
            1,
        ),
        (
            "<think>\nr\n</think>\n\nAction: DROP_CONSTRAINT(c1, 0.0)",
            "DROP_CONSTRAINT takes 1 argument (name), got 2",
            1,
        ),
        (
            "<think>\nr\n</think>\n\nAction: RELAX_CONSTRAINT(c1, nan)",
            "amount 'nan' is not a finite number",
            1,
        ),
        ("<think>\nr\n</think>\n\nAction: FOO()", "unknown action 'FOO'", 1),
        ("<think>\nr\n</think>\n\nAction: `SUBMIT()`", "'`SUBMIT()`' is not of the form NAME(arguments)", 1),
        ("no think at all", "no 'Action: NAME(args)' line in the answer", 0),
    ],
)
def test_strict_action_errors(text: str, action_error: str, n_actions: int) -> None:
    parsed = parse_answer(text)
    assert parsed.action is None and not parsed.ok
    assert parsed.action_error is not None and action_error in parsed.action_error
    assert parsed.n_actions == n_actions


@pytest.mark.parametrize(
    ("text", "expected", "n_actions"),
    [
        (
            "<think>\nr\n</think>\n\nI will drop c1.\n```\nAction: DROP_CONSTRAINT(c1)\n```",
            "DROP_CONSTRAINT(c1)",
            1,
        ),
        ("<think>\nr\n</think>\n\n**Action:** `relax_constraint(c1, 2)`", "RELAX_CONSTRAINT(c1, 2.0)", 1),
        ("<think>\nr\n</think>\n\nAction: GET_IIS()\nAction: SUBMIT()", "SUBMIT()", 2),
        # an Action: line wins over a later mention in prose
        (
            "<think>\nr\n</think>\nAction: DROP_CONSTRAINT(c1)\nThen SUBMIT() next turn.",
            "DROP_CONSTRAINT(c1)",
            2,
        ),
        ("<think>\nr\n</think>\nI would call DROP_CONSTRAINT(c2) now.", "DROP_CONSTRAINT(c2)", 1),
        (
            "<think>\nr\n</think>\nAction: I drop c2, i.e. DROP_CONSTRAINT(c2).\nCHECK_SLACK(c1)",
            "DROP_CONSTRAINT(c2)",
            2,
        ),
        # nothing outside think: the last action inside it
        ("<think>\nmaybe GET_IIS() then DROP_CONSTRAINT(c3)\n</think>\n", "DROP_CONSTRAINT(c3)", 0),
        (
            "<think>\nr\n</think>\n\nAction: DROP_CONSTRAINT(c_key_lower, 0.0)",
            "DROP_CONSTRAINT(c_key_lower)",
            1,
        ),
        ("<think>\nr\n</think>\n\nAction: UPDATE_BOUNDS(x0, -1000000.0)", "UPDATE_BOUNDS(x0, -1000000.0)", 1),
        ("<think>\nr\n</think>\n\nAction: DROP_CONSTRAINT('cap (n)')", "DROP_CONSTRAINT('cap (n)')", 1),
    ],
)
def test_lenient_finds_the_action(text: str, expected: str, n_actions: int) -> None:
    parsed = parse_answer(text, lenient=True)
    assert str(parsed.action) == expected
    assert parsed.action_error is None
    assert parsed.n_actions == n_actions


def test_lenient_reports_why_when_nothing_parses() -> None:
    parsed = parse_answer("<think>\nr\n</think>\n\nAction: RELAX_CONSTRAINT(c1, nan)", lenient=True)
    assert parsed.action is None and parsed.action_error == "amount 'nan' is not a finite number"
    parsed = parse_answer("I am not sure what to do.", lenient=True)
    assert parsed.action is None and parsed.action_error == "no action found in the answer"
    assert parsed.n_actions == 0


def test_lenient_reasoning_without_think() -> None:
    parsed = parse_answer("c1 conflicts with c2.\nAction: DROP_CONSTRAINT(c1)", lenient=True)
    assert parsed.reasoning == "c1 conflicts with c2."
    assert parse_answer("c1 conflicts with c2.\nAction: DROP_CONSTRAINT(c1)").reasoning is None


def test_parser_never_executes(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"<think>\nr\n</think>\n\nAction: DROP_CONSTRAINT(__import__('os').system('touch {marker}'))"
    for lenient in (False, True):
        parsed = parse_answer(payload, lenient=lenient)
        assert parsed.action is None and "invalid name" in (parsed.action_error or "")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "reasoning_content", "expected"),
    [
        (GOOD, "Native reasoning.", "Native reasoning."),
        (GOOD, "<think>\nNative.\n</think>", "Native."),
        (GOOD, "   ", "The IIS has c1 and c2.\nc1 is too tight."),
        (GOOD, None, "The IIS has c1 and c2.\nc1 is too tight."),
        ("c1 is too tight.\n</think>\n\nAction: SUBMIT()", None, "c1 is too tight."),
        ("c1 conflicts.\n\nAction: DROP_CONSTRAINT(c1)", None, "c1 conflicts."),
        ("c1 conflicts.\n```\nAction: DROP_CONSTRAINT(c1)\n```", None, "c1 conflicts."),
        ("Action: DROP_CONSTRAINT(c1)", None, ""),
        ("", None, ""),
        ("I have no idea.", None, "I have no idea."),
    ],
)
def test_reasoning_from_output(content: str, reasoning_content: str | None, expected: str) -> None:
    assert reasoning_from_output(content, reasoning_content) == expected


def test_legacy_outputs(shared_data: Path) -> None:
    outputs = legacy_outputs(shared_data)
    counts = legacy_counts(len(outputs))
    strict_ok = lenient_same = 0
    for text in outputs:
        lenient = parse_answer(text, lenient=True)
        assert lenient.think_ok and lenient.action is not None and lenient.n_actions == 1
        assert reasoning_from_output(text) == lenient.reasoning
        strict = parse_answer(text)
        assert strict.think_ok and strict.reasoning == lenient.reasoning
        if strict.action is not None:
            assert strict.action == lenient.action
            assert format_answer(strict.reasoning or "", strict.action) == text
            strict_ok += 1
        lenient_same += format_answer(lenient.reasoning or "", lenient.action) == text
    # the non-strict actions are DROP_CONSTRAINT(name, 0.0) and one-bound UPDATE_BOUNDS;
    # lenient formatting reproduces all but the DROP_CONSTRAINTs whose surplus 0.0 is dropped.
    assert strict_ok == counts.canonical
    assert lenient_same == counts.lenient_same == counts.canonical + counts.one_bound
