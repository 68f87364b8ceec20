"""A played episode as the collectors' trajectory line (ordebug.trajectory), or why none is written.

The playing is ``play``'s (one runner, one step record); this module only turns its
``PlayedEpisode`` into the trajectory contract, and records a problem that could not be played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ordebug.metrics import episode_metrics
from ordebug.problems import Problem
from ordebug.trajectory import EnvInfo, Outcome, Trajectory
from play.episode import now
from play.errors import FEASIBLE_AT_RESET, FeasibleAtReset
from play.record import PlayedEpisode

__all__ = ["FEASIBLE_AT_RESET", "FeasibleAtReset", "Skipped", "error_trajectory", "to_trajectory"]


@dataclass(frozen=True)
class Skipped:
    """A selected problem that is not played (and so never written to the trajectory file)."""

    problem_id: str
    reason: str


def to_trajectory(
    played: PlayedEpisode, agent: str, agent_config: dict[str, Any], layout: str, *, whatif: bool = False
) -> Trajectory | Skipped:
    """The trajectory line of a played episode (an error line when it could not be played)."""
    if played.skipped is not None:
        return Skipped(played.problem.problem_id, played.skipped)
    record = played.record
    if record is None:
        return error_trajectory(played.problem, agent, agent_config, layout, played.error or "not played")
    by = played.terminated_by
    return Trajectory(
        problem_id=played.problem.problem_id,
        problem=played.problem.meta(),
        agent=agent,
        agent_config=agent_config,
        layout=layout,
        env=EnvInfo(layout=layout, whatif=whatif),
        steps=[s.trajectory_step() for s in played.steps],
        outcome=Outcome(
            success=record.success and played.error is None,
            final_status=record.final_status,
            objective=record.objective,
            steps=len(played.steps),
            terminated_by="error" if by == "terminated" else by,  # type: ignore[arg-type]
            diagnosis=record.blamed,
            changes=record.changes,
            error=played.error,
        ),
        usage=played.usage,
        metrics=episode_metrics(record, played.problem),
        started_at=played.started_at,
        finished_at=played.finished_at,
    )


def error_trajectory(
    problem: Problem, agent: str, agent_config: dict[str, Any], layout: str, error: str
) -> Trajectory:
    """A recorded failure for a problem that could not even be played (unreadable, too large…)."""
    stamp = now()
    return Trajectory(
        problem_id=problem.problem_id,
        problem=problem.meta(),
        agent=agent,
        agent_config=agent_config,
        layout=layout,
        outcome=Outcome(success=False, final_status="NOT_LOADED", terminated_by="error", error=error),
        started_at=stamp,
        finished_at=stamp,
    )
