"""Teacher episodes hosted in worker processes, so the event loop's process only talks HTTP.

Why processes: at 64 requests in flight the ``openai`` client alone keeps one core busy; solver
steps (Gurobi, observation rendering, answer parsing, pydantic records) on threads of the same
process would compete with it for the GIL. Each host (``python -m collectors.episode_hosts``,
started by the event loop, so the caller's ``__main__`` is never re-imported) keeps its live
episodes (``play.episode.Episode``) in a dict and serves ``start`` / ``step`` / ``finish`` requests,
one at a time, as length-prefixed pickles over its stdin/stdout. The parent pipelines requests
to a host and matches replies in order (a host answers in the order it was asked), all on the
event loop: no extra threads. A host whose parent dies (``kill -9``) sees EOF and exits.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import struct
import sys
import traceback
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from collectors.episodes import FEASIBLE_AT_RESET, Skipped, error_trajectory
from play.episode import PlaySettings, StepReply
from play.runner import run_episode

_HEADER = struct.Struct("!i")  # multiprocessing.connection's frame header (the host side uses Connection)


class HostCrashed(RuntimeError):
    """A host process failed in a way that is a bug, not a property of the problem."""


class _ProblemError(Exception):
    """The host could not load or play the problem (licence limit, unreadable model…)."""


class _SkipProblem(Exception):
    """The host found the problem needs no repair (play.errors.FeasibleAtReset)."""


# ---------------------------------------------------------------------------------------------
# the host process


def _serve(rx: Connection, tx: Connection) -> None:
    """Host main loop: one request at a time, replies ('ok'|'error'|'skip'|'crash', payload)."""
    import json

    import gurobipy as gp

    from collectors.episodes import to_trajectory
    from collectors.report import attempt_view
    from ordebug import solver
    from ordebug.errors import OrDebugError
    from play.episode import Episode, StepReply
    from play.errors import FeasibleAtReset

    episodes: dict[int, tuple[Episode, str, dict[str, Any]]] = {}
    while True:
        try:
            message = rx.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        op, eid, args = message
        try:
            if op == "start":
                problem, settings, agent, config = args
                episode = Episode(problem, settings, solver.gurobi_env())
                episodes[eid] = (episode, agent, config)
                obs, _state = episode.start()
                reply: tuple[str, Any] = ("ok", obs)
            elif op == "step":
                r = episodes[eid][0].step(*args)
                reply = ("ok", StepReply(r.observation, None, r.done, r.valid))  # state stays here
            elif op == "finish":
                episode, agent, config = episodes.pop(eid)
                error, gave_up = args
                played = episode.finish(error=error, gave_up=gave_up)
                line = to_trajectory(
                    played, agent, config, episode.settings.layout, whatif=episode.settings.whatif
                ).to_json_line()  # type: ignore[union-attr]
                reply = ("ok", (line, attempt_view(json.loads(line)).model_dump()))
            elif op == "drop":
                episodes.pop(eid, None)
                reply = ("ok", None)
            else:
                reply = ("crash", f"unknown request {op!r}")
        except FeasibleAtReset:
            episodes.pop(eid, None)
            reply = ("skip", FEASIBLE_AT_RESET)
        except (OrDebugError, gp.GurobiError) as exc:
            episodes.pop(eid, None)
            reply = ("error", f"{type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 — a bug: report it whole to the parent, keep serving the others
            episodes.pop(eid, None)
            reply = ("crash", traceback.format_exc())
        try:
            tx.send(reply)
        except (BrokenPipeError, OSError):
            return


def main() -> None:
    """Host entry point: frames on the inherited stdin/stdout; anything printed goes to stderr."""
    rx = Connection(os.dup(0), writable=False)
    tx = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # why: a stray print (or a licence banner) must never corrupt the frame stream
    _serve(rx, tx)


# ---------------------------------------------------------------------------------------------
# the parent side


class EpisodeHost:
    """One host process; requests are pipelined and answered in order."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._waiting: deque[asyncio.Future[tuple[str, Any]]] = deque()
        self._reader = asyncio.create_task(self._read_replies())

    @classmethod
    async def start(cls) -> EpisodeHost:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "collectors.episode_hosts",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read_replies(self) -> None:
        stdout = self.proc.stdout
        if stdout is None:  # pragma: no cover - created with stdout=PIPE
            raise RuntimeError("episode host has no stdout pipe")
        try:
            while True:
                (size,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
                reply = pickle.loads(await stdout.readexactly(size))
                future = self._waiting.popleft()
                if not future.done():
                    future.set_result(reply)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            code = self.proc.returncode
            while self._waiting:
                future = self._waiting.popleft()
                if not future.done():
                    future.set_result(("crash", f"episode host exited (code {code}): {exc!r}"))

    async def call(self, op: str, eid: int, args: Any) -> tuple[str, Any]:
        stdin = self.proc.stdin
        if stdin is None or self._reader.done():
            return ("crash", f"episode host exited (code {self.proc.returncode})")
        data = pickle.dumps((op, eid, args), protocol=pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        stdin.write(_HEADER.pack(len(data)) + data)
        return await future

    async def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(_HEADER.pack(len(_NONE)) + _NONE)
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=10)
        except TimeoutError:
            self.proc.terminate()
            await self.proc.wait()
        await self._reader


_NONE = pickle.dumps(None)


#: Resident memory of one host (Python, gurobipy, numpy, pydantic loaded): about 77 MiB measured.
HOST_MIB = 80
#: Share of the machine's available memory the hosts may take together.
HOST_MEMORY_SHARE = 0.5


def _available_mib() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is none: not Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def host_count(requested: int, problems_left: int) -> tuple[int, str | None]:
    """How many hosts to start for ``--workers requested``, and why fewer (None: as requested).

    A host serves one solver request at a time and is idle while its episodes wait on the LLM,
    so more hosts than CPUs only adds processes competing for the same cores; more hosts than
    problems left are never used; and each costs about HOST_MIB of memory, of which the hosts may
    take HOST_MEMORY_SHARE of what is available.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    available = _available_mib()
    by_memory = max(1, int(available * HOST_MEMORY_SHARE) // HOST_MIB) if available is not None else None
    bounds = [(problems_left, f"{problems_left} problem(s) left"), (cpus, f"{cpus} CPU(s)")]
    if by_memory is not None:
        bounds.append((by_memory, f"memory for {by_memory} host(s) of ~{HOST_MIB} MiB"))
    n, reason = min(bounds, key=lambda b: b[0])
    n = max(1, n)
    if n >= requested:
        return max(1, requested), None
    return n, f"--workers {requested}: {n} episode host(s), bounded by {reason}"


class EpisodeHosts:
    """``n`` host processes; episodes are spread over them round-robin."""

    def __init__(self, hosts: list[EpisodeHost]) -> None:
        self.hosts = hosts
        self._next = itertools.cycle(hosts)
        self._ids = itertools.count()

    @classmethod
    async def start(cls, n: int) -> EpisodeHosts:
        return cls(list(await asyncio.gather(*(EpisodeHost.start() for _ in range(n)))))

    async def close(self) -> None:
        await asyncio.gather(*(host.close() for host in self.hosts))

    async def play(
        self,
        policy: Any,
        problem: Any,
        settings: PlaySettings,
        *,
        agent_name: str,
        agent_config: dict[str, Any],
    ) -> tuple[str, dict[str, Any] | None] | Skipped:
        """One episode of ``policy`` (``play.runner.run_episode``) hosted in one of the processes;
        returns (trajectory line, its report view or None), or Skipped when the model is already
        OPTIMAL at reset (nothing is written for it).

        A policy failure (PolicyError) ends the episode as a recorded failure; ``Stop`` (budget)
        propagates and the episode is dropped unwritten, so a rerun plays it again.
        """
        session = _HostSession(next(self._next), next(self._ids), problem, settings, agent_name, agent_config)
        try:
            return await run_episode(policy, session, settings)
        except _SkipProblem as exc:
            return Skipped(problem.problem_id, str(exc))
        except _ProblemError as exc:
            return error_trajectory(
                problem, agent_name, agent_config, settings.layout, str(exc)
            ).to_json_line(), None
        except asyncio.CancelledError:
            raise  # shutting down: the hosts go with us
        except BaseException:
            session.drop()  # the episode will not be written (budget stop): free it in the host
            raise


class _HostSession:
    """A ``play.runner.Session`` whose Episode lives in a host process."""

    def __init__(
        self,
        host: EpisodeHost,
        eid: int,
        problem: Any,
        settings: PlaySettings,
        agent: str,
        config: dict[str, Any],
    ) -> None:
        self.host, self.eid, self.problem = host, eid, problem
        self._start_args = (problem, settings, agent, config)

    async def _call(self, op: str, args: Any) -> Any:
        status, payload = await self.host.call(op, self.eid, args)
        if status == "crash":
            raise HostCrashed(f"episode host failed on {self.problem.problem_id}:\n{payload}")
        if status == "error":
            raise _ProblemError(payload)
        if status == "skip":
            raise _SkipProblem(payload)
        return payload

    async def start(self) -> tuple[str, None]:
        return await self._call("start", self._start_args), None

    async def decide(self, policy: Any) -> Any:
        raise HostCrashed("scripted agents are played on threads (play.runner.LocalSession), not in hosts")

    async def step(self, answer: Any, latency_s: float) -> StepReply:
        return await self._call("step", (answer, latency_s))

    async def finish(
        self, *, error: str | None = None, gave_up: bool = False
    ) -> tuple[str, dict[str, Any] | None]:
        return await self._call("finish", (error, gave_up))

    def drop(self) -> None:
        stdin = self.host.proc.stdin
        if stdin is not None and not stdin.is_closing():
            asyncio.ensure_future(self.host.call("drop", self.eid, None))


if __name__ == "__main__":
    main()
