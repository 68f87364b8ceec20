"""The LLM teacher: ``play.chat.ChatPolicy`` configured for collection.

Each step sends the teacher's system prompt and one user turn (``ordebug.prompts.user_message(obs)``:
the same text converters train on and eval prompts with). The answer is kept verbatim; the
reasoning kept for training is the model's own — the ``reasoning_content`` field when the server
sends one, else the ``<think>`` block of the content, else the text before the action line
(``ordebug.answer.reasoning_from_output``) — never written by us. The action is read leniently
(``play.answers.chat_turn``); text without one becomes a recorded invalid step with the reason.
"""

from __future__ import annotations

from ordebug.prompts import system_prompt
from play.answers import chat_turn as answer_turn
from play.chat import ChatPolicy
from play.llm import LLMClient

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


# a function with a class-like name: what collectors and tests have always called
def TeacherAgent(client: LLMClient, *, layout: str = "legacy", system: str | None = None) -> ChatPolicy:
    """The teacher: single-turn, stops the run on a spent budget or a refused key/model/URL."""
    return ChatPolicy(
        client,
        system=system if system is not None else teacher_system_prompt(layout),
        name=f"teacher:{client.config.model}",
        multi_turn=False,
        stop_on_fatal=True,
        describe={"turns": "single (system + current observation)"},
    )


__all__ = ["TEACHER_NOTES", "TeacherAgent", "answer_turn", "teacher_system_prompt"]
