"""The one policy protocol, the turn a policy gives, and the context a scripted agent decides in.

A policy turns an observation (and the episode's history) into an answer:

- ``async act(obs, state, history, *, problem) -> Answer`` — every policy (an LLM endpoint, a
  local model, a predictions file) has it. ``Answer`` is raw text, a ``Turn`` (raw text plus the
  reasoning and parsed action a scripted agent or the teacher already has) or a
  ``play.llm.ChatResult`` (read into a turn where the episode lives: ``play.answers.read_answer``).
- A scripted agent (heuristic, oracle, drop_first) also needs the episode's working model; it is
  wrapped in ``ScriptedPolicy``, whose ``decide(ctx)`` the runner calls on the thread that owns
  the episode (``DecisionContext.current_model``), so no model is rebuilt for a decision.

Structural (``typing.Protocol``): nothing inherits from anything. Policies play many episodes at
once and keep no per-episode state on ``self``; they never execute model output.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gurobipy as gp

from ordebug.actions import Action, parse_action
from ordebug.answer import format_answer
from ordebug.observation import ObservationState
from ordebug.problems import Problem
from ordebug.replay import replay
from ordebug.trajectory import Usage


@dataclass
class Turn:
    """One answer: the verbatim text, the reasoning kept for training, the action it names."""

    raw_output: str
    reasoning: str
    action: Action | None
    parse_error: str | None = None
    usage: Usage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def scripted(cls, reasoning: str, action: Action) -> Turn:
        """A scripted agent's turn, written in the trained answer format."""
        return cls(raw_output=format_answer(reasoning, action), reasoning=reasoning.strip(), action=action)


@dataclass
class DecisionContext:
    """What a scripted agent may look at when it decides one step.

    ``current_model()`` returns a copy of the episode's working model (the model the agent is
    debugging, as its own actions left it): agents may solve and probe it, never change the
    episode through it. ``problem`` carries ground truth: only the oracle may read it.
    """

    observation: str
    state: ObservationState
    problem: Problem
    step: int  # 1-based index of the step being decided
    layout: str
    current_model: Callable[[], gp.Model]
    history: list[str] = field(default_factory=list)  # canonical text of earlier valid actions
    whatif: bool = False  # the episode offers the what-if actions (their answers show in the next observation)


class ScriptedAgent(Protocol):
    name: str

    def config(self) -> dict[str, Any]: ...

    def decide(self, ctx: DecisionContext) -> Turn: ...


@runtime_checkable
class Policy(Protocol):
    """A policy plays many episodes concurrently: keep no per-episode state on ``self``."""

    name: str

    def config(self) -> dict[str, Any]:
        """JSON-safe settings recorded beside results (sampling settings; never API keys)."""
        ...

    async def act(
        self, obs: str, state: ObservationState | None, history: list[dict[str, str]], *, problem: Problem
    ) -> Any:
        """The answer to ``obs`` (str, Turn or ChatResult).

        ``history`` holds this episode's earlier turns as chat messages (user observation,
        assistant answer, …), without the system message and without ``obs`` itself. ``state`` is
        None where the episode lives in another process (a collector's episode host).
        """
        ...


class ScriptedPolicy:
    """A scripted agent as a policy: ``decide(ctx)`` inside the episode, or ``act`` from outside.

    The runner calls ``decide`` on the thread that owns the episode, with the working model at
    hand. ``act`` (for a caller without the episode) rebuilds the working model by replaying the
    episode's valid changes in a private DebugEnv, only when the agent asks for it.
    """

    def __init__(self, agent: ScriptedAgent, *, layout: str = "legacy", whatif: bool = False) -> None:
        self.agent = agent
        self.name = str(agent.name)
        self.layout = layout
        self.whatif = whatif

    def config(self) -> dict[str, Any]:
        return self.agent.config()

    def decide(self, ctx: DecisionContext) -> Turn:
        return self.agent.decide(ctx)

    async def act(
        self, obs: str, state: ObservationState | None, history: list[dict[str, str]], *, problem: Problem
    ) -> Turn:
        if state is None:
            raise ValueError("a scripted policy played from outside the episode needs its state")
        return await asyncio.to_thread(self.turn, obs, state, problem)

    def turn(self, obs: str, state: ObservationState, problem: Problem) -> Turn:
        ctx = DecisionContext(
            observation=obs,
            state=state,
            problem=problem,
            step=len(state.history) + 1,
            layout=self.layout,
            current_model=lambda: replay(problem, state),  # no diagnostics: only the model is needed
            history=[str(parse_action(h.action)) for h in state.history if h.valid],
            whatif=self.whatif,
        )
        return self.agent.decide(ctx)


async def close_policy(policy: Any) -> None:
    """Call the policy's optional ``aclose()`` / ``close()`` (clients, engines)."""
    for attr in ("aclose", "close"):
        fn = getattr(policy, attr, None)
        if fn is not None:
            result = fn()
            if inspect.isawaitable(result):
                await result
            return
