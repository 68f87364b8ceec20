"""Scripted baselines: the collectors' drop-first-IIS, heuristic and oracle agents as policies.

One definition of each baseline (collectors/agents/): the same agent that writes training
trajectories is the one eval compares against. ``drop_first`` is the user's legacy teacher
(drop the first IIS constraint until OPTIMAL, then SUBMIT).

The adapter gives an agent the episode's working model only when it asks for it
(``DecisionContext.current_model``): the model is then rebuilt by replaying the episode's
valid changes in a private DebugEnv, so drop_first (which never asks) costs nothing.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import gurobipy as gp

from eval.errors import EvalConfigError
from ordebug.actions import parse_action
from ordebug.observation import ObservationState
from ordebug.problems import Problem

#: Baselines by policy name -> (module, class) of the collectors' scripted agent.
AGENTS: dict[str, tuple[str, str]] = {
    "drop_first": ("collectors.agents.drop_first", "DropFirstAgent"),
    "heuristic": ("collectors.agents.heuristic", "HeuristicAgent"),
    "oracle": ("collectors.agents.oracle", "OracleAgent"),
}


def replay_model(problem: Problem, state: ObservationState, layout: str) -> gp.Model:
    """The working model of an episode in ``state``: its valid model-changing actions replayed."""
    from ordebug.episode import DebugEnv

    env = DebugEnv(max_steps=len(state.history) + 1, layout=layout)
    env.reset(problem)
    for entry in state.history:
        if entry.valid:
            action = parse_action(entry.action)
            if action.changes_model:
                env.step(action)
    return env.current_model()


class ScriptedAgentPolicy:
    """A collectors ``ScriptedAgent`` (sync ``decide(ctx)``) as an eval Policy."""

    def __init__(self, agent: Any, *, layout: str = "legacy", whatif: bool = False) -> None:
        self.agent = agent
        self.name = str(agent.name)
        self.layout = layout
        self.whatif = whatif

    def config(self) -> dict[str, Any]:
        return {
            "kind": "scripted",
            "agent": f"{type(self.agent).__module__}.{type(self.agent).__name__}",
            **self.agent.config(),
        }

    def decide(self, obs: str, state: ObservationState, problem: Problem) -> str:
        from collectors.agents.base import DecisionContext

        done = [str(parse_action(h.action)) for h in state.history if h.valid]
        ctx = DecisionContext(
            observation=obs,
            state=state,
            problem=problem,
            step=len(state.history) + 1,
            layout=self.layout,
            current_model=lambda: replay_model(problem, state, self.layout),
            history=done,
            whatif=self.whatif,
        )
        return self.agent.decide(ctx).raw_output

    async def act(
        self, obs: str, state: ObservationState, history: list[dict[str, str]], *, problem: Problem
    ) -> str:
        # a worker thread: agents may solve models (Gurobi), and each thread has its own Env
        return await asyncio.to_thread(self.decide, obs, state, problem)


def scripted_policy(name: str, *, layout: str, whatif: bool = False) -> ScriptedAgentPolicy:
    """The baseline ``name`` (drop_first, heuristic, oracle) as a policy."""
    if name not in AGENTS:
        raise EvalConfigError(f"unknown baseline {name!r}", fix=f"use one of {', '.join(AGENTS)}")
    module_name, cls_name = AGENTS[name]
    try:
        agent_cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise EvalConfigError(
            f"the {name} baseline needs {module_name}.{cls_name} ({exc})", fix="update the collectors package"
        ) from None
    return ScriptedAgentPolicy(agent_cls(), layout=layout, whatif=whatif)
