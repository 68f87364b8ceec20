"""The Policy protocol: anything that turns an observation into a raw text answer.

Structural (``typing.Protocol``), so scripted agents, an OpenAI client and a local model
served by LLaMA-Factory all fit without inheriting from anything.
The harness parses the answer with ``ordebug.answer.parse_answer``; a policy never executes
anything and never sees the solver directly.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

from ordebug.observation import ObservationState
from ordebug.problems import Problem


@runtime_checkable
class Policy(Protocol):
    """A policy plays many episodes concurrently: keep no per-episode state on ``self``."""

    name: str

    def config(self) -> dict[str, Any]:
        """JSON-safe settings recorded in results.json (sampling settings; never API keys)."""
        ...

    async def act(
        self,
        obs: str,
        state: ObservationState,
        history: list[dict[str, str]],
        *,
        problem: Problem,
    ) -> str:
        """The raw answer to ``obs``.

        ``history`` holds this episode's earlier turns as chat messages (user observation,
        assistant answer, …), without the system message and without ``obs`` itself.
        """
        ...


async def close_policy(policy: Any) -> None:
    """Call the policy's optional ``aclose()`` / ``close()`` (clients, engines)."""
    for attr in ("aclose", "close"):
        fn = getattr(policy, attr, None)
        if fn is not None:
            result = fn()
            if inspect.isawaitable(result):
                await result
            return
