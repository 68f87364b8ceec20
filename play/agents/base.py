"""What every agent returns and the context a scripted agent decides in: ``play.policy``.

Scripted agents (heuristic, oracle, drop_first) are synchronous: ``decide(ctx)`` runs on the
thread that owns the episode's Gurobi environment (``play.runner``). ``ScriptedPolicy`` makes one
a policy for any caller (eval's baselines, tests).
"""

from __future__ import annotations

from play.policy import DecisionContext, ScriptedAgent, ScriptedPolicy, Turn

#: The name the agents have always used for ``play.policy.Turn``.
AgentTurn = Turn

__all__ = ["AgentTurn", "DecisionContext", "ScriptedAgent", "ScriptedPolicy"]
