"""Collect one agent's trajectories over many problems: parallel, resumable, crash-safe.

* Output: one Trajectory per line (ordebug.trajectory), appended whole and fsynced as each
  episode finishes, under an exclusive lock (collectors.store).
* Resume: pending = selected problems - problem ids already in the file; a torn last line
  (``kill -9`` mid-write) is cut first. ``--overwrite`` starts afresh; ``--retry-errors`` plays
  the selected problems whose line records an infrastructure failure (endpoint error, unreadable
  model) again; an error line leaves the file only once its replacement is written.
* Skipped: a problem whose model is already OPTIMAL at reset is not a debugging problem; it is
  reported (summary ``skipped``) and never written, so it is checked again on a rerun.
* Teacher endpoint refusing the configuration (401/403/404, unreachable): the run stops at once
  with TeacherUnusableError; problems not attempted are not recorded.
* Scripted agents: ``workers`` threads, each with its own agent and Gurobi environment.
* Teacher: ``concurrency`` episodes in flight on one event loop; each episode's solver steps run
  on one of ``workers`` single-thread executors (a Gurobi environment is used by one thread).
* At the end: tables like the progress notes of OR-Debug-Bench's old collection scripts on stdout and ``<out>.summary.json``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from collectors.aio import AsyncPool
from collectors.episode_hosts import EpisodeHosts, host_count
from collectors.episodes import Skipped, to_trajectory
from collectors.report import AttemptView, attempt_view, render_tables, summarize
from collectors.store import JsonlStore
from foundation.atomic import write_json_atomic
from foundation.redact import redact_json
from ordebug.errors import OrDebugError
from ordebug.problems import Problem
from play.agents.base import ScriptedAgent
from play.episode import PlaySettings
from play.policy import ScriptedPolicy
from play.runner import SolverSlot, play_local


class CollectError(OrDebugError):
    """The requested collection conflicts with the output file or the options."""


class TeacherUnusableError(OrDebugError):
    """The teacher endpoint refuses the configuration (key, model, URL): no call can succeed."""


def is_error(record: dict[str, Any]) -> bool:
    """An attempt that ended in an infrastructure error (replayed by --retry-errors)."""
    return (record.get("outcome") or {}).get("terminated_by") == "error"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based): problems whose id hashes there.

    Why a hash and not positions: a problem stays in its shard when the set grows or is
    reordered, so shards collected on different machines never overlap.
    """

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            i, n = (int(part) for part in text.split("/"))
        except ValueError:
            raise CollectError(
                f"--shard {text!r}: expected i/n, e.g. 1/4 (shards are numbered 1..n)"
            ) from None
        if n < 1 or not 1 <= i <= n:
            raise CollectError(f"--shard {text!r}: need 1 <= i <= n, e.g. 1/4 .. 4/4")
        return cls(i, n)

    def __contains__(self, problem_id: object) -> bool:
        digest = hashlib.sha256(str(problem_id).encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass
class RunOptions:
    out: Path
    workers: int = 4
    limit: int | None = None
    max_steps: int = 20
    layout: str = "rich"  # why rich: the layout under which an answer's numbers can be grounded
    # the what-if extension (WHATIF_* actions) is opt-in: the benchmark's RL stage knows eight actions,
    # and the rich layout's diagnostics section shows the same evidence without a step
    whatif: bool = False
    overwrite: bool = False
    shard: Shard | None = None
    retry_errors: bool = False
    concurrency: int = 32
    progress: bool = True

    def settings(self, **extra: Any) -> PlaySettings:
        """How each episode is played (``play.episode.PlaySettings``: the one place env options go)."""
        return PlaySettings(max_steps=self.max_steps, layout=self.layout, whatif=self.whatif, **extra)


@dataclass
class RunResult:
    summary: dict[str, Any]
    table: str
    stopped: str | None = None
    unfinished: int = 0
    collected: list[str] = field(default_factory=list)
    collected_errors: int = 0  # of ``collected``, attempts that ended in an infrastructure error
    errors_held: int = 0  # selected problems whose line in the file is an error
    usable_held: int = 0  # selected problems whose line in the file is a real attempt
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def all_failed(self) -> bool:
        """This run attempted problems and every one ended in an infrastructure error."""
        return bool(self.collected) and self.collected_errors == len(self.collected)


def select(problems: Sequence[Problem], shard: Shard | None, limit: int | None) -> list[Problem]:
    """The problems this run is responsible for: the shard's, then the first ``limit`` of them."""
    chosen = [p for p in problems if shard is None or p.problem_id in shard]
    return chosen if limit is None else chosen[:limit]


def _check_compatible(
    views: list[AttemptView], agent: str, layout: str, by_id: dict[str, Problem], path: Path
) -> None:
    """Refuse to mix agents, layouts or problem sets in one file (resume must mean 'the same run')."""
    fix = "choose another --out, or --overwrite to start it afresh"
    for v in views:
        if v.agent != agent:
            raise CollectError(f"{path} holds trajectories of agent {v.agent!r}, not {agent!r}", fix=fix)
        if v.layout != layout:
            raise CollectError(f"{path} holds {v.layout!r}-layout observations, not {layout!r}", fix=fix)
        problem = by_id.get(v.problem_id)
        if problem is not None and v.source and problem.source and v.source != problem.source:
            raise CollectError(
                f"{path} holds problem {v.problem_id!r} from {v.source!r}, but the problems given now come from "
                f"{problem.source!r}; problem ids must be unique within one output file",
                fix=fix,
            )


class _Progress:
    """tqdm bar over the selected problems with the running success rate (ETA from tqdm)."""

    def __init__(self, total: int, done: list[AttemptView], desc: str, enabled: bool) -> None:
        self.ok = sum(v.success for v in done)
        self.n = len(done)
        self.bar = tqdm(
            total=total, initial=len(done), desc=desc, unit="problem", disable=not enabled, dynamic_ncols=True
        )
        self._lock = threading.Lock()
        self._postfix()

    def _postfix(self) -> None:
        rate = f"{100.0 * self.ok / self.n:.1f}%" if self.n else "-"
        self.bar.set_postfix_str(f"success {rate}", refresh=False)

    def add(self, success: bool) -> None:
        with self._lock:
            self.n += 1
            self.ok += success
            self._postfix()
            self.bar.update(1)

    def skip(self) -> None:
        with self._lock:
            self.bar.update(1)  # done with it, but it is no attempt: the success rate ignores it

    def close(self) -> None:
        self.bar.close()


def _writer(
    store: JsonlStore, progress: _Progress, collected: list[str], skipped: list[Skipped], errors: list[str]
) -> Callable[[str | Skipped, AttemptView | None], None]:
    """Append one trajectory line (durable on return), or note a skipped problem; advance the bar."""

    def write(line: str | Skipped, view: AttemptView | None = None) -> None:
        if isinstance(line, Skipped):
            skipped.append(line)
            progress.skip()
            return
        view = view or attempt_view(json.loads(line))
        store.append_line(line, view.problem_id, view)
        collected.append(view.problem_id)
        if view.reason.startswith("error"):
            errors.append(view.problem_id)
        progress.add(view.success)

    return write


def run_scripted(
    agent_factory: Callable[[], ScriptedAgent],
    pending: list[Problem],
    options: RunOptions,
    write: Callable[[str | Skipped], None],
) -> None:
    """Play ``pending`` with ``options.workers`` solver threads, each with its own agent and Gurobi
    environment (``play.runner``); ``write`` is called on one writer thread."""
    asyncio.run(_run_scripted(agent_factory, pending, options, write))


async def _run_scripted(
    agent_factory: Callable[[], ScriptedAgent],
    pending: list[Problem],
    options: RunOptions,
    write: Callable[[str | Skipped], None],
) -> None:
    settings = options.settings()
    n = max(1, min(options.workers, len(pending)))
    slots = [SolverSlot("collect") for _ in range(n)]
    policies = [ScriptedPolicy(agent_factory(), layout=options.layout, whatif=options.whatif) for _ in range(n)]
    name, config = policies[0].name, policies[0].config()
    free: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        free.put_nowait(i)

    async def episode(problem: Problem) -> str | Skipped:
        i = await free.get()
        try:
            played = await play_local(policies[i], problem, slots[i], settings)
        finally:
            free.put_nowait(i)
        result = to_trajectory(played, name, config, options.layout, whatif=options.whatif)
        return result if isinstance(result, Skipped) else result.to_json_line()

    pool: AsyncPool[Problem, str | Skipped] = AsyncPool(episode, lambda _p, r: write(r), concurrency=n)
    try:
        await pool.run(pending)
    finally:
        for slot in slots:
            slot.close()


async def run_teacher(
    teacher: Any,
    pending: list[Problem],
    options: RunOptions,
    write: Callable[[str | Skipped, AttemptView | None], None],
) -> AsyncPool:
    """Play ``pending`` with the LLM teacher, ``options.concurrency`` episodes at a time; solver
    work runs in ``options.workers`` host processes (collectors.episode_hosts)."""
    n_hosts, bounded = host_count(options.workers, len(pending))
    if bounded:
        print(bounded, file=sys.stderr)
    hosts = await EpisodeHosts.start(n_hosts)
    config = teacher.config()
    settings = options.settings(max_invalid_in_a_row=3)  # a model stuck repeating bad output gives up

    async def episode(problem: Problem) -> tuple[str, dict[str, Any] | None] | Skipped:
        return await hosts.play(teacher, problem, settings, agent_name=teacher.name, agent_config=config)

    def done(_problem: Problem, result: tuple[str, dict[str, Any] | None] | Skipped) -> None:
        if isinstance(result, Skipped):
            write(result, None)
            return
        line, view = result
        write(line, AttemptView.model_validate(view) if view is not None else None)

    pool: AsyncPool[Problem, tuple[str, dict[str, Any] | None] | Skipped] = AsyncPool(
        episode, done, concurrency=options.concurrency, stop=teacher.client.budget_stop
    )
    try:
        await pool.run(pending)
    finally:
        await teacher.client.aclose()
        await hosts.close()
    return pool


def collect(
    problems: Sequence[Problem],
    options: RunOptions,
    *,
    agent_factory: Callable[[], ScriptedAgent] | None = None,
    teacher: Any = None,
    sources: Sequence[str] = (),
) -> RunResult:
    """Collect trajectories of one agent (scripted via ``agent_factory``, or ``teacher``)."""
    if (agent_factory is None) == (teacher is None):
        raise ValueError("give exactly one of agent_factory and teacher")
    probe_agent = agent_factory() if agent_factory is not None else teacher
    agent_name, agent_config = probe_agent.name, probe_agent.config()
    selected = select(problems, options.shard, options.limit)
    by_id = {p.problem_id: p for p in selected}
    started, t0 = datetime.now(UTC), time.perf_counter()
    collected: list[str] = []
    collected_errors: list[str] = []
    skipped: list[Skipped] = []
    stopped, unfinished, aborted = None, 0, None
    with JsonlStore(
        options.out,
        lambda r: str(r["problem_id"]),
        overwrite=options.overwrite,
        replaceable=is_error,
        retry=options.retry_errors,
        project=attempt_view,
    ) as store:
        _check_compatible(store.kept, agent_name, options.layout, by_id, options.out)
        pending = [p for p in selected if p.problem_id not in store.done]
        already = [v for v in store.kept if v.problem_id in by_id and v.problem_id in store.done]
        progress = _Progress(len(selected), already, agent_name, options.progress)
        write = _writer(store, progress, collected, skipped, collected_errors)
        try:
            if not pending:
                pass  # everything selected is already in the file
            elif agent_factory is not None:
                run_scripted(agent_factory, pending, options, write)
            else:
                pool = asyncio.run(run_teacher(teacher, pending, options, write))
                stopped, unfinished, aborted = pool.stopped_reason, pool.unfinished, pool.aborted
        finally:
            progress.close()
        views: list[AttemptView] = list(store.kept)
        torn, replaced = store.torn_bytes, len(store.replaced)
    held = [v for v in views if v.problem_id in by_id]
    errors_held = sum(v.reason.startswith("error") for v in held)
    elapsed = time.perf_counter() - t0
    summary = {
        "agent": agent_name,
        "agent_config": agent_config,
        "output": str(options.out),
        "problems_from": list(sources),
        "options": {
            k: (str(v) if isinstance(v, Path | Shard) else v)
            for k, v in asdict(options).items()
            if k != "progress"
        },
        **summarize(views),
        "errors_held": errors_held,
        "skipped": {  # reason -> problem ids; none of them is in the file or in any count above
            reason: sorted(s.problem_id for s in skipped if s.reason == reason)
            for reason in sorted({s.reason for s in skipped})
        },
        "this_run": {
            "started_at": started.isoformat(timespec="seconds"),
            "elapsed_s": round(elapsed, 3),
            "selected": len(selected),
            "already_done": len(selected) - len(pending),
            "collected": len(collected),
            "collected_errors": len(collected_errors),
            "skipped": len(skipped),
            "trajectories_per_s": round(len(collected) / elapsed, 3) if elapsed > 0 else None,
            "unfinished": unfinished,
            "stopped": stopped,
            "torn_bytes_discarded": torn,
            "errors_retried": replaced,
            "aborted": aborted,
            "usage": teacher.client.total.model_dump() if teacher is not None else None,
        },
    }
    write_json_atomic(summary_path(options.out), redact_json(summary))
    if aborted is not None:
        raise TeacherUnusableError(
            f"the teacher endpoint cannot be used, so the run stopped at the first call that showed it: "
            f"{aborted}. "
            f"Nothing was recorded for the {unfinished} problem(s) not attempted; fix it and rerun the "
            f"same command to collect them"
        )
    table = render_tables(summary, agent=agent_name, workers=options.workers)
    return RunResult(
        summary,
        table,
        stopped,
        unfinished,
        collected,
        collected_errors=len(collected_errors),
        errors_held=errors_held,
        usable_held=len(held) - errors_held,
        skipped=skipped,
    )


def summary_path(out: Path) -> Path:
    return out.with_name(out.name + ".summary.json")
