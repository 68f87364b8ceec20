"""The episode core: one DebugEnv, the turns applied to it, the steps recorded.

``Episode`` is synchronous and lives where its Gurobi environment lives (a worker thread, or a
collector's episode host process); ``play.runner`` drives it. ``PlaySettings`` is the one place
the options of an episode reach ``DebugEnv``: collectors and eval both build their environment
through ``PlaySettings.make_env``, so an option added there (a layout, an offered action) is
played the same way in collection and evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gurobipy as gp

from ordebug.actions import Action
from ordebug.episode import DebugEnv
from ordebug.problems import Problem
from ordebug.trajectory import Usage
from play.answers import ParseMode, read_answer
from play.errors import FeasibleAtReset
from play.policy import DecisionContext, ScriptedPolicy
from play.record import PlayedEpisode, PlayedStep, finite


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PlaySettings:
    """How episodes are played; the same for a collector and for eval on the same data."""

    max_steps: int = 20
    layout: str = "legacy"
    whatif: bool = False  # offer the what-if actions WHATIF_* (rich layout only; as the training data did)
    parse: ParseMode = "lenient"  # how the played action is read from a text answer
    time_limit: float | None = None  # seconds per Gurobi solve
    merge_reasoning: bool = False  # record a server-split reasoning inside the answer text (eval)
    max_invalid_in_a_row: int | None = None  # end as agent_gave_up after this many answers without an action

    def make_env(self, genv: gp.Env | None = None) -> DebugEnv:
        """The episode's environment: every DebugEnv option a played episode uses is set here."""
        return DebugEnv(
            max_steps=self.max_steps, layout=self.layout, env=genv, time_limit=self.time_limit, whatif=self.whatif
        )


@dataclass(frozen=True)
class StepReply:
    """What the loop needs back after a step (small: it may cross a process boundary)."""

    observation: str
    state: Any  # ObservationState, or None from a host process
    done: bool
    valid: bool


class Episode:
    """One episode of one problem: reset, apply answers, finish into a PlayedEpisode."""

    def __init__(self, problem: Problem, settings: PlaySettings, genv: gp.Env | None = None) -> None:
        self.problem = problem
        self.settings = settings
        self.env = settings.make_env(genv)
        self.steps: list[PlayedStep] = []
        self.history: list[str] = []  # canonical text of valid actions (DecisionContext.history)
        self.started_at = now()
        self.obs = ""
        self.info: dict[str, Any] = {}

    def start(self) -> tuple[str, Any]:
        """Reset the environment; FeasibleAtReset when the model needs no repair at all."""
        self.obs, self.info = self.env.reset(self.problem)
        if self.info["state"].status == "OPTIMAL":
            raise FeasibleAtReset(self.problem.problem_id)
        return self.obs, self.info["state"]

    def context(self) -> DecisionContext:
        return DecisionContext(
            observation=self.obs,
            state=self.info["state"],
            problem=self.problem,
            step=len(self.steps) + 1,
            layout=self.settings.layout,
            current_model=self.env.current_model,
            history=list(self.history),
            whatif=self.settings.whatif,
        )

    def decide(self, policy: ScriptedPolicy) -> Any:
        """A scripted decision, on the thread that owns the episode (it may solve the working model)."""
        return policy.decide(self.context())

    def step(self, answer: Any, latency_s: float = 0.0) -> StepReply:
        """Read the answer, step the environment with its action (or its text when none parsed)."""
        s = self.settings
        turn = read_answer(answer, parse=s.parse, merge=s.merge_reasoning)
        step_input: Action | str
        if turn.action is not None:
            step_input = turn.action
        elif s.parse == "lenient":
            step_input = turn.raw_output  # the environment counts an invalid step, as ever
        else:  # a marker, so the environment cannot parse leniently what strict refused
            step_input = f"<not a strict answer: {turn.parse_error}>"
        calls_before = self.info["solver_calls"]
        obs, _reward, terminated, truncated, info = self.env.step(step_input)
        valid = bool(info["valid"])
        if valid and info["action"] is not None:
            self.history.append(info["action"])
        self.steps.append(
            PlayedStep(
                index=len(self.steps) + 1,
                observation=self.obs,
                state=self.info["state"].model_dump(mode="json"),
                raw_output=turn.raw_output,
                reasoning=turn.reasoning,
                parsed=str(turn.action) if turn.action is not None else None,
                parse_error=turn.parse_error,
                valid=valid,
                action=info["action"] if valid else None,
                env_error=info["error"],
                result=info["result"],
                status=info["status"],
                objective=finite(info["objective"]),
                solver_calls=info["solver_calls"] - calls_before,
                latency_s=round(latency_s, 6),
                usage=turn.usage,
            )
        )
        self.obs, self.info = obs, info
        return StepReply(obs, info["state"], bool(terminated or truncated), valid)

    def finish(self, *, error: str | None = None, gave_up: bool = False) -> PlayedEpisode:
        """The finished episode (plain Python state: no solver call)."""
        usage = _sum_usage(self.steps)
        return PlayedEpisode(
            problem=self.problem,
            record=self.env.record(),
            steps=self.steps,
            error=error,
            gave_up=gave_up,
            usage=usage,
            started_at=self.started_at,
            finished_at=now(),
        )


def _sum_usage(steps: list[PlayedStep]) -> Usage:
    total = Usage()
    for step in steps:
        part = step.usage
        if part is None:
            continue
        total.prompt_tokens += part.prompt_tokens
        total.completion_tokens += part.completion_tokens
        total.reasoning_tokens += part.reasoning_tokens
        total.cost_usd += part.cost_usd
        total.calls += part.calls
        total.retries += part.retries
    return total
