"""Offline scoring: a predictions file (format compliance) or tool-call predictions (validity).

Nothing is played in the solver here. Names in an action are checked against the problem's
model when ``--problems`` holds the row's problem, else against the constraint names the
row's observation lists, else not at all (``names_source`` says which).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.episodes import model_names
from eval.format_metrics import Names, score_answer
from eval.metric_registry import INVALID_PREFIX, STEP_RATES, info
from eval.prediction_files import PredictionLine, names_in_observation, read_predictions
from eval.provenance import git_state, versions
from eval.schema import GroupSummary, MetricInfo, PredictionRow, Results, Samples, ToolCallRow
from foundation.provenance import utc_now
from foundation.stats import mean_ci
from ordebug.answer import parse_answer
from ordebug.problems import Problem


def _rate(flags: Sequence[bool | None], seed: int) -> tuple[float | None, list[float] | None]:
    values = [bool(v) for v in flags if v is not None]
    if not values:
        return None, None
    return float(np.mean(values)), list(mean_ci(values, seed=seed))  # rows are independent: plain bootstrap


def score_prediction(
    line: PredictionLine, problems: dict[str, Problem], cache: dict[str, Names]
) -> PredictionRow:
    source = "none"
    names = Names()
    if line.problem_id and line.problem_id in problems:
        if line.problem_id not in cache:
            cache[line.problem_id] = model_names(problems[line.problem_id])
        names, source = cache[line.problem_id], "model"
    else:
        listed = names_in_observation(line.observation)
        if listed is not None:
            names, source = Names.of(listed, None), "observation"
    scored = score_answer(line.output, names)
    label_action = parse_answer(line.label, lenient=True).action if line.label else None
    action = scored.lenient
    return PredictionRow(
        line=line.line,
        problem_id=line.problem_id,
        raw_output=line.output,
        action=str(action) if action is not None else None,
        label_action=str(label_action) if label_action is not None else None,
        action_match=(action == label_action) if label_action is not None else None,
        names_source=source,  # type: ignore[arg-type]
        format=scored.format,
    )


def score_predictions(
    path: str | Path, problems: Sequence[Problem] = (), *, seed: int = 0
) -> tuple[list[PredictionRow], GroupSummary, int]:
    """Score every row; returns (rows, summary, rows read)."""
    lines = read_predictions(path)
    by_id = {p.problem_id: p for p in problems}
    cache: dict[str, Names] = {}
    rows = [score_prediction(line, by_id, cache) for line in lines]
    summary: dict[str, float | int | None] = {}
    ci: dict[str, list[float] | None] = {}
    for key in STEP_RATES:  # each is a StepFormat field
        summary[key], ci[key] = _rate([getattr(r.format, key) for r in rows], seed)
    summary["action_match"], ci["action_match"] = _rate([r.action_match for r in rows], seed)
    summary["n"] = len(rows)
    summary["n_labelled"] = sum(r.label_action is not None for r in rows)
    return rows, GroupSummary(summary=summary, ci=ci), len(lines)


def prediction_metric_infos() -> dict[str, MetricInfo]:
    infos = {k: info(k, "mean over rows where defined (CI: bootstrap over rows)", "row") for k in STEP_RATES}
    infos["action_match"] = info("action_match", "mean over labelled rows")
    infos["n"] = info("n", "count", "row", "rows scored")
    infos["n_labelled"] = info("n_labelled", "count")
    return infos


# ---------------------------------------------------------------------------------------------
# tool calls (docs/workloads.md)


def score_tool_calls(
    path: str | Path, tools_path: str | Path | None = None, *, seed: int = 0
) -> tuple[list[ToolCallRow], GroupSummary, int, dict[str, object]]:
    """Validate every predicted tool call with converters.tool_traces.schema.validate_call."""
    from converters.tool_traces.schema import load_tools, parse_call_text, reason_code, validate_call

    tools = load_tools(tools_path)
    lines = read_predictions(path)
    rows: list[ToolCallRow] = []
    matches: list[bool | None] = []
    for line in lines:
        ok, reason = validate_call(line.output, tools)
        obj, _ = parse_call_text(line.output)
        name = obj.get("name") if isinstance(obj, dict) and isinstance(obj.get("name"), str) else None
        rows.append(
            ToolCallRow(
                line=line.line,
                raw_output=line.output,
                valid=ok,
                stage=reason_code(reason) or None,
                error=reason or None,
                tool=name,
            )
        )
        if line.label is None:
            matches.append(None)
        else:
            ref, _ = parse_call_text(line.label)
            matches.append(
                isinstance(obj, dict)
                and isinstance(ref, dict)
                and obj.get("name") == ref.get("name")
                and obj.get("args") == ref.get("args")
            )
    summary: dict[str, float | int | None] = {}
    ci: dict[str, list[float] | None] = {}
    summary["tool_call_valid"], ci["tool_call_valid"] = _rate([r.valid for r in rows], seed)
    codes = Counter(r.stage for r in rows if r.stage)
    for code in _reason_codes():
        summary[f"{INVALID_PREFIX}{code}"] = codes.get(code, 0) / len(rows)
    summary["call_match"], ci["call_match"] = _rate(matches, seed)
    summary["n"] = len(rows)
    info = {"tools": sorted(tools), "tools_file": str(tools_path) if tools_path else "converters default"}
    return rows, GroupSummary(summary=summary, ci=ci), len(lines), info


def _reason_codes() -> tuple[str, ...]:
    from converters.tool_traces.schema import REASON_CODES

    return REASON_CODES


def tool_metric_infos() -> dict[str, MetricInfo]:
    infos = {
        "tool_call_valid": info("tool_call_valid", "mean over rows"),
        "call_match": info("call_match", "mean over labelled rows"),
        "n": info("n", "count", "row", "calls scored"),
    }
    for code in _reason_codes():
        infos[f"{INVALID_PREFIX}{code}"] = info(f"{INVALID_PREFIX}{code}", "share of rows")
    return infos


# ---------------------------------------------------------------------------------------------
# results.json for the offline modes


def _results(
    mode: str,
    policy: str,
    group: GroupSummary,
    infos: dict[str, MetricInfo],
    config: dict[str, Any],
    n: int,
    start: float,
    seed: int,
    **rows: Any,
) -> Results:
    return Results(
        mode=mode,  # type: ignore[arg-type]
        policy=policy,
        summary=group.summary,
        ci=group.ci,
        metrics=infos,
        breakdown={},
        config=config,
        versions=versions(),
        seeds={"bootstrap": seed, "sampling": None},
        git=git_state(),
        date=utc_now(),
        duration_s=round(time.perf_counter() - start, 3),
        samples=Samples(original=n, effective=len(next(iter(rows.values()))), steps=0, errors=0),
        **rows,
    )


def predictions_results(
    path: str | Path, problems: Sequence[Problem], problems_spec: str | None, *, seed: int = 0
) -> Results:
    """results.json of a predictions file scored offline."""
    start = time.perf_counter()
    rows, group, n = score_predictions(path, problems, seed=seed)
    config = {"predictions": str(path), "problems": {"spec": problems_spec}}
    return _results(
        "predictions",
        f"predictions:{Path(path).name}",
        group,
        prediction_metric_infos(),
        config,
        n,
        start,
        seed,
        predictions=rows,
    )


def tool_call_results(path: str | Path, tools_path: str | Path | None, *, seed: int = 0) -> Results:
    """results.json of tool-call predictions validated against the tool schemas."""
    start = time.perf_counter()
    rows, group, n, info = score_tool_calls(path, tools_path, seed=seed)
    config = {"tool_calls": str(path), **info}
    return _results(
        "tool_calls",
        f"tool_calls:{Path(path).name}",
        group,
        tool_metric_infos(),
        config,
        n,
        start,
        seed,
        tool_calls=rows,
    )
