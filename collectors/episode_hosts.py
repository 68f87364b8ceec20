"""Teacher episodes hosted in worker processes, so the event loop's process only talks HTTP.

Why processes: at 64 requests in flight the ``openai`` client alone keeps one core busy; solver
steps (Gurobi, observation rendering, answer parsing, pydantic records) on threads of the same
process would compete with it for the GIL. Each host (``python -m collectors.episode_hosts``,
started by the event loop, so the caller's ``__main__`` is never re-imported) keeps its live
episodes (DebugEnv + recorder) in a dict and serves ``start`` / ``step`` / ``finish`` requests,
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
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from collectors.episodes import FEASIBLE_AT_RESET, Skipped, TeacherError, error_trajectory
from collectors.llm import ChatResult

_HEADER = struct.Struct("!i")  # multiprocessing.connection's frame header (the host side uses Connection)


class HostCrashed(RuntimeError):
    """A host process failed in a way that is a bug, not a property of the problem."""


class _ProblemError(Exception):
    """The host could not load or play the problem (licence limit, unreadable model…)."""


class _SkipProblem(Exception):
    """The host found the problem needs no repair (collectors.episodes.FeasibleAtReset)."""


# ---------------------------------------------------------------------------------------------
# the host process


def _serve(rx: Connection, tx: Connection) -> None:
    """Host main loop: one request at a time, replies ('ok'|'error'|'crash', payload)."""
    import json

    import gurobipy as gp

    from collectors.agents.teacher import answer_turn
    from collectors.episodes import EpisodeRecorder, FeasibleAtReset
    from collectors.report import attempt_view
    from ordebug import solver
    from ordebug.episode import DebugEnv
    from ordebug.errors import OrDebugError

    episodes: dict[int, list[Any]] = {}
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
                problem, max_steps, layout, agent, config = args
                env = DebugEnv(max_steps=max_steps, layout=layout, env=solver.gurobi_env())
                rec = EpisodeRecorder(env, problem, agent, config)
                obs, info = rec.start()
                episodes[eid] = [rec, obs, info]
                reply: tuple[str, Any] = ("ok", obs)
            elif op == "step":
                rec, obs, info = episodes[eid]
                obs, info, done = rec.apply(obs, info, answer_turn(args))
                episodes[eid][1:] = [obs, info]
                reply = ("ok", (obs, done, bool(info["valid"])))
            elif op == "finish":
                error, gave_up = args
                line = episodes.pop(eid)[0].finish(error=error, gave_up=gave_up).to_json_line()
                reply = ("ok", (line, attempt_view(json.loads(line)).model_dump()))
            elif op == "drop":
                episodes.pop(eid, None)
                reply = ("ok", None)
            else:
                reply = ("crash", f"unknown request {op!r}")
        except FeasibleAtReset:
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
        complete: Callable[[str], Awaitable[ChatResult]],
        problem: Any,
        *,
        max_steps: int,
        layout: str,
        agent_name: str,
        agent_config: dict[str, Any],
        max_invalid_in_a_row: int = 3,
    ) -> tuple[str, dict[str, Any] | None] | Skipped:
        """One teacher episode; returns (trajectory line, its report view or None), or Skipped
        when the model is already OPTIMAL at reset (nothing is written for it).

        ``complete(observation)`` is the LLM call: TeacherError ends the episode as a recorded
        failure (``terminated_by="error"``); collectors.aio.Stop (budget) propagates and the
        episode is dropped unwritten, so a rerun plays it again. ``max_invalid_in_a_row`` answers
        without a valid action end it as ``agent_gave_up`` (a model stuck repeating bad output).
        """
        host, eid = next(self._next), next(self._ids)

        async def call(op: str, args: Any) -> Any:
            status, payload = await host.call(op, eid, args)
            if status == "crash":
                raise HostCrashed(f"episode host failed on {problem.problem_id}:\n{payload}")
            if status == "error":
                raise _ProblemError(payload)
            if status == "skip":
                raise _SkipProblem(payload)
            return payload

        try:
            obs = await call("start", (problem, max_steps, layout, agent_name, agent_config))
            invalid_run, done = 0, False
            while not done:
                try:
                    result = await complete(obs)
                except TeacherError as exc:
                    return await call("finish", (str(exc), False))
                obs, done, valid = await call("step", result)
                invalid_run = 0 if valid else invalid_run + 1
                if not done and invalid_run >= max_invalid_in_a_row:
                    return await call("finish", (None, True))
            return await call("finish", (None, False))
        except _SkipProblem as exc:
            return Skipped(problem.problem_id, str(exc))
        except _ProblemError as exc:
            return error_trajectory(problem, agent_name, agent_config, layout, str(exc)).to_json_line(), None
        except asyncio.CancelledError:
            raise  # shutting down: the hosts go with us
        except BaseException:
            # the episode will not be written (budget stop): free it in the host
            if host.proc.stdin is not None and not host.proc.stdin.is_closing():
                asyncio.ensure_future(host.call("drop", eid, None))
            raise


if __name__ == "__main__":
    main()
