"""Agents that play OR-Debug episodes: scripted (heuristic, oracle, drop_first) and the LLM teacher."""

from __future__ import annotations

from play.agents.base import AgentTurn, DecisionContext, ScriptedAgent, ScriptedPolicy
from play.agents.drop_first import DropFirstAgent
from play.agents.heuristic import HeuristicAgent
from play.agents.oracle import OracleAgent

#: Scripted agents by CLI name (the teacher needs an endpoint and is built by the runner).
SCRIPTED: dict[str, type] = {"heuristic": HeuristicAgent, "oracle": OracleAgent, "drop_first": DropFirstAgent}
AGENT_NAMES: tuple[str, ...] = ("heuristic", "oracle", "teacher", "drop_first")

__all__ = [
    "AGENT_NAMES",
    "SCRIPTED",
    "AgentTurn",
    "DecisionContext",
    "DropFirstAgent",
    "HeuristicAgent",
    "OracleAgent",
    "ScriptedAgent",
    "ScriptedPolicy",
]
