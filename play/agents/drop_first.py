"""The old teacher, kept as the baseline every agent must beat: drop the first IIS constraint."""

from __future__ import annotations

from typing import Any

from ordebug.actions import Action, ActionName
from play.agents.base import AgentTurn, DecisionContext


class DropFirstAgent:
    """SUBMIT when OPTIMAL; else DROP_CONSTRAINT(first IIS constraint); GET_IIS when none is shown."""

    name = "drop_first"

    def config(self) -> dict[str, Any]:
        return {"policy": "drop the first IIS constraint, then SUBMIT"}

    def decide(self, ctx: DecisionContext) -> AgentTurn:
        state = ctx.state
        if state.status == "OPTIMAL":
            return AgentTurn.scripted("The model is OPTIMAL, so I submit it.", Action(name=ActionName.SUBMIT))
        if state.iis_constraints:
            first = state.iis_constraints[0]
            reasoning = (
                f"The IIS contains {len(state.iis_constraints)} constraints.\n"
                f"Constraint '{first}' is identified as problematic.\n"
                "Dropping this constraint should resolve the conflict."
            )
            return AgentTurn.scripted(reasoning, Action(name=ActionName.DROP_CONSTRAINT, target=first))
        if state.status == "INFEASIBLE":
            return AgentTurn.scripted(
                "No IIS constraint is shown; compute the IIS.", Action(name=ActionName.GET_IIS)
            )
        return AgentTurn.scripted(
            f"The status is {state.status}; nothing to drop.", Action(name=ActionName.SUBMIT)
        )
