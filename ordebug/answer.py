"""The model's answer format: a <think> block, a blank line, one action line.

    <think>
    {reasoning}
    </think>

    Action: NAME(args)

``format_answer`` writes exactly this (the shape of every legacy SFT output); ``parse_answer``
reads it back and reports the per-step format facts eval scores. Strict mode checks the trained
shape; lenient mode finds the most plausible action anywhere (free-form or legacy output).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ordebug.actions import Action, ActionName, parse_action
from ordebug.errors import ActionParseError, AnswerFormatError

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ACTION_PREFIX = "Action:"

# A call NAME(...) on one line; quoted arguments may hold parentheses. Only matched, never run.
_CALL = re.compile(r"""\b([A-Za-z_][A-Za-z0-9_]*)\s*\(((?:[^()'"\n]|'[^'\n]*'|"[^"\n]*")*)\)""")
# An "Action:" line in lenient mode: any case, markdown around the word, the rest of the line.
_ACTION_LINE = re.compile(r"(?im)^[ \t>*_`#-]*action[*_`]*[ \t]*:[ \t]*(.*?)[ \t]*$")
_FENCE_TAIL = re.compile(r"(?:\n|^)\s*```[\w-]*\s*$")


class ParsedAnswer(BaseModel):
    """Format facts of one answer: the reasoning, whether <think> is well-formed, and the action."""

    model_config = ConfigDict(frozen=True)
    reasoning: str | None
    think_ok: bool
    think_error: str | None
    action: Action | None
    action_error: str | None
    n_actions: int

    @property
    def ok(self) -> bool:
        """Well-formed think block and a parsed action."""
        return self.think_ok and self.action is not None


def format_answer(reasoning: str, action: Action | str) -> str:
    """The answer text for ``reasoning`` and ``action`` (a str action must parse strictly).

    Reasoning is stripped of surrounding whitespace; empty reasoning is written as is (strict
    parsing then reports an empty think block), since callers decide whether to keep such samples.
    """
    if THINK_OPEN in reasoning or THINK_CLOSE in reasoning:
        raise AnswerFormatError(
            "reasoning contains <think> or </think> tags", fix="pass the text inside the think block only"
        )
    text = str(action if isinstance(action, Action) else parse_action(action))
    return f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n\n{ACTION_PREFIX} {text}"


@dataclass(frozen=True)
class _Think:
    reasoning: str | None  # stripped inner text when one ordered block exists
    error: str | None
    inside: tuple[int, int] | None  # span of the think content (tags included)


def _think(text: str) -> _Think:
    n_open, n_close = text.count(THINK_OPEN), text.count(THINK_CLOSE)
    i, j = text.find(THINK_OPEN), text.find(THINK_CLOSE)
    if n_open == 0 and n_close == 0:
        return _Think(None, "no <think> block", None)
    if n_open == 0:
        return _Think(None, "</think> without <think>", (0, j + len(THINK_CLOSE)))
    if n_close == 0:
        return _Think(None, "<think> is never closed", (i, len(text)))
    if j < i:
        return _Think(None, "</think> comes before <think>", None)
    inner = text[i + len(THINK_OPEN) : j].strip()
    span = (i, j + len(THINK_CLOSE))
    if n_open > 1 or n_close > 1:
        return _Think(inner, f"{n_open} <think> and {n_close} </think> tags; expected one block", span)
    if text[:i].strip():
        return _Think(inner, "text before <think>", span)
    if not inner:
        return _Think(inner, "empty <think> block", span)
    return _Think(inner, None, span)


def parse_answer(text: str, *, lenient: bool = False) -> ParsedAnswer:
    """Parse one answer; never raises on bad model output (the facts say what is wrong)."""
    think = _think(text)
    if lenient:
        action, error, n_actions = _lenient_action(text, think.inside)
        reasoning = think.reasoning if think.reasoning else reasoning_from_output(text) or None
    else:
        action, error, n_actions = _strict_action(text, think.inside)
        reasoning = think.reasoning
    return ParsedAnswer(
        reasoning=reasoning,
        think_ok=think.error is None,
        think_error=think.error,
        action=action,
        action_error=error,
        n_actions=n_actions,
    )


def _strict_action(text: str, inside: tuple[int, int] | None) -> tuple[Action | None, str | None, int]:
    region = text[inside[1] :] if inside else text
    lines = [line for line in region.splitlines() if line.strip()]
    action_lines = [line for line in lines if line.startswith(ACTION_PREFIX)]
    where = "after </think>" if inside else "in the answer"
    if not action_lines:
        return None, f"no '{ACTION_PREFIX} NAME(args)' line {where}", 0
    if len(action_lines) > 1:
        return (
            None,
            f"{len(action_lines)} '{ACTION_PREFIX}' lines {where}; expected exactly one",
            len(action_lines),
        )
    if len(lines) > 1:
        other = next(line for line in lines if line is not action_lines[0])
        return None, f"text {where} besides the action line: {other.strip()[:60]!r}", 1
    try:
        return parse_action(action_lines[0][len(ACTION_PREFIX) :]), None, 1
    except ActionParseError as err:
        return None, err.reason, 1


@dataclass(frozen=True)
class _Candidate:
    start: int  # offset of the start of the candidate's line in the text
    action: Action | None
    error: str | None
    on_action_line: bool
    in_think: bool


def _candidate(
    text: str, start: int, action_text: str, lead: bool, inside: tuple[int, int] | None
) -> _Candidate:
    try:
        action, error = parse_action(action_text, lenient=True), None
    except ActionParseError as err:
        action, error = None, err.reason
    in_think = inside is not None and inside[0] <= start < inside[1]
    return _Candidate(text.rfind("\n", 0, start) + 1, action, error, lead, in_think)


def _candidates(text: str, inside: tuple[int, int] | None) -> list[_Candidate]:
    """Every "Action:" line (whole), and every NAME(...) call of a known action elsewhere, or on an
    "Action:" line whose whole text is not an action ("Action: I will DROP_CONSTRAINT(c1)")."""
    found: list[tuple[int, _Candidate]] = []
    line_parsed: dict[int, bool] = {}
    for m in _ACTION_LINE.finditer(text):
        cand = _candidate(text, m.start(), m.group(1), True, inside)
        line_parsed[m.start()] = cand.action is not None
        found.append((m.start(), cand))
    for m in _CALL.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if m.group(1).upper() not in ActionName.__members__ or line_parsed.get(line_start):
            continue
        found.append((m.start(), _candidate(text, m.start(), m.group(0), line_start in line_parsed, inside)))
    ordered = [c for _, c in sorted(found, key=lambda pair: pair[0])]
    # an "Action:" line that did not parse, but holds a call that did, is represented by that call
    called = {c.start for c in ordered if c.action is not None and c.on_action_line}
    return [c for c in ordered if c.action is not None or c.start not in called]


def _pick(cands: list[_Candidate]) -> _Candidate | None:
    """Last parseable action on an 'Action:' line outside think, else last outside, else last inside."""
    ok = [c for c in cands if c.action is not None]
    for group in (
        [c for c in ok if not c.in_think and c.on_action_line],
        [c for c in ok if not c.in_think],
        [c for c in ok if c.in_think],
    ):
        if group:
            return group[-1]
    return None


def _lenient_action(text: str, inside: tuple[int, int] | None) -> tuple[Action | None, str | None, int]:
    cands = _candidates(text, inside)
    n_outside = sum(1 for c in cands if c.action is not None and not c.in_think)
    chosen = _pick(cands)
    if chosen is not None:
        return chosen.action, None, n_outside
    failed = [c for c in cands if c.error]
    return None, (failed[-1].error if failed else "no action found in the answer"), n_outside


def reasoning_from_output(content: str, reasoning_content: str | None = None) -> str:
    """The reasoning a teacher gave: its ``reasoning_content`` field when non-empty, else the
    <think> block of ``content``, else the text before the action line; never invented ("" if none)."""
    if reasoning_content and reasoning_content.strip():
        inner = reasoning_content.strip()
        inner = inner.removeprefix(THINK_OPEN).removesuffix(THINK_CLOSE)
        return inner.strip()
    think = _think(content)
    if think.reasoning:
        return think.reasoning
    if think.error == "</think> without <think>":  # chat templates often put <think> in the prompt
        return content[: content.find(THINK_CLOSE)].strip()
    chosen = _pick(_candidates(content, None))
    before = content[: chosen.start] if chosen else content
    before = before.replace(THINK_OPEN, "").replace(THINK_CLOSE, "")
    return _FENCE_TAIL.sub("", before.rstrip()).strip()
