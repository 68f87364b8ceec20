"""Read whatever a policy answered (text, a Turn, a chat completion) into one ``Turn``.

Runs where the episode lives (a worker thread, or a collector's episode host process), so the
process that talks HTTP spends no CPU on parsing. Model output is parsed, never executed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from ordebug.answer import parse_answer, reasoning_from_output
from play.errors import PolicyError
from play.llm import ChatResult
from play.policy import Turn

ParseMode = Literal["lenient", "strict"]


def merge_reasoning(content: str, reasoning: str | None) -> str:
    """Put a server-split reasoning field back into <think> so the format is scored as trained.

    vLLM's reasoning parsers and several APIs return the thinking in ``reasoning_content``
    and only the rest in ``content``; the fine-tune emits both in one text.
    """
    if not reasoning or not reasoning.strip() or "<think>" in content:
        return content
    return f"<think>\n{reasoning.strip()}\n</think>\n\n{content.lstrip()}"


def chat_turn(result: ChatResult, *, merge: bool = False) -> Turn:
    """Read a completion: the action (lenient), the model's own reasoning, why nothing parsed.

    ``merge`` keeps a server-split reasoning inside the recorded text (eval scores the format of
    what the model said); without it the text is ``content`` as sent (the teacher's trajectories).
    """
    content = result.content
    text = merge_reasoning(content, result.reasoning_content) if merge else content
    parsed = parse_answer(text, lenient=True)
    reasoning = reasoning_from_output(content, result.reasoning_content)
    error = None
    if parsed.action is None:
        error = parsed.action_error or "no action in the answer"
        if result.finish_reason == "length":
            error += " (the answer was cut off at max_tokens)"
    if result.reasoning_content:
        source = "reasoning_content"
    elif "<think>" in content or "</think>" in content:
        source = "think"
    else:
        source = "before_action" if reasoning else "none"
    return Turn(
        raw_output=text,
        reasoning=reasoning,
        action=parsed.action,
        parse_error=error,
        usage=result.usage,
        extra={
            "finish_reason": result.finish_reason,
            "retry_errors": result.errors,
            "reasoning_source": source,
        },
    )


def text_turn(text: str, *, lenient: bool = True) -> Turn:
    """A plain-text answer (a local model, a predictions file)."""
    parsed = parse_answer(text, lenient=lenient)
    return Turn(
        raw_output=text,
        reasoning=parsed.reasoning or "",
        action=parsed.action,
        parse_error=None if parsed.action is not None else parsed.action_error,
    )


def read_answer(answer: Any, *, parse: ParseMode = "lenient", merge: bool = False) -> Turn:
    """One Turn from a policy's answer; ``parse="strict"`` re-reads the text strictly (eval)."""
    if isinstance(answer, ChatResult):
        turn = chat_turn(answer, merge=merge)
    elif isinstance(answer, Turn):
        turn = answer
    elif isinstance(answer, str):
        return text_turn(answer, lenient=parse == "lenient")
    else:
        raise PolicyError(f"policy returned {type(answer).__name__}, expected str")
    if parse == "strict":
        strict = parse_answer(turn.raw_output, lenient=False)
        turn = replace(turn, action=strict.action, parse_error=None if strict.action else strict.action_error)
    return turn


def raw_text(answer: Any, *, merge: bool = False) -> str:
    """The text of an answer as it is recorded (cheap: no parsing), for the chat history."""
    if isinstance(answer, ChatResult):
        return merge_reasoning(answer.content, answer.reasoning_content) if merge else answer.content
    if isinstance(answer, Turn):
        return answer.raw_output
    return str(answer)
