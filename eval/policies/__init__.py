"""Policies the harness can play: scripted baselines, an OpenAI-compatible endpoint, a trained run."""

from __future__ import annotations

from eval.policies.base import Policy, close_policy
from eval.policies.scripted import AGENTS, ScriptedAgentPolicy, scripted_policy

#: Scripted baselines by name.
BASELINES: tuple[str, ...] = tuple(AGENTS)
#: Every --policy value.
POLICY_NAMES = (*BASELINES, "openai", "predictions")


def make_baseline(name: str, *, layout: str, whatif: bool = False) -> ScriptedAgentPolicy:
    """A scripted baseline policy by name (drop_first, heuristic, oracle)."""
    return scripted_policy(name, layout=layout, whatif=whatif)


__all__ = ["BASELINES", "POLICY_NAMES", "Policy", "ScriptedAgentPolicy", "close_policy", "make_baseline"]
