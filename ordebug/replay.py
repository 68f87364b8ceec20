"""Minimal-repair actions for a problem, optionally continuing an agent's partial episode.

Lives apart from ``ordebug.oracle`` because replaying a history needs the episode
(``ordebug.episode``), which itself uses the oracle for its diagnostics: keeping the replay here
keeps the imports one-way (episode -> diagnostics -> oracle; replay -> episode, oracle).
"""

from __future__ import annotations

import os

import gurobipy as gp

from ordebug import solver
from ordebug.actions import Action, ActionName, parse_action
from ordebug.episode import DebugEnv
from ordebug.observation import ObservationState
from ordebug.oracle import as_model, minimal_repair
from ordebug.problems import Problem


def repair_actions(
    problem: Problem | gp.Model | str | os.PathLike,
    state: ObservationState | None = None,
    *,
    submit: bool = True,
    include_bounds: bool = False,
) -> list[Action]:
    """Actions that repair ``problem`` minimally, ending with SUBMIT() unless ``submit=False``.

    With ``state`` (an ObservationState of an episode on ``problem``) the valid model-changing
    actions of its history are replayed first (in a DebugEnv, so semantics are identical) and
    the repair is computed for the model as the agent left it.
    """
    model = as_model(problem, None) if state is None or not state.history else replay(problem, state)
    repair = minimal_repair(model, include_bounds=include_bounds)
    actions = repair.actions()
    if submit:
        actions.append(Action(name=ActionName.SUBMIT))
    return actions


def replay(problem: Problem, state: ObservationState) -> gp.Model:
    """The working model after the valid model-changing actions of ``state``'s history."""
    if not isinstance(problem, Problem):
        raise TypeError("repair_actions(problem, state) needs a Problem to replay the history on")
    env = DebugEnv(max_steps=len(state.history) + 1, env=solver.gurobi_env(), diagnostics=False)  # this thread
    env.reset(problem)
    for entry in state.history:
        if not entry.valid:
            continue
        action = parse_action(entry.action)
        if action.changes_model:
            env.step(action)
    return env.current_model()
