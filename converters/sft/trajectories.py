"""Trajectories -> step-level samples: one sample per agent step, as OR-Debug-Bench's old pipeline made them.

Each step with a parsed action becomes ``(observation -> <think>reasoning</think> + action)``.
The answer is rebuilt with ``ordebug.answer.format_answer`` from the step's reasoning and its
action in canonical text, so every target has exactly the trained shape. Only successful
trajectories count unless ``keep_failures``. The observation is the text the agent saw, or,
when another layout is asked for, ``ordebug.observation.render(step.state, layout)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from converters.core.errors import ConvertError
from converters.core.samples import Sample, family_of, make_meta
from converters.core.utf8 import FIX, NotUtf8
from converters.sft.checks import AnswerCheck, check_answer
from converters.sft.sources import ReadStats
from ordebug.actions import parse_action
from ordebug.answer import THINK_CLOSE, THINK_OPEN, format_answer
from ordebug.errors import ActionParseError
from ordebug.prompts import INSTRUCTION
from ordebug.trajectory import (
    KNOWN_SCHEMA_VERSIONS,
    Trajectory,
    TrajectoryFormatError,
    parse_trajectory_line,
)


def source_of_agent(agent: str) -> str:
    """Mixing label of an agent: its name before any ':' ("teacher:gpt-4o" -> "teacher")."""
    return agent.split(":", 1)[0] or "unknown"


@lru_cache(maxsize=100_000)
def _answer_frame(action_text: str) -> tuple[str, str, AnswerCheck]:
    """(head, tail, verdict): ``format_answer(r, action) == head + r.strip() + tail`` for any
    reasoning r without think tags, and ``check_answer`` of every such answer with non-empty r is
    ``verdict`` (it depends only on the frame). Built once per distinct action by format_answer and
    check_answer themselves, so each step costs neither a re-parse nor a re-check."""
    action = parse_action(action_text, lenient=True)
    head, marker, tail = format_answer(_MARK, action).partition(_MARK)
    if not marker:  # a change in ordebug.answer, not bad input
        raise RuntimeError("ordebug.answer.format_answer no longer embeds the reasoning verbatim")
    return head, tail, check_answer(head + "x" + tail)


_MARK = "\x00reasoning\x00"


def read_trajectories(
    path: Path,
    *,
    layout: str | None,
    keep_failures: bool,
    skip_bad: bool,
    stats: ReadStats,
    source: str | None = None,
    digest: Any = None,
) -> Iterator[Sample]:
    """Samples of every trajectory line of ``path`` (see module doc); errors name file and line.

    Lines are read as bytes (pydantic parses them directly) and fed to ``digest`` (a hashlib
    object) on the way, so the card's input hash costs no second read.
    """
    n_ok = offset = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if digest is not None:
                digest.update(line)
            start, offset = offset, offset + len(line)
            if line.isspace():
                continue
            where = f"{path}:{lineno}"
            stats.records += 1
            if not line.endswith(b"\n"):  # only the last line can lack it: a write torn by a crash
                stats.skip("torn_tail", where)
                continue
            try:
                traj = _parse(line, path, lineno)
            except UnicodeDecodeError as exc:
                bad = NotUtf8(lineno, start + exc.start)  # the file's line, not the line within this line
                if not skip_bad:
                    raise ConvertError(
                        str(bad), where=where, fix=f"{FIX}, or pass --skip-bad-lines"
                    ) from None
                stats.skip("not_utf8", where)
                continue
            except TrajectoryFormatError as exc:
                if not skip_bad:
                    raise ConvertError(str(exc), fix="fix the line or pass --skip-bad-lines") from None
                stats.skip("bad_line", where)
                continue
            n_ok += 1
            yield from trajectory_samples(
                traj, where=where, layout=layout, keep_failures=keep_failures, stats=stats, source=source
            )
    if n_ok == 0:
        raise ConvertError(
            f"{path} holds no trajectories", fix="collect first (make collect) or pass other files"
        )


def _parse(line: bytes, path: Path, lineno: int) -> Trajectory:
    """Fast path: pydantic parses the JSON bytes itself; on any doubt the contract parser explains."""
    try:
        traj = Trajectory.model_validate_json(line)
        if "schema_version" in traj.model_fields_set and traj.schema_version in KNOWN_SCHEMA_VERSIONS:
            return traj
    except ValidationError:
        pass
    text = line.decode("utf-8")  # UnicodeDecodeError: the caller names the byte
    return parse_trajectory_line(text, path=path, lineno=lineno)  # raises with file:line and key


def trajectory_samples(
    traj: Trajectory,
    *,
    where: str,
    layout: str | None,
    keep_failures: bool,
    stats: ReadStats,
    source: str | None = None,
) -> list[Sample]:
    """Step-level samples of one trajectory (empty when it failed and failures are not kept)."""
    skipped = _skip_reason(traj)
    if skipped:  # e.g. a feasible model: nothing to debug, whatever the outcome says
        stats.skip(skipped, where)
        return []
    success = traj.outcome.success
    if not success and not keep_failures:
        stats.skip("trajectory_failed", where)
        return []
    target = layout or traj.layout
    whatif = bool(traj.env and traj.env.whatif)
    if whatif and target != "rich":
        raise ConvertError(
            f"was collected with the what-if actions, whose answers only the rich layout shows (asked: {target!r})",
            where=where,
            fix="convert it with --layout rich, or re-collect with --no-whatif",
        )
    problem = traj.problem
    # what ordebug.problems.load_problems accepts, so eval can replay held-out problems
    spec = problem.get("model_path") or problem.get("source")
    if spec and traj.problem_id not in stats.problem_sources:
        stats.problem_sources[traj.problem_id] = str(spec)
    base = make_meta(
        problem_id=traj.problem_id,
        error_type=problem.get("error_type"),
        difficulty=problem.get("difficulty"),
        family=family_of(traj.problem_id, problem),
        steps=len(traj.steps),
        agent=traj.agent,
        source=source or source_of_agent(traj.agent),
        success=success,
        layout=target,
        whatif=whatif,
    )  # once per trajectory; each step copies it
    if traj.steps:  # what a single-step RL stage rewards: the first action alone repairs the model
        tally = stats.first_step.setdefault(traj.agent, [0, 0])
        tally[0] += traj.steps[0].status == "OPTIMAL"
        tally[1] += 1
    samples = []
    for step in traj.steps:
        at = f"{where} step {step.index}"
        if step.action is None:
            stats.skip("step_without_action", at)
            continue
        try:
            head, tail, verdict = _answer_frame(step.action)
        except ActionParseError:
            stats.skip("action_invalid", at)
            continue
        reasoning = step.reasoning
        if THINK_OPEN in reasoning or THINK_CLOSE in reasoning:  # format_answer refuses these too
            stats.skip("reasoning_has_tags", at)
            continue
        reasoning = reasoning.strip()
        output = head + reasoning + tail
        observation = step.observation if target == traj.layout else _rerender(step.state, target, at)
        meta = base.copy()  # make_meta's key order and types, without re-checking constant fields
        meta["step"], meta["action"], meta["origin"] = step.index, verdict.action_name, at
        # an empty reasoning gets no verdict here: check_answer then drops it as think_empty
        samples.append(Sample(INSTRUCTION, observation, output, "", meta, verdict if reasoning else None))
    return samples


def optimal_at_reset(traj: Trajectory) -> bool:
    """Whether the problem's model was already OPTIMAL before the agent changed anything.

    Read from the trajectory itself: the first step's observation (its state, else its text) is
    what reset showed. A record with no steps that ended OPTIMAL without a change is the same case.
    """
    if not traj.steps:
        return traj.outcome.final_status == "OPTIMAL" and not traj.outcome.changes
    first = traj.steps[0]
    if first.state:
        return first.state.get("status") == "OPTIMAL"
    line = _STATUS_LINE.search(first.observation)
    return line is not None and line.group(1) == "OPTIMAL"


def _skip_reason(traj: Trajectory) -> str | None:
    """Why a trajectory yields no samples at all: the collector marked it skipped, or its model
    was OPTIMAL at reset (files written before collectors skipped such problems)."""
    outcome = traj.outcome
    marked = (
        getattr(outcome, "skipped", None) or traj.problem.get("skipped") or outcome.terminated_by == "skipped"
    )
    if optimal_at_reset(traj) or any(w in str(marked).lower() for w in ("feasible", "optimal")):
        return "already_optimal"
    return "collector_skipped" if marked else None


_STATUS_LINE = re.compile(r"^Status: (\S+)", re.MULTILINE)


def _rerender(state: dict, layout: str, where: str) -> str:
    from ordebug.observation import ObservationState, render

    if not state:
        raise ConvertError(
            f"step has no structured state to re-render in the {layout!r} layout",
            where=where,
            fix="convert with the layout the trajectory was collected in (--layout), or re-collect",
        )
    try:
        return render(ObservationState.model_validate(state), layout)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConvertError(f"state.{key}: {first['msg']}", where=where) from None
