"""The trajectory file contract: one JSON line per problem attempt.

Written by collectors (append-only JSONL, one complete line per finished attempt),
read by converters and eval. Bump ``SCHEMA_VERSION`` on any incompatible change;
readers refuse versions they do not know.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
KNOWN_SCHEMA_VERSIONS = frozenset({1})


class TrajectoryFormatError(ValueError):
    """A trajectory file line is not a valid trajectory (message names file and line)."""


class Usage(BaseModel):
    """Token usage and cost of one LLM call or a whole attempt (zeros for scripted agents)."""

    model_config = ConfigDict(extra="forbid")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    retries: int = 0


class Step(BaseModel):
    """One agent turn: what it saw, what it said, what the environment did."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(description="1-based step number within the attempt")
    observation: str = Field(description="rendered observation text the agent saw (Trajectory.layout)")
    state: dict[str, Any] = Field(
        default_factory=dict,
        description="structured observation (ordebug.observation.ObservationState.model_dump()) "
        "so converters can re-render it in another layout",
    )
    raw_output: str = Field(description="the agent's full text answer, verbatim")
    reasoning: str = Field("", description="the reasoning kept for training (no <think> tags)")
    action: str | None = Field(None, description="canonical action text, e.g. 'DROP_CONSTRAINT(c3)'")
    parse_error: str | None = Field(None, description="why raw_output held no valid action")
    result: str = Field("", description="what the environment reported after the action")
    status: str = Field("", description="solver status after the action, e.g. INFEASIBLE, OPTIMAL")
    usage: Usage | None = None


class Outcome(BaseModel):
    """How the attempt ended."""

    model_config = ConfigDict(extra="forbid")
    success: bool = Field(description="model recovered to OPTIMAL and was submitted (or ended OPTIMAL)")
    final_status: str
    objective: float | None = None
    steps: int = 0
    terminated_by: Literal["submit", "step_limit", "error", "budget", "agent_gave_up"] = "submit"
    diagnosis: list[str] = Field(default_factory=list, description="names the agent blamed/touched")
    changes: list[str] = Field(default_factory=list, description="canonical text of model-changing actions")
    error: str | None = Field(None, description="infrastructure error that ended the attempt, if any")


class EnvInfo(BaseModel):
    """How the episode was configured: what the agent was shown and offered."""

    model_config = ConfigDict(extra="forbid")
    layout: str = Field(description="observation layout (legacy | rich)")
    whatif: bool = Field(False, description="the what-if extension actions (WHATIF_*) were offered")


class Trajectory(BaseModel):
    """One attempt of one agent on one problem."""

    schema_version: int = Field(SCHEMA_VERSION, alias="schema")
    problem_id: str
    problem: dict[str, Any] = Field(
        default_factory=dict,
        description="problem metadata: error_type, difficulty, problem_type, target_name, "
        "original_objective, iis_constraints, iis_bounds, source",
    )
    agent: str = Field(description="agent name, e.g. heuristic, oracle, teacher:gpt-4o")
    agent_config: dict[str, Any] = Field(default_factory=dict, description="model, temperature, seed…")
    layout: str = "legacy"
    env: EnvInfo | None = Field(
        None, description="episode configuration, e.g. {'layout': 'rich', 'whatif': true}; absent in older files (no what-if)"
    )
    steps: list[Step] = Field(default_factory=list)
    outcome: Outcome
    usage: Usage = Field(default_factory=Usage)
    metrics: dict[str, float | None] = Field(
        default_factory=dict,
        description="ordebug.metrics.episode_metrics of this attempt (rr@k, op, fp, da_iis, da_target, te, …)",
    )
    started_at: str | None = None
    finished_at: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json_line(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), ensure_ascii=False) + "\n"


def parse_trajectory_line(line: str, *, path: str | os.PathLike = "<string>", lineno: int = 0) -> Trajectory:
    """Parse one JSONL line; raise TrajectoryFormatError naming file, line and the fix."""
    where = f"{path}:{lineno}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TrajectoryFormatError(f"{where}: not valid JSON ({exc.msg}); each line must be one trajectory") from None
    if not isinstance(raw, dict):
        raise TrajectoryFormatError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    version = raw.get("schema")
    if version not in KNOWN_SCHEMA_VERSIONS:
        raise TrajectoryFormatError(
            f"{where}: unknown trajectory schema {version!r}; this version reads "
            f"{sorted(KNOWN_SCHEMA_VERSIONS)} (re-collect, or upgrade ordebug-sft)"
        )
    try:
        return Trajectory.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise TrajectoryFormatError(f"{where}: field {key!r}: {first['msg']}") from None


def iter_trajectories(path: str | os.PathLike, *, skip_torn_tail: bool = True) -> Iterator[Trajectory]:
    """Read a trajectory JSONL file.

    A last line without its newline is a write torn by a crash: skipped when
    ``skip_torn_tail`` (collectors resume past it), an error otherwise.
    """
    path = Path(path)
    with path.open("r", encoding="utf-8") as fh:
        lines = fh.readlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if lineno == len(lines) and not line.endswith("\n") and skip_torn_tail:
            return
        yield parse_trajectory_line(line, path=path, lineno=lineno)


def append_trajectory(fh, trajectory: Trajectory) -> None:
    """Append one whole line to an open file and make it durable before returning."""
    fh.write(trajectory.to_json_line())
    fh.flush()
    os.fsync(fh.fileno())
