"""Scripted baselines: the collectors' drop-first-IIS, heuristic and oracle agents as policies.

One definition of each baseline (collectors/agents/): the same agent that writes training
trajectories is the one eval compares against. ``drop_first`` is the user's legacy teacher
(drop the first IIS constraint until OPTIMAL, then SUBMIT).

The adapter is ``play.policy.ScriptedPolicy``: the runner calls the agent on the thread that owns
the episode, with the episode's working model at hand (``DecisionContext.current_model``).
"""

from __future__ import annotations

import importlib
from typing import Any

from eval.errors import EvalConfigError
from play.policy import ScriptedPolicy

#: Baselines by policy name -> (module, class) of the collectors' scripted agent.
AGENTS: dict[str, tuple[str, str]] = {
    "drop_first": ("collectors.agents.drop_first", "DropFirstAgent"),
    "heuristic": ("collectors.agents.heuristic", "HeuristicAgent"),
    "oracle": ("collectors.agents.oracle", "OracleAgent"),
}


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
    module_name, cls_name = AGENTS[name]
    try:
        agent_cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise EvalConfigError(
            f"the {name} baseline needs {module_name}.{cls_name} ({exc})", fix="update the collectors package"
        ) from None
    return ScriptedAgentPolicy(agent_cls(), layout=layout, whatif=whatif)
