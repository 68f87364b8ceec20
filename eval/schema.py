"""The documented schema of ``results.json`` (one file per evaluation).

Every key carries a description (``Results.model_json_schema()`` prints them all), in the
spirit of lm-evaluation-harness' result schema: the headline ``summary``, how each metric is
defined, breakdowns, every episode and step with the raw model output, and what is needed
to reproduce the numbers (resolved config, versions, seeds, git hash, date, sample counts).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Metric names that changed: an older results.json is read under the current name (the old key is
#: renamed, or dropped where the file already carries the new one).
RENAMED_METRICS = {"invalid_rate": "invalid_action_rate"}


def _current_names(values: Any) -> Any:
    """A metric-keyed mapping with old names moved to the current ones (see RENAMED_METRICS)."""
    if not isinstance(values, dict) or not RENAMED_METRICS.keys() & values.keys():
        return values
    out = {k: v for k, v in values.items() if k not in RENAMED_METRICS}
    for old, new in RENAMED_METRICS.items():
        if old in values and new not in out:
            out[new] = values[old]
    return out


#: Bump on any incompatible change; readers (eval.report) refuse versions they do not know.
RESULTS_SCHEMA_VERSION = 1

Mode = Literal["episodes", "predictions", "tool_calls"]
Number = float | int | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepFormat(_Model):
    """Format compliance of one model answer (eval.format_metrics)."""

    think_present: bool = Field(description="the answer contains a <think> tag")
    think_balanced: bool = Field(description="exactly one <think> and one </think>, the opening tag first")
    think_nonempty: bool = Field(description="balanced and the text between the tags is not blank")
    think_ok: bool = Field(
        description="present, balanced, non-empty and nothing but whitespace before <think> "
        "(ordebug.answer.parse_answer think_ok)"
    )
    n_actions: int = Field(
        description="number of parseable actions outside the <think> block (lenient parse)"
    )
    action_strict: bool = Field(
        description="ordebug.answer.parse_answer(lenient=False) found exactly one action after a "
        "balanced, non-empty <think> block"
    )
    action_lenient: bool = Field(description="parse_answer(lenient=True) found an action anywhere")
    one_action: bool = Field(
        description="exactly one parseable action outside the <think> block (lenient parse)"
    )
    args_valid: bool | None = Field(
        description="the (lenient) action's names exist in the problem's model (constraints for "
        "constraint actions, variables for UPDATE_BOUNDS) and its amounts are finite; "
        "None when there is no action or the names cannot be checked"
    )
    format_ok: bool = Field(description="think_ok and action_strict and args_valid is not False")
    error: str | None = Field(None, description="first reason the answer is not format_ok")


class ScoredStep(_Model):
    """One turn of an episode as results.json stores it: the played step (``play.record.PlayedStep``)
    with the parsed action and its format score."""

    index: int = Field(description="1-based step number")
    observation: str = Field(description="observation text shown to the policy (config.layout)")
    raw_output: str = Field(description="the policy's full answer, verbatim")
    action: str | None = Field(description="canonical text of the action played (parse mode config.parse)")
    parse_error: str | None = Field(description="why no action could be parsed, if none could")
    valid: bool = Field(description="the environment accepted the action (DebugEnv info['valid'])")
    env_error: str | None = Field(description="why the environment rejected it (info['error'])")
    result: str = Field(description="what the environment reported back (info['result'])")
    status: str = Field(description="solver status after the step, e.g. INFEASIBLE, OPTIMAL")
    objective: float | None = Field(description="objective after the step when a solution exists")
    solver_calls: int = Field(description="solver calls the step cost (info['solver_calls'])")
    latency_s: float = Field(description="seconds the policy took to answer")
    format: StepFormat = Field(description="format compliance of raw_output")


class EpisodeResult(_Model):
    """One policy attempt on one problem."""

    problem_id: str = Field(description="problem id (dataset.json problem_id or the model file stem)")
    error_type: str | None = Field(description="injected error type A–I, None for raw models")
    difficulty: str | None = Field(description="easy / medium / hard by IIS size")
    problem_type: str | None = Field(description="lp or mip")
    source: str = Field(description="where the problem was loaded from")
    terminated_by: Literal["submit", "terminated", "step_limit", "error"] = Field(
        description="submit: the policy submitted; terminated: the environment ended the episode "
        "otherwise; step_limit: config.max_steps reached; error: the policy or harness failed "
        "(see error) — counted as not recovered"
    )
    final_status: str = Field(description="solver status when the episode ended")
    objective: float | None = Field(description="final objective value, when a solution exists")
    n_steps: int = Field(description="steps taken")
    metrics: dict[str, Number] = Field(
        description="episode metrics by registry name (ordebug.metrics.episode_metrics) plus "
        "repair-cost fields; None where a metric is undefined for this episode"
    )
    _names = field_validator("metrics", mode="before")(_current_names)

    oracle: dict[str, Any] | None = Field(
        None, description="the oracle's minimal repair (ordebug.oracle.minimal_repair) for this problem"
    )
    steps: list[ScoredStep] = Field(description="every step, in order, raw output included")
    error: str | None = Field(None, description="infrastructure error that ended the episode, if any")


class MetricInfo(_Model):
    """How one metric is defined and aggregated."""

    description: str = Field(description="what the metric measures")
    higher_is_better: bool = Field(description="direction")
    aggregation: str = Field(description="how per-episode (or per-step) values become the summary value")
    level: Literal["episode", "step", "row"] = Field(description="unit the metric is computed on")


class GroupSummary(_Model):
    """Summary of a subset of episodes (one error type, one difficulty, one baseline)."""

    summary: dict[str, Number] = Field(description="metric name -> aggregated value (as Results.summary)")
    ci: dict[str, list[float] | None] = Field(
        description="metric name -> [low, high] bootstrap 95% interval (None when undefined)"
    )
    _names = field_validator("summary", "ci", mode="before")(_current_names)


class PredictionRow(_Model):
    """One scored row of a predictions file (offline format scoring)."""

    line: int = Field(description="1-based line in the predictions file")
    problem_id: str | None = Field(description="problem id from the row or its observation, if known")
    raw_output: str = Field(description="the model's answer as read from the file")
    action: str | None = Field(description="canonical action (lenient parse), if any")
    label_action: str | None = Field(description="canonical action of the row's reference answer, if any")
    action_match: bool | None = Field(description="action == label_action (None without a label)")
    names_source: Literal["model", "observation", "none"] = Field(
        description="where names were checked against: the problem's model file, the names listed "
        "in the observation text, or not checked"
    )
    format: StepFormat = Field(description="format compliance of raw_output")


class ToolCallRow(_Model):
    """One scored tool call (tool-call trace datasets)."""

    line: int = Field(description="1-based line in the tool-call file")
    raw_output: str = Field(description="the model's tool-call text as read from the file")
    valid: bool = Field(description="converters.tool_traces.schema.validate_call accepted the call")
    stage: str | None = Field(
        description="reason code of the first failed check (converters.tool_traces.schema.REASON_CODES: "
        "malformed_json, not_object, not_tool_call, unknown_tool, missing_arg, wrong_type, unexpected_arg); "
        "None when valid"
    )
    error: str | None = Field(description="why the call is invalid")
    tool: str | None = Field(description="tool name, when the call parsed")


class Samples(_Model):
    """Sample counts: what was asked for and what was actually scored."""

    original: int = Field(description="problems (or rows) found before --limit / filtering")
    effective: int = Field(description="episodes (or rows) scored")
    steps: int = Field(description="steps scored across all episodes (0 for predictions / tool calls)")
    errors: int = Field(description="episodes that ended with an infrastructure error")
    skipped: int = Field(
        0, description="problems not scored because they need no repair (see Results.skipped)"
    )


class SkippedProblem(_Model):
    """A problem that was not played or scored: it is no debugging problem."""

    problem_id: str = Field(description="problem id")
    source: str = Field(description="where the problem was loaded from")
    reason: str = Field(description="feasible_at_reset: the model is already OPTIMAL before any action")


class Results(_Model):
    """The whole results.json."""

    schema_version: int = Field(RESULTS_SCHEMA_VERSION, description="version of this schema")
    mode: Mode = Field(
        description="episodes: a policy played problems in Gurobi; predictions: a predictions file "
        "was scored offline; tool_calls: tool-call predictions were validated"
    )
    policy: str = Field(description="policy name, e.g. run:qwen3_lora_sft, drop_first, openai:gpt-4o")
    summary: dict[str, Number] = Field(
        description="headline metrics: rr@5, rr@10, rr@20, da_iis, da_target, op, te, fp (episode means), "
        "format_ok, invalid_action_rate (step means), steps, n (episodes scored) and the rest of "
        "Results.metrics; None where a metric does not apply to this mode"
    )
    ci: dict[str, list[float] | None] = Field(
        description="metric name -> [low, high] bootstrap 95% confidence interval of the summary value"
    )
    metrics: dict[str, MetricInfo] = Field(
        description="definition, direction and aggregation of every metric"
    )
    _names = field_validator("summary", "ci", "metrics", mode="before")(_current_names)
    breakdown: dict[str, dict[str, GroupSummary]] = Field(
        description="'error_type' and 'difficulty' -> group value -> the group's summary"
    )
    baselines: dict[str, GroupSummary] = Field(
        default_factory=dict,
        description="scripted baselines played on the same problems with the same settings, by name",
    )
    baseline_breakdown: dict[str, dict[str, dict[str, GroupSummary]]] = Field(
        default_factory=dict, description="baseline name -> breakdown (same shape as breakdown)"
    )
    episodes: list[EpisodeResult] = Field(default_factory=list, description="every episode (mode=episodes)")
    skipped: list[SkippedProblem] = Field(
        default_factory=list,
        description="problems listed apart and kept out of every metric and count above (mode=episodes)",
    )
    predictions: list[PredictionRow] = Field(
        default_factory=list, description="scored rows (mode=predictions)"
    )
    tool_calls: list[ToolCallRow] = Field(default_factory=list, description="scored calls (mode=tool_calls)")
    config: dict[str, Any] = Field(
        description="fully resolved evaluation config: policy settings (sampling included, never "
        "API keys), problems, max_steps, layout, whatif (what-if actions offered), system prompt, concurrency, parse mode, and for a "
        "run its resolved recipe"
    )
    versions: dict[str, str | None] = Field(description="python and package versions")
    seeds: dict[str, int | None] = Field(description="bootstrap and sampling seeds")
    git: dict[str, str | bool | None] = Field(description="commit hash and whether the tree was dirty")
    date: str = Field(description="UTC time the evaluation finished, ISO 8601")
    duration_s: float = Field(
        description="wall-clock seconds of playing and scoring (model loading excluded)"
    )
    samples: Samples = Field(description="original and effective sample counts")
