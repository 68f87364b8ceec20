"""What every agent returns, and the context a scripted agent decides in.

Scripted agents (heuristic, oracle, drop_first) are synchronous: the collector calls
``decide(ctx)`` on a worker thread that owns a Gurobi environment. Each also offers the eval
``Policy`` shape (``async act(obs, state, history, *, problem) -> str``, see
eval/policies/base.py) through ``ScriptedPolicy``, which replays the episode's history in a
private DebugEnv so the agent sees the same working model it would see in a collector.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gurobipy as gp

from ordebug.actions import Action, parse_action
from ordebug.answer import format_answer
from ordebug.observation import ObservationState
from ordebug.problems import Problem
from ordebug.trajectory import Usage


@dataclass
class AgentTurn:
    """One answer: the verbatim text, the reasoning kept for training, the action it names."""

    raw_output: str
    reasoning: str
    action: Action | None
    parse_error: str | None = None
    usage: Usage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def scripted(cls, reasoning: str, action: Action) -> AgentTurn:
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

    def decide(self, ctx: DecisionContext) -> AgentTurn: ...


class ScriptedPolicy:
    """Wrap a scripted agent as an eval ``Policy`` (async, stateless across episodes).

    Each call replays the episode's earlier actions (from ``state.history``) in a private
    DebugEnv to rebuild the working model, then decides on a worker thread.
    """

    def __init__(self, agent: ScriptedAgent, *, layout: str = "legacy", whatif: bool = False) -> None:
        self.agent = agent
        self.name = agent.name
        self.layout = layout
        self.whatif = whatif

    def config(self) -> dict[str, Any]:
        return self.agent.config()

    async def act(
        self, obs: str, state: ObservationState, history: list[dict[str, str]], *, problem: Problem
    ) -> str:
        return (await asyncio.to_thread(self.turn, obs, state, problem)).raw_output

    def turn(self, obs: str, state: ObservationState, problem: Problem) -> AgentTurn:
        from ordebug.episode import DebugEnv  # local: keeps importing agents light

        shadow = DebugEnv(max_steps=len(state.history) + 1, layout=self.layout)
        shadow.reset(problem)
        done: list[str] = []
        for entry in state.history:
            if entry.valid:
                action = parse_action(entry.action)
                if action.changes_model:
                    shadow.step(action)
                done.append(str(action))
        ctx = DecisionContext(
            observation=obs,
            state=state,
            problem=problem,
            step=len(state.history) + 1,
            layout=self.layout,
            current_model=shadow.current_model,
            history=done,
            whatif=self.whatif,
        )
        return self.agent.decide(ctx)
