"""The LLM teacher: any OpenAI-compatible endpoint plays the episode.

Each step sends the system prompt and one user turn (``ordebug.prompts.user_message(obs)``: the
same text converters train on and eval prompts with). The answer is kept verbatim; the
reasoning kept for training is the model's own — the ``reasoning_content`` field when the server
sends one, else the ``<think>`` block of the content, else the text before the action line
(``ordebug.answer.reasoning_from_output``) — never written by us. The action is read leniently
(the last parseable action, preferring an ``Action:`` line outside ``<think>``); text without
one becomes a recorded invalid step with the parser's reason.
"""

from __future__ import annotations

import hashlib
from typing import Any

from collectors.agents.base import AgentTurn
from collectors.aio import Abort, Stop
from collectors.episodes import TeacherError
from collectors.llm import BudgetExceeded, ChatResult, LLMCallError, LLMClient
from ordebug.answer import parse_answer, reasoning_from_output
from ordebug.observation import ObservationState
from ordebug.problems import Problem
from ordebug.prompts import system_prompt, user_message

#: What the teacher is told beyond the legacy prompt: the MDP it plays and what a good repair is.
TEACHER_NOTES = (
    "\n\n"
    "How the episode works:\n"
    "- Each turn you see the current status of the model, its IIS (the constraints and variable "
    "bounds that cannot hold together) and the constraint names; you answer with exactly one action.\n"
    "- The environment applies the action, re-solves the model, recomputes the IIS when it is still "
    "infeasible, and shows you the new state. The episode ends when you SUBMIT() or run out of steps.\n"
    "- RELAX_CONSTRAINT(name, amount) loosens a constraint by a positive amount: a <= constraint's "
    "right-hand side goes up, a >= constraint's goes down, an = constraint becomes the range rhs ± amount.\n"
    "- A good repair restores feasibility while changing the model as little as possible: prefer "
    "relaxing a constraint over dropping it, keep the original objective value where you can, and "
    "SUBMIT() as soon as the status is OPTIMAL.\n"
    "- Use only constraint and variable names shown in the observation. Think inside <think> tags, "
    "then write one line 'Action: NAME(arguments)'."
)


def teacher_system_prompt(layout: str, *, notes: bool = True) -> str:
    """ordebug's system prompt for the layout, plus the episode notes unless ``notes`` is False."""
    return system_prompt(layout) + (TEACHER_NOTES if notes else "")


def answer_turn(result: ChatResult) -> AgentTurn:
    """Read a completion: the action (lenient), the model's own reasoning, why nothing parsed.

    Pure and cheap to ship: the collector runs it in the episode host process.
    """
    content = result.content
    parsed = parse_answer(content, lenient=True)
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
    return AgentTurn(
        raw_output=content,
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


class TeacherAgent:
    """One client shared by every concurrent episode; no per-episode state."""

    def __init__(self, client: LLMClient, *, layout: str = "legacy", system: str | None = None) -> None:
        self.client = client
        self.layout = layout
        self.system = system if system is not None else teacher_system_prompt(layout)
        self.name = f"teacher:{client.config.model}"

    def config(self) -> dict[str, Any]:
        return {
            **self.client.config.public(),
            "system_prompt": self.system,
            "system_prompt_sha256": hashlib.sha256(self.system.encode()).hexdigest()[:16],
            "turns": "single (system + current observation)",
        }

    def messages(self, observation: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": user_message(observation)},
        ]

    async def complete(self, observation: str) -> ChatResult:
        """The raw completion for one observation: TeacherError on a failed call, Stop when the budget
        is spent, Abort when the endpoint refuses the configuration (key, model, URL)."""
        try:
            return await self.client.chat(self.messages(observation))
        except BudgetExceeded as exc:
            raise Stop(str(exc)) from None
        except LLMCallError as exc:
            if exc.fatal:  # no call can succeed: stop the run rather than record one error per problem
                raise Abort(str(exc)) from None
            raise TeacherError(f"LLM call failed: {exc}") from None

    async def turn(
        self, observation: str, state: ObservationState | None = None, history: Any = None
    ) -> AgentTurn:
        """The teacher's parsed answer to one observation."""
        return answer_turn(await self.complete(observation))

    async def act(
        self, obs: str, state: ObservationState, history: list[dict[str, str]], *, problem: Problem
    ) -> str:
        """eval's Policy shape: the answer with server-split reasoning put back into <think>."""
        turn = await self.turn(obs, state, history)
        if turn.extra.get("reasoning_source") == "reasoning_content":
            return f"<think>\n{turn.reasoning}\n</think>\n\n{turn.raw_output.lstrip()}"
        return turn.raw_output

    async def aclose(self) -> None:
        await self.client.aclose()
