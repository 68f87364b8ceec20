"""Play one episode with an agent and record it as a Trajectory (ordebug.trajectory).

``EpisodeRecorder`` turns DebugEnv steps into trajectory Steps; ``play_scripted`` runs a whole
scripted episode on the calling thread (teacher episodes are played by
collectors.episode_hosts, which drives the same recorder in a worker process).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.agents.base import AgentTurn, DecisionContext, ScriptedAgent
from ordebug import solver
from ordebug.episode import DebugEnv
from ordebug.metrics import episode_metrics
from ordebug.problems import Problem
from ordebug.trajectory import EnvInfo, Outcome, Step, Trajectory, Usage


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


#: Why a problem is skipped: its model is already OPTIMAL at reset, so there is nothing to debug.
FEASIBLE_AT_RESET = "feasible_at_reset"


class FeasibleAtReset(Exception):
    """The problem's model solves to OPTIMAL before any action: not a debugging problem."""


@dataclass(frozen=True)
class Skipped:
    """A selected problem that is not played (and so never written to the trajectory file)."""

    problem_id: str
    reason: str


class EpisodeRecorder:
    """Accumulates steps of one episode and turns them into a Trajectory."""

    def __init__(self, env: DebugEnv, problem: Problem, agent: str, agent_config: dict[str, Any]) -> None:
        self.env = env
        self.problem = problem
        self.agent = agent
        self.agent_config = agent_config
        self.steps: list[Step] = []
        self.usage = Usage()
        self.started_at = _now()
        self.history: list[str] = []

    def start(self) -> tuple[str, dict[str, Any]]:
        """Reset the environment; FeasibleAtReset when the model needs no repair at all."""
        obs, info = self.env.reset(self.problem)
        if info["state"].status == "OPTIMAL":
            raise FeasibleAtReset(self.problem.problem_id)
        return obs, info

    def apply(
        self, observation: str, info: dict[str, Any], turn: AgentTurn
    ) -> tuple[str, dict[str, Any], bool]:
        """Step the environment with the turn's action (or its raw text when none parsed)."""
        step_input = turn.action if turn.action is not None else turn.raw_output
        obs, _reward, terminated, truncated, new_info = self.env.step(step_input)
        parse_error = turn.parse_error
        if not new_info["valid"]:
            parse_error = parse_error or new_info["error"]
        elif new_info["action"] is not None:
            self.history.append(new_info["action"])
        self.steps.append(
            Step(
                index=len(self.steps) + 1,
                observation=observation,
                state=info["state"].model_dump(mode="json"),
                raw_output=turn.raw_output,
                reasoning=turn.reasoning,
                action=new_info["action"] if new_info["valid"] else None,
                parse_error=parse_error,
                result=new_info["result"],
                status=new_info["status"],
                usage=turn.usage,
            )
        )
        if turn.usage is not None:
            _add_usage(self.usage, turn.usage)
        return obs, new_info, terminated or truncated

    def finish(self, *, error: str | None = None, gave_up: bool = False) -> Trajectory:
        record = self.env.record()
        if error is not None:
            by = "error"
        elif record.submitted:
            by = "submit"
        elif record.truncated:
            by = "step_limit"
        else:
            by = "agent_gave_up" if gave_up else "error"
        return Trajectory(
            problem_id=self.problem.problem_id,
            problem=self.problem.meta(),
            agent=self.agent,
            agent_config=self.agent_config,
            layout=self.env.layout,
            env=EnvInfo(layout=self.env.layout, whatif=self.env.whatif),
            steps=self.steps,
            outcome=Outcome(
                success=record.success and error is None,
                final_status=record.final_status,
                objective=record.objective,
                steps=len(self.steps),
                terminated_by=by,
                diagnosis=record.blamed,
                changes=record.changes,
                error=error,
            ),
            usage=self.usage,
            metrics=episode_metrics(record, self.problem),
            started_at=self.started_at,
            finished_at=_now(),
        )


def error_trajectory(
    problem: Problem, agent: str, agent_config: dict[str, Any], layout: str, error: str
) -> Trajectory:
    """A recorded failure for a problem that could not even be played (unreadable, too large…)."""
    now = _now()
    return Trajectory(
        problem_id=problem.problem_id,
        problem=problem.meta(),
        agent=agent,
        agent_config=agent_config,
        layout=layout,
        outcome=Outcome(success=False, final_status="NOT_LOADED", terminated_by="error", error=error),
        started_at=now,
        finished_at=now,
    )


def _add_usage(total: Usage, part: Usage) -> None:
    total.prompt_tokens += part.prompt_tokens
    total.completion_tokens += part.completion_tokens
    total.reasoning_tokens += part.reasoning_tokens
    total.cost_usd += part.cost_usd
    total.calls += part.calls
    total.retries += part.retries


def play_scripted(
    agent: ScriptedAgent,
    problem: Problem,
    *,
    max_steps: int,
    layout: str,
    agent_name: str | None = None,
    whatif: bool = False,
) -> Trajectory | Skipped:
    """One whole episode of a scripted agent (blocking; runs on the calling thread's Gurobi env)."""
    env = DebugEnv(max_steps=max_steps, layout=layout, env=solver.gurobi_env(), whatif=whatif)
    rec = EpisodeRecorder(env, problem, agent_name or agent.name, agent.config())
    try:
        obs, info = rec.start()
    except FeasibleAtReset:
        return Skipped(problem.problem_id, FEASIBLE_AT_RESET)
    done = False
    while not done:
        ctx = DecisionContext(
            observation=obs,
            state=info["state"],
            problem=problem,
            step=len(rec.steps) + 1,
            layout=layout,
            current_model=env.current_model,
            history=list(rec.history),
            whatif=whatif,
        )
        turn = agent.decide(ctx)
        obs, info, done = rec.apply(obs, info, turn)
    return rec.finish()


class TeacherError(Exception):
    """An LLM call failed for good; ends the episode as a recorded failure."""
