"""The one episode loop: a policy against an episode, wherever the episode lives.

``run_episode(policy, session, settings)`` asks the policy, steps the episode, and repeats until
the environment ends it (SUBMIT, step limit) or the policy fails; it returns what the session's
``finish`` returns. A session hides where the episode lives:

- ``LocalSession``: an ``Episode`` on one worker thread (``SolverSlot``: a gurobipy Env must not
  be used by two threads at once) — scripted collection and eval;
- ``collectors.episode_hosts``: an ``Episode`` in a host process, for the teacher, whose event
  loop must only talk HTTP.

Failures: a policy that raises ends its episode as a recorded error (``play.errors.describe``),
except ``Stop`` (a spent budget, a refused key), which propagates so the episode is not written.
Session failures (an unreadable model, a solver error) propagate to the caller, who records them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol, TypeVar

from ordebug import solver
from ordebug.observation import ObservationState
from ordebug.problems import Problem
from ordebug.prompts import user_message
from play.answers import raw_text
from play.episode import Episode, PlaySettings, StepReply
from play.errors import FEASIBLE_AT_RESET, FeasibleAtReset, PolicyError, Stop, describe
from play.llm import ChatResult
from play.policy import ScriptedPolicy, Turn
from play.record import PlayedEpisode

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Session(Protocol[R_co]):
    """Where one episode lives; ``run_episode`` drives it."""

    problem: Problem

    async def start(self) -> tuple[str, ObservationState | None]: ...

    async def decide(self, policy: ScriptedPolicy) -> Turn: ...

    async def step(self, answer: Any, latency_s: float) -> StepReply: ...

    async def finish(self, *, error: str | None = None, gave_up: bool = False) -> R_co: ...


async def run_episode(policy: Any, session: Session[R], settings: PlaySettings) -> R:
    """Play one episode to its end; the policy's failures end it as a recorded error."""
    obs, state = await session.start()
    history: list[dict[str, str]] = []
    invalid_run = 0
    scripted = isinstance(policy, ScriptedPolicy)
    while True:
        t0 = time.perf_counter()
        try:
            if scripted:
                answer = await session.decide(policy)
            else:
                answer = await policy.act(obs, state, list(history), problem=session.problem)
            if not isinstance(answer, str | Turn | ChatResult):
                raise PolicyError(f"policy returned {type(answer).__name__}, expected str")
        except Stop:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded with the episode; the batch goes on
            return await session.finish(error=describe(exc))
        reply = await session.step(answer, time.perf_counter() - t0)
        history += [
            {"role": "user", "content": user_message(obs)},
            {"role": "assistant", "content": raw_text(answer, merge=settings.merge_reasoning)},
        ]
        obs, state = reply.observation, reply.state
        if reply.done:
            return await session.finish()
        invalid_run = 0 if reply.valid else invalid_run + 1
        limit = settings.max_invalid_in_a_row
        if limit is not None and invalid_run >= limit:
            return await session.finish(gave_up=True)


class SolverSlot:
    """One worker thread (and so one Gurobi environment) for one episode at a time."""

    def __init__(self, name: str = "ordebug-play") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class LocalSession:
    """An Episode on a SolverSlot's thread, using that thread's Gurobi environment."""

    def __init__(self, problem: Problem, settings: PlaySettings, slot: SolverSlot) -> None:
        self.problem = problem
        self.settings = settings
        self.slot = slot
        self.episode: Episode | None = None

    def _start(self) -> tuple[str, ObservationState]:
        self.episode = Episode(self.problem, self.settings, solver.gurobi_env())
        return self.episode.start()

    async def start(self) -> tuple[str, ObservationState | None]:
        return await self.slot.run(self._start)

    def _live(self) -> Episode:
        if self.episode is None:
            raise RuntimeError("LocalSession.start() was not called")
        return self.episode

    async def decide(self, policy: ScriptedPolicy) -> Turn:
        return await self.slot.run(self._live().decide, policy)

    async def step(self, answer: Any, latency_s: float) -> StepReply:
        return await self.slot.run(self._live().step, answer, latency_s)

    async def finish(self, *, error: str | None = None, gave_up: bool = False) -> PlayedEpisode:
        return self._live().finish(error=error, gave_up=gave_up)  # plain Python: no thread hop


async def play_local(
    policy: Any, problem: Problem, slot: SolverSlot, settings: PlaySettings
) -> PlayedEpisode:
    """One episode on ``slot``: a failure to load the problem or to step it is recorded, not raised
    (``Stop`` propagates); a problem already OPTIMAL at reset comes back ``skipped``."""
    session = LocalSession(problem, settings, slot)
    try:
        return await run_episode(policy, session, settings)
    except FeasibleAtReset:
        return PlayedEpisode(problem, None, skipped=FEASIBLE_AT_RESET)
    except Stop:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable model or a solver failure fails its episode
        if session.episode is None or not session.episode.info:
            return PlayedEpisode(problem, None, error=describe(exc))
        return session.episode.finish(error=describe(exc))
