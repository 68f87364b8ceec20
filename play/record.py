"""The one step record of a played episode, and the one finished episode.

``PlayedStep`` holds everything either half needs about one turn. The two on-disk shapes take
their fields from it (``shared_with``) and stay as they were: the trajectory JSONL
``ordebug.trajectory.Step`` (``trajectory_step()``; the action the environment accepted, a parse
error that falls back to the environment's reason) and eval's results.json ``eval.schema.ScoredStep``
(``eval.episodes.scored_step()``: the parsed action, plus its format score). ``PlayedEpisode`` is
the episode for both halves; eval holds it with its scored steps (``PlayedEpisode[ScoredStep]``).
The environment's own per-step record (``ordebug.episode.StepRecord``, inside ``record``) is the
world's account that the metrics read; a played step adds what the policy saw and said.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ordebug.episode import EpisodeRecord
from ordebug.problems import Problem
from ordebug.trajectory import Step, Usage


@dataclass
class PlayedStep:
    """One turn: what the policy saw and said, what was parsed, what the environment did."""

    index: int  # 1-based
    observation: str  # the rendered observation the policy answered
    state: dict[str, Any]  # ObservationState.model_dump(mode="json") of that observation
    raw_output: str  # the answer, verbatim
    reasoning: str  # the reasoning kept for training (no <think> tags)
    parsed: str | None  # canonical text of the action read from the answer, if any
    parse_error: str | None  # why no action could be read
    valid: bool  # the environment accepted it (DebugEnv info['valid'])
    action: str | None  # canonical text of the action the environment applied (valid steps)
    env_error: str | None  # why the environment rejected it
    result: str
    status: str
    objective: float | None
    solver_calls: int
    latency_s: float  # seconds the policy took to answer
    usage: Usage | None = None

    def shared_with(self, shape: type[BaseModel]) -> dict[str, Any]:
        """The values of the fields an on-disk step shape has in common with this step, by name."""
        return {name: getattr(self, name) for name in shape.model_fields if name in self.__dataclass_fields__}

    def trajectory_step(self) -> Step:
        """The trajectory file's step (schema 1), exactly as collectors have always written it."""
        return Step(
            **self.shared_with(Step)
            | {
                "action": self.action if self.valid else None,
                "parse_error": self.parse_error if self.valid else (self.parse_error or self.env_error),
            }
        )


def finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


#: The step type an episode holds: ``PlayedStep`` as played, eval's ``ScoredStep`` once scored.
StepT = TypeVar("StepT")


@dataclass
class PlayedEpisode(Generic[StepT]):
    """One finished (or failed, or skipped) episode: the environment's record and our steps."""

    problem: Problem
    record: EpisodeRecord | None
    steps: list[StepT] = field(default_factory=list)
    error: str | None = None  # an infrastructure failure that ended it
    gave_up: bool = False  # the policy kept answering without a valid action
    skipped: str | None = None  # why it was not played (FEASIBLE_AT_RESET); never scored or written
    usage: Usage = field(default_factory=Usage)
    started_at: str = ""
    finished_at: str = ""

    @property
    def terminated_by(self) -> str:
        """submit | step_limit | agent_gave_up | terminated | error | skipped."""
        if self.skipped is not None:
            return "skipped"
        record = self.record
        if self.error is not None or record is None:
            return "error"
        if record.submitted:
            return "submit"
        if record.truncated:
            return "step_limit"
        return "agent_gave_up" if self.gave_up else "terminated"
