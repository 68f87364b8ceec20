"""Scripted baselines: the drop-first-IIS, heuristic and oracle agents (play/agents/) as policies.

One definition of each baseline (play/agents/): the same agent that writes training
trajectories is the one eval compares against. ``drop_first`` is OR-Debug-Bench's legacy teacher
(drop the first IIS constraint until OPTIMAL, then SUBMIT).

The adapter is ``play.policy.ScriptedPolicy``: the runner calls the agent on the thread that owns
the episode, with the episode's working model at hand (``DecisionContext.current_model``).
"""

from __future__ import annotations

from typing import Any

from eval.errors import EvalConfigError
from play.agents import SCRIPTED
from play.policy import ScriptedPolicy

#: Baselines by policy name: the scripted agents, in the order reports list them.
AGENTS: dict[str, type] = {name: SCRIPTED[name] for name in ("drop_first", "heuristic", "oracle")}


class ScriptedAgentPolicy(ScriptedPolicy):
    """``play.policy.ScriptedPolicy`` with the agent's class recorded in results.json."""

    def config(self) -> dict[str, Any]:
        return {
            "kind": "scripted",
            "agent": f"{type(self.agent).__module__}.{type(self.agent).__name__}",
            **self.agent.config(),
        }


def scripted_policy(name: str, *, layout: str, whatif: bool = False) -> ScriptedAgentPolicy:
    """The baseline ``name`` (drop_first, heuristic, oracle) as a policy."""
    if name not in AGENTS:
        raise EvalConfigError(f"unknown baseline {name!r}", fix=f"use one of {', '.join(AGENTS)}")
    return ScriptedAgentPolicy(AGENTS[name](), layout=layout, whatif=whatif)
