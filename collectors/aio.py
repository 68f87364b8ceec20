"""Bounded-concurrency asyncio work over a list of units, with ordered durable writes.

Used by the teacher collector and the summariser: ``concurrency`` worker tasks pull units from
one queue; each finished unit is handed to ``write`` on a single writer thread (so an fsync never
stalls the event loop and lines never interleave). ``stop()`` returning a reason (e.g. "budget
reached") stops workers from taking new units; units a worker gives up on by raising ``Stop`` are left
unwritten, so a rerun picks them up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from play.errors import Abort, Stop  # a unit raising Stop is left unwritten; Abort fails the run

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["Abort", "AsyncPool", "Stop"]


class AsyncPool(Generic[T, R]):
    """Run ``work(unit)`` for every unit with at most ``concurrency`` in flight."""

    def __init__(
        self,
        work: Callable[[T], Awaitable[R]],
        write: Callable[[T, R], None],
        *,
        concurrency: int,
        stop: Callable[[], str | None] = lambda: None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._work = work
        self._write = write
        self._concurrency = concurrency
        self._stop = stop
        self.stopped_reason: str | None = None
        self.aborted: str | None = None
        self.unfinished = 0

    async def run(self, units: Iterable[T]) -> None:
        queue: asyncio.Queue[T] = asyncio.Queue()
        for unit in units:
            queue.put_nowait(unit)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsonl-writer") as writer:

            async def worker() -> None:
                while not queue.empty():
                    if self.stopped_reason is None:
                        self.stopped_reason = self._stop()
                    if self.stopped_reason is not None:
                        return
                    unit = queue.get_nowait()
                    try:
                        result = await self._work(unit)
                    except Stop as why:
                        self.stopped_reason = str(why) or "stopped"
                        if isinstance(why, Abort) and self.aborted is None:
                            self.aborted = self.stopped_reason
                        self.unfinished += 1
                        return
                    await loop.run_in_executor(writer, self._write, unit, result)

            workers = [asyncio.create_task(worker()) for _ in range(self._concurrency)]
            try:
                await asyncio.gather(*workers)
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        self.unfinished += queue.qsize()
