"""A solver-verified reward that TRL's ``GRPOTrainer`` calls as it is.

    reward = SolverReward("rl/configs/reward.yaml")
    GRPOTrainer(..., reward_funcs=[reward], train_dataset=load_dataset("json", data_files=...))

``reward(completions, **columns) -> list[float]``: ``completions`` are strings or message lists
(TRL's conversational form), ``columns`` the prompt rows' columns (``rl.export`` writes them;
``RewardRow`` says which are read). One completion is one action, applied (after the row's
``prefix_actions``) to the problem's model through ``ordebug``'s environment with its documented
semantics, and scored in Gurobi:

* **format** — one balanced ``<think>…</think>``, then exactly one ``Action:`` that the project's
  strict grammar parses, among the benchmark's eight actions;
* **outcome** — the model is OPTIMAL after the action;
* **op**, **fp** — objective and fix preservation, by ``ordebug.metrics`` (eval's own code);
* **diagnosis** — the blamed element is in the IIS the prompt showed (half) and is a ground-truth
  target (half; the whole term is the IIS half when the row has no target).

The action is found as the RL stage finds it: the first match of :data:`RL_ACTION` anywhere
(case-insensitive, inside ``<think>`` too); a name outside the eight, or no match, scores
``syntax_error``. Model output is parsed, never executed. Every completion is scored in a worker
process with its own Gurobi environment (``workers``), each solve under ``time_limit_s`` and the
whole call under a wall-clock guard; a model over the Gurobi licence, or a call over the guard,
scores 0 with the reason in ``last_scores``. The score is a function of the text and the row only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ordebug import solver
from ordebug.actions import Action, parse_action
from ordebug.benchmark_actions import BENCHMARK_ACTIONS, RL_ACTION
from ordebug.episode import DebugEnv
from ordebug.errors import ActionParseError, OrDebugError
from ordebug.metrics import episode_metrics
from ordebug.problems import Problem
from rl.config import DEFAULT_REWARD, RewardConfig, load_reward_config
from rl.errors import RLError

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class RewardRow(BaseModel):
    """The columns of a prompt row the reward reads (``rl.export`` writes them all)."""

    model_config = ConfigDict(extra="ignore")
    problem_id: str
    model_file: str
    iis_constraints: list[str]
    target_names: list[str] = []
    original_objective: float | None = None
    prefix_actions: list[str] = []
    layout: str = "legacy"
    whatif: bool = False

    @field_validator("iis_constraints", "target_names", "prefix_actions", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value  # the JSON-string columns

    @field_validator("model_file")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not Path(value).is_absolute():
            raise ValueError(f"{value!r} is relative; the reward solves only absolute model paths")
        return value

    @field_validator("original_objective", mode="before")
    @classmethod
    def _nan_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value


@dataclass
class Score:
    """One completion's reward and the terms it is made of."""

    reward: float
    format: float = 0.0
    outcome: float = 0.0
    op: float = 0.0
    fp: float = 0.0
    diagnosis: float = 0.0
    action: str | None = None
    reason: str | None = None  # why a term is 0 (syntax error, invalid action, licence, time limit)


@dataclass(frozen=True)
class ParsedCompletion:
    action: Action | None
    format_ok: bool
    syntax_error: bool
    reason: str | None


def completion_text(completion: str | Sequence[Mapping[str, Any]]) -> str:
    """The text of a completion: a string, or the assistant contents of a message list."""
    if isinstance(completion, str):
        return completion
    return "".join(str(m.get("content") or "") for m in completion if m.get("role", "assistant") == "assistant")


def parse_completion(text: str) -> ParsedCompletion:
    """Find the action as the RL stage does and judge the format strictly (never executes text)."""
    matches = list(RL_ACTION.finditer(text))
    if not matches:
        return ParsedCompletion(None, False, True, "syntax error: no 'Action: NAME(args)'")
    first = matches[0]
    name, args = first.group(1), first.group(2)
    if name.upper() not in BENCHMARK_ACTIONS:
        return ParsedCompletion(None, False, True, f"syntax error: {name!r} is not one of the eight actions")
    try:
        action = parse_action(f"{name.upper()}({args or ''})")
    except ActionParseError as exc:
        return ParsedCompletion(None, False, False, f"action does not parse: {exc.reason}")
    opened, closed = text.count(THINK_OPEN), text.count(THINK_CLOSE)
    think_ok = opened == closed == 1 and text.index(THINK_OPEN) < text.index(THINK_CLOSE)
    strict = name.isupper() and args is not None and len(matches) == 1
    after = think_ok and first.start() > text.index(THINK_CLOSE)
    reason = None if think_ok and strict and after else (
        "format: " + ", ".join(
            w for w, bad in (("unbalanced <think>", not think_ok), ("action not after </think>", think_ok and not after),
                             ("more than one Action:", len(matches) > 1),
                             ("not the strict form NAME(args)", not (name.isupper() and args is not None))) if bad
        )
    )  # fmt: skip
    return ParsedCompletion(action, reason is None, False, reason)


# ---------------------------------------------------------------- scoring (runs in a worker)

_ENVS: dict[tuple, DebugEnv] = {}  # per worker process: one environment per episode setting


def _env(row: RewardRow, cfg: RewardConfig) -> DebugEnv:
    """This process's environment for the row's settings (its own Gurobi environment, made once)."""
    key = (len(row.prefix_actions) + 1, row.layout, row.whatif, cfg.time_limit_s)
    if key not in _ENVS:
        genv = next(iter(_ENVS.values()))._genv if _ENVS else solver.new_env()
        _ENVS[key] = DebugEnv(
            max_steps=key[0], layout=row.layout, whatif=row.whatif, env=genv, time_limit=cfg.time_limit_s,
            diagnostics=False,  # the reward reads the solver status, not the observation
            auto_iis=row.whatif,  # set per state in _apply
            auto_submit=True,
        )  # fmt: skip
    return _ENVS[key]


@dataclass(frozen=True)
class _Applied:
    """What applying one action to one state gave (the solver-dependent terms)."""

    outcome: float
    op: float
    fp: float
    diagnosis: float
    error: str | None  # the environment's reason when the action did not apply, or a load failure
    failed: bool = False  # the model could not be loaded or solved: the whole reward is 0


def _apply(row: RewardRow, problem: Problem, action: Action, cfg: RewardConfig) -> _Applied:
    """Replay the row's prefix, apply ``action`` through DebugEnv, read the terms from ordebug.metrics."""
    env = _env(row, cfg)
    # The prefix replays as the export played it, IIS included (a solve after computeIIS can differ
    # from one without in the last digit); the scored action skips the IIS nobody reads (what-if
    # actions read it). Rows with and without a prefix never share an environment (see _env's key).
    env.auto_iis = row.whatif or bool(row.prefix_actions)
    try:
        env.reset(problem, options={"reuse_initial": True})  # the completions of one state share its solve
        for prior in row.prefix_actions:
            env.step(prior)
        env.auto_iis = row.whatif
        _, _, _, _, info = env.step(action)
    except OrDebugError as exc:  # over the licence, unreadable model: no reward, and why
        return _Applied(0.0, 0.0, 0.0, 0.0, f"{type(exc).__name__}: {exc}", failed=True)
    record = env.record()
    metrics = episode_metrics(record, problem, ["op", "fp"])
    blamed = record.blamed[-1:] if info["valid"] and action.changes_model else []
    in_iis = float(bool(blamed) and blamed[0] in row.iis_constraints)
    on_target = float(bool(blamed) and blamed[0] in row.target_names)
    return _Applied(
        outcome=float(info["valid"] and record.final_status == "OPTIMAL"),
        op=metrics["op"] or 0.0,
        fp=metrics["fp"] or 0.0,
        diagnosis=0.5 * in_iis + 0.5 * on_target if row.target_names else in_iis,
        error=None if info["valid"] else f"invalid action: {info['error']}",
    )


def score_state(texts: Sequence[str], row: RewardRow, cfg: RewardConfig) -> list[Score]:
    """Score the completions of one state (one row); deterministic: a function of the text and the row.

    The row's problem is built once, and an action repeated in the group is applied once (GRPO's
    group often repeats an action, and the same action on the same state scores the same).
    """
    problem = Problem(
        problem_id=row.problem_id, model_path=Path(row.model_file), original_objective=row.original_objective,
        target_name=",".join(row.target_names),
    )  # fmt: skip
    applied: dict[str, _Applied] = {}
    return [_score_one(text, row, problem, cfg, applied) for text in texts]


def _score_one(text: str, row: RewardRow, problem: Problem, cfg: RewardConfig, applied: dict[str, _Applied]) -> Score:
    parsed = parse_completion(text)
    if parsed.syntax_error:
        return Score(reward=cfg.syntax_error, reason=parsed.reason)
    fmt = float(parsed.format_ok)
    if parsed.action is None:
        return Score(reward=cfg.format * fmt, format=fmt, reason=parsed.reason)
    key = str(parsed.action)
    done = applied.get(key)
    if done is None:
        done = applied[key] = _apply(row, problem, parsed.action, cfg)
    if done.failed:
        return Score(reward=0.0, action=key, reason=done.error)
    reward = cfg.format * fmt + cfg.outcome * done.outcome + cfg.op * done.op + cfg.fp * done.fp
    reward += cfg.diagnosis * done.diagnosis
    return Score(reward=reward, format=fmt, outcome=done.outcome, op=done.op, fp=done.fp, diagnosis=done.diagnosis,
                 action=key, reason=parsed.reason or done.error)  # fmt: skip


def _score_groups(groups: list[tuple[list[str], dict[str, Any]]], cfg: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Score groups of completions, each group one state's (one reset's read and solve serve it)."""
    parsed_cfg = RewardConfig.model_validate(cfg)
    return [[asdict(s) for s in score_state(texts, RewardRow.model_validate(row), parsed_cfg)] for texts, row in groups]


# ---------------------------------------------------------------- the function TRL calls


class SolverReward:
    """``f(completions, **columns) -> list[float]`` for TRL; ``last_scores`` keeps the terms and reasons."""

    __name__ = "solver_reward"  # TRL logs rewards/<__name__>/mean and /std

    def __init__(self, config: RewardConfig | str | Path | None = None) -> None:
        self.config = config if isinstance(config, RewardConfig) else load_reward_config(config or DEFAULT_REWARD)
        self.last_scores: list[Score] = []
        self._pool: ProcessPoolExecutor | None = None

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float]:
        rows = self._rows(len(completions), columns)
        texts = [completion_text(c) for c in completions]
        self.last_scores = self.score(texts, rows)
        return [s.reward for s in self.last_scores]

    @staticmethod
    def _rows(n: int, columns: Mapping[str, Any]) -> list[RewardRow]:
        missing = [k for k in ("problem_id", "model_file", "iis_constraints") if k not in columns]
        if missing:
            raise RLError(
                f"the reward needs the columns {missing}, the rows have {sorted(columns)}",
                fix="train on prompts `make rl-data` wrote",
            )
        rows = []
        for i in range(n):
            values = {k: v[i] for k, v in columns.items() if isinstance(v, (list, tuple)) and len(v) == n}
            try:
                rows.append(RewardRow.model_validate(values))
            except ValidationError as exc:
                first = exc.errors()[0]
                raise RLError(
                    f"row {i} ({values.get('problem_id')!r}): column {first['loc'][0]!r}: {first['msg']}",
                    fix="re-export the prompts with `make rl-data`",
                ) from None
            except json.JSONDecodeError as exc:
                raise RLError(f"row {i} ({values.get('problem_id')!r}): a list column is not JSON ({exc.msg})",
                              fix="re-export the prompts with `make rl-data`") from None  # fmt: skip
        return rows

    def score(self, texts: Sequence[str], rows: Sequence[RewardRow]) -> list[Score]:
        cfg = self.config
        groups: dict[str, list[int]] = {}  # GRPO's completions of one prompt share one reset
        for i, row in enumerate(rows):
            groups.setdefault(row.model_dump_json(), []).append(i)
        out: list[Score | None] = [None] * len(texts)
        if cfg.workers == 0:
            for idx in groups.values():
                for i, score in zip(idx, score_state([texts[i] for i in idx], rows[idx[0]], cfg), strict=True):
                    out[i] = score
            return [s for s in out if s is not None]
        pool = self._get_pool()
        dumped = cfg.model_dump()
        # one task per worker (a few more to balance): fewer round trips than one per completion
        n_tasks = min(len(groups), 2 * cfg.workers)
        chunks = [list(groups.values())[k::n_tasks] for k in range(n_tasks)]
        tasks = [
            (chunk, pool.submit(_score_groups, [([texts[i] for i in idx], rows[idx[0]].model_dump()) for idx in chunk],
                                dumped))
            for chunk in chunks
        ]  # fmt: skip
        broken = False
        for chunk, fut in tasks:
            # every solve is under the time limit: reset (solve + IIS), the prefix and the action, per completion
            guard = 10 + sum(cfg.time_limit_s * (2 * len(rows[idx[0]].prefix_actions) + 4) * len(idx) for idx in chunk)
            try:
                for idx, scores in zip(chunk, fut.result(timeout=guard), strict=True):
                    for i, score in zip(idx, scores, strict=True):
                        out[i] = Score(**score)
            except FutureTimeout:
                broken = True  # a stuck worker: these score 0, the pool is replaced afterwards
                for i in (i for idx in chunk for i in idx):
                    out[i] = Score(reward=0.0, reason=f"time limit: no score within {guard:.0f}s")
        if broken:
            self.close(kill=True)
        return [s for s in out if s is not None]

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: the trainer process holds torch threads and CUDA state that a fork must not copy
            self._pool = ProcessPoolExecutor(max_workers=self.config.workers, mp_context=get_context("spawn"))
        return self._pool

    def close(self, *, kill: bool = False) -> None:
        """Stop the workers: let idle ones exit (the normal end), or kill stuck ones (a call timed out)."""
        if self._pool is None:
            return
        if kill:
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.kill()  # only our own workers, by their handle
        self._pool.shutdown(wait=not kill, cancel_futures=True)
        self._pool = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
