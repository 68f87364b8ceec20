"""The chat policy: any OpenAI-compatible endpoint plays episodes (the teacher, a model under test).

One class, configured twice: the collector's teacher (``ORDEBUG_TEACHER_*``, the teacher's system
prompt, single-turn, a spent budget or a refused key stops the run) and eval's ``--policy openai``
(``ORDEBUG_EVAL_*``, the dataset's system prompt, optionally multi-turn, every failure recorded
with its episode). Both send ``ordebug.prompts.user_message(obs)``: the text converters train on.
The answer comes back as the client's ``ChatResult`` and is read where the episode lives
(``play.answers``); the key stays inside the client and is never recorded.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ordebug.observation import ObservationState
from ordebug.problems import Problem
from ordebug.prompts import user_message
from play.errors import Abort, PolicyError, Stop
from play.llm import BudgetExceeded, ChatResult, LLMCallError, LLMClient


class ChatPolicy:
    """Chat completions with one ``LLMClient`` shared by every concurrent episode."""

    def __init__(
        self,
        client: LLMClient,
        *,
        system: str | None,
        name: str | None = None,
        multi_turn: bool = False,
        stop_on_fatal: bool = True,
        describe: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.system = system
        self.multi_turn = multi_turn
        self.stop_on_fatal = stop_on_fatal
        self.name = name or f"{client.config.model}"
        self._describe = dict(describe or {})

    def config(self) -> dict[str, Any]:
        """The endpoint's public settings (no key, redacted URL) and the prompt's fingerprint."""
        out = self.client.config.public()
        if self.system is not None:
            out["system_prompt"] = self.system
            out["system_prompt_sha256"] = hashlib.sha256(self.system.encode()).hexdigest()[:16]
        return {**out, **self._describe}

    def messages(self, observation: str, history: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        if self.multi_turn and history:
            msgs.extend(history)
        msgs.append({"role": "user", "content": user_message(observation)})
        return msgs

    async def complete(self, observation: str, history: list[dict[str, str]] | None = None) -> ChatResult:
        """The raw completion: PolicyError on a failed call, Stop when the budget is spent, Abort
        when the endpoint refuses the configuration (key, model, URL) and ``stop_on_fatal``."""
        try:
            return await self.client.chat(self.messages(observation, history))
        except BudgetExceeded as exc:
            raise Stop(str(exc)) from None
        except LLMCallError as exc:
            if exc.fatal and self.stop_on_fatal:  # no call can succeed: stop, not one error per problem
                raise Abort(str(exc)) from None
            raise PolicyError(f"LLM call failed: {exc}") from None

    async def act(
        self, obs: str, state: ObservationState | None, history: list[dict[str, str]], *, problem: Problem
    ) -> ChatResult:
        return await self.complete(obs, history)

    async def aclose(self) -> None:
        await self.client.aclose()
