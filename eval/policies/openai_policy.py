"""Any OpenAI-compatible chat endpoint as a policy (a vLLM server, OpenAI, a gateway).

A base model, a teacher and a served fine-tune are thus scored on the same footing as the
in-process model: same system prompt, same user message (``ordebug.prompts.user_message``).
Settings come from CLI options or the environment (``ORDEBUG_EVAL_BASE_URL``,
``ORDEBUG_EVAL_MODEL``, ``ORDEBUG_EVAL_API_KEY``); the key is read from the environment only
and never recorded.
"""

from __future__ import annotations

import os
from typing import Any

from eval.errors import EvalConfigError, PolicyError
from foundation.redact import redact_url
from ordebug.observation import ObservationState
from ordebug.problems import Problem
from ordebug.prompts import user_message

ENV_BASE_URL = "ORDEBUG_EVAL_BASE_URL"
ENV_API_KEY = "ORDEBUG_EVAL_API_KEY"
ENV_MODEL = "ORDEBUG_EVAL_MODEL"


def merge_reasoning(content: str, reasoning: str | None) -> str:
    """Put a server-split reasoning field back into <think> so the format is scored as trained.

    vLLM's reasoning parsers and several APIs return the thinking in ``reasoning_content``
    and only the rest in ``content``; the fine-tune emits both in one text.
    """
    if not reasoning or not reasoning.strip() or "<think>" in content:
        return content
    return f"<think>\n{reasoning.strip()}\n</think>\n\n{content.lstrip()}"


class OpenAIPolicy:
    """Chat-completions policy; one ``AsyncOpenAI`` client shared by all episodes."""

    def __init__(
        self,
        *,
        system: str | None,
        base_url: str | None = None,
        model: str | None = None,
        temperature: float = 0.0,
        top_p: float | None = None,
        max_tokens: int | None = 2048,
        seed: int | None = 0,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        multi_turn: bool = False,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        from openai import AsyncOpenAI

        base_url = base_url or os.environ.get(ENV_BASE_URL)
        model = model or os.environ.get(ENV_MODEL)
        if not base_url:
            raise EvalConfigError(
                "the openai policy needs an endpoint", fix=f"pass --base-url URL or set {ENV_BASE_URL}"
            )
        if not model:
            raise EvalConfigError(
                "the openai policy needs a model name", fix=f"pass --model NAME or set {ENV_MODEL}"
            )
        self.base_url, self.model = base_url, model
        self.name = f"openai:{model}"
        self.system = system
        self.sampling = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "seed": seed}
        self.multi_turn = multi_turn
        self.extra_body = dict(extra_body or {})
        self.timeout_s, self.max_retries = timeout_s, max_retries
        # The key lives only in the client object; "EMPTY" is what vLLM accepts without --api-key.
        self._client = AsyncOpenAI(
            base_url=base_url,
            api_key=os.environ.get(ENV_API_KEY) or "EMPTY",
            timeout=timeout_s,
            max_retries=max_retries,
        )
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0}

    def config(self) -> dict[str, Any]:
        return {
            "kind": "openai",
            "base_url": redact_url(self.base_url),
            "model": self.model,
            "sampling": dict(self.sampling),
            "multi_turn": self.multi_turn,
            "extra_body": self.extra_body,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "merge_reasoning_content": True,
            "usage": dict(self.usage),
        }

    def messages(self, obs: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        if self.multi_turn:
            msgs.extend(history)
        msgs.append({"role": "user", "content": user_message(obs)})
        return msgs

    async def act(
        self, obs: str, state: ObservationState, history: list[dict[str, str]], *, problem: Problem
    ) -> str:
        from openai import OpenAIError

        kwargs = {k: v for k, v in self.sampling.items() if v is not None}
        try:
            resp = await self._client.chat.completions.create(
                model=self.model,
                messages=self.messages(obs, history),
                extra_body=self.extra_body or None,
                **kwargs,
            )
        except OpenAIError as exc:
            # the message of openai's errors never contains the key
            raise PolicyError(f"{redact_url(self.base_url)}: {type(exc).__name__}: {exc}") from None
        if not resp.choices:
            raise PolicyError(f"{redact_url(self.base_url)}: the response has no choices")
        msg = resp.choices[0].message
        extra = msg.model_extra or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        if resp.usage is not None:
            self.usage["prompt_tokens"] += resp.usage.prompt_tokens or 0
            self.usage["completion_tokens"] += resp.usage.completion_tokens or 0
        self.usage["calls"] += 1
        return merge_reasoning(msg.content or "", reasoning if isinstance(reasoning, str) else None)

    async def aclose(self) -> None:
        await self._client.close()
