"""The one LLM client (teacher and model under test): a chat call with a bounded, recorded retry policy.

The real ``openai.AsyncOpenAI`` client does the HTTP (auth, timeouts, status errors); its own
retries are switched off (``max_retries=0``) so this module owns the policy: retry 408/409/429/5xx, timeouts, connection
errors and malformed bodies, at most ``max_retries`` times, sleeping ``backoff_base_s * 2**n``
(with jitter, capped at ``backoff_max_s``) or the server's ``Retry-After`` when it sends one
(capped at ``retry_after_max_s``). Every retry is counted and its reason kept, so a trajectory
shows what a call cost. Usage and cost accumulate on the client; an optional budget stops new
calls (``BudgetExceeded``) once reached — calls already in flight finish and are counted.

Requests go through the client's generic ``post("/chat/completions", cast_to=bytes)`` and the
JSON is read here: the typed ``chat.completions.create`` path re-validates every request and
response through pydantic, which costs about 40% more CPU per call — CPU that a 64-way collector
on a small machine needs for its solver steps — and a body that is not JSON must become a
retryable "malformed response" anyway.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncOpenAI

from foundation.redact import redact, register_secret
from ordebug.errors import OrDebugError
from ordebug.trajectory import Usage
from play.llm_config import LLMConfig, redact_url

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


#: Answers that say the endpoint, key or model is wrong: no other call can succeed either.
FATAL_STATUS = frozenset({401, 403, 404})


class LLMCallError(OrDebugError):
    """A call failed for good: retries exhausted or an error retrying cannot fix (401, 400…).

    ``fatal`` marks a failure of the configuration rather than of this call (bad or missing key,
    unknown model or path, endpoint unreachable): a collector stops the run on it instead of
    recording one error per problem.
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        errors: Sequence[str],
        fatal: bool = False,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.attempts = attempts
        self.errors = list(errors)
        self.fatal = fatal


class BudgetExceeded(OrDebugError):
    """The configured spending budget is used up; no new calls are made."""


@dataclass
class ChatResult:
    """What one successful call returned, with what it took to get it."""

    content: str
    reasoning_content: str | None
    finish_reason: str | None
    usage: Usage
    latency_s: float
    errors: list[str] = field(default_factory=list)


class _Malformed(Exception):
    """The server answered 200 with a body that is not a chat completion."""


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a server asked us to wait: ``retry-after-ms``, ``retry-after`` (seconds or HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        if when is None:
            return None
        return max(0.0, when.timestamp() - time.time())


def _message_reasoning(message: dict[str, Any]) -> str | None:
    """The server's separate reasoning field (vLLM/DeepSeek ``reasoning_content``, others ``reasoning``)."""
    for name in ("reasoning_content", "reasoning"):
        value = message.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class LLMClient:
    """Chat calls with retries, usage and cost accounting; one instance per event loop."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._client: AsyncOpenAI | None = None  # made on first use, inside the event loop that uses it
        self._secret = config.api_key.get_secret_value()
        register_secret(self._secret)  # the CLI error printer and the summary/results writers hide it too
        self._sleep = sleep
        self._rng = rng or random.Random(0)
        self.total = Usage()
        self.failed_calls = 0

    def _openai(self) -> AsyncOpenAI:
        if self._client is None:
            self._client = AsyncOpenAI(
                base_url=self.config.base_url,
                api_key=self._secret,
                timeout=self.config.timeout_s,
                max_retries=0,  # the retry policy is ours: bounded, honours Retry-After, recorded
            )
        return self._client

    @property
    def spent_usd(self) -> float:
        return self.total.cost_usd

    def budget_left(self) -> bool:
        budget = self.config.budget_usd
        return budget is None or self.total.cost_usd < budget

    def budget_stop(self) -> str | None:
        """Why no new call may start (None while the budget allows)."""
        if self.budget_left():
            return None
        return f"teacher budget of ${self.config.budget_usd:.2f} reached (spent ${self.spent_usd:.4f})"

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        price = self.config.price()
        if price is None:
            return 0.0
        cached = cached_tokens if price.cached_input is not None else 0
        return (
            (prompt_tokens - cached) * price.input
            + cached * (price.cached_input or 0.0)
            + completion_tokens * price.output
        ) / 1e6

    async def chat(self, messages: list[dict[str, str]], **params: Any) -> ChatResult:
        """One completion; raise LLMCallError when it cannot be had, BudgetExceeded when spent."""
        reason = self.budget_stop()
        if reason is not None:
            raise BudgetExceeded(reason)
        cfg = self.config
        body: dict[str, Any] = {"model": cfg.model, "messages": messages, "temperature": cfg.temperature}
        for key, value in (("seed", cfg.seed), ("max_tokens", cfg.max_tokens), ("top_p", cfg.top_p)):
            if value is not None:
                body[key] = value
        body.update(cfg.extra_body)
        body.update(params)

        errors: list[str] = []
        started = time.perf_counter()
        for attempt in range(cfg.max_retries + 1):
            wait: float | None = None
            try:
                async with asyncio.timeout(cfg.timeout_s):
                    raw = await self._openai().post("/chat/completions", body=body, cast_to=bytes)
                result = self._read(raw)
            except (TimeoutError, openai.APITimeoutError):
                errors.append(f"timeout after {cfg.timeout_s:g}s")
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    self._account_failure(attempt)
                    raise LLMCallError(
                        f"HTTP {exc.status_code} ({type(exc).__name__}) from the endpoint {redact_url(cfg.base_url)}: "
                        f"{self._redact(exc.message)}",
                        attempts=attempt + 1,
                        errors=[*errors, f"HTTP {exc.status_code}"],
                        fatal=exc.status_code in FATAL_STATUS,
                        fix=self._fix_for(exc.status_code),
                    ) from None
                wait = retry_after_seconds(exc.response.headers)
                errors.append(
                    f"HTTP {exc.status_code}" + (f" (retry-after {wait:g}s)" if wait is not None else "")
                )
            except openai.APIConnectionError as exc:
                errors.append(f"connection error: {self._redact(str(exc))}")
            except (_Malformed, openai.APIResponseValidationError) as exc:
                errors.append(f"malformed response: {self._redact(str(exc))}")
            else:
                result.latency_s = time.perf_counter() - started
                result.errors = errors
                result.usage.retries = attempt
                self._account(result.usage)
                return result
            if attempt == cfg.max_retries:
                break
            await self._sleep(self._backoff(attempt, wait))
        self._account_failure(cfg.max_retries)
        unreachable = all(e.startswith("connection error") for e in errors)
        raise LLMCallError(
            f"gave up after {len(errors)} attempts: {'; '.join(errors[-3:])}",
            attempts=len(errors),
            errors=errors,
            fatal=unreachable,  # never connected at all: the endpoint is down or the URL is wrong
            fix=f"check that the server at {redact_url(cfg.base_url)} is running and reachable" if unreachable else None,
        )

    def _fix_for(self, status: int) -> str | None:
        """What to change when the endpoint refuses the configuration itself."""
        cfg = self.config
        if status in (401, 403):
            if self._secret in ("", "EMPTY"):
                return f"no API key is set: export {cfg.api_key_env}=<your key> and rerun"
            return f"check the API key in ${cfg.api_key_env} (and its access to model {cfg.model!r})"
        if status == 404:
            return f"check the model name {cfg.model!r} and base_url {redact_url(cfg.base_url)} (it usually ends in /v1)"
        return None

    def _redact(self, text: str) -> str:
        """Error text may echo what was sent; never let the key (or a piece of it) through.

        Redact the whole text, then shorten it: shortening first cuts the key into a piece that
        whole-key replacement no longer finds.
        """
        return _short(redact(text, [self._secret]))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        if retry_after is not None:
            return min(retry_after, cfg.retry_after_max_s)
        base = min(cfg.backoff_max_s, cfg.backoff_base_s * (2**attempt))
        return base * (0.5 + 0.5 * self._rng.random())

    def _read(self, raw: bytes) -> ChatResult:
        """A chat completion from the response body; _Malformed when it is not one."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Malformed(f"body is not JSON ({exc}): {raw!r}") from None  # _redact shortens it
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _Malformed(f"no choices in the response: {str(data)!r}")  # _redact shortens it
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise _Malformed("the choice has no message")
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise _Malformed(f"message content is {type(content).__name__}, not text")
        usage = data.get("usage") or {}
        prompt = _int(usage.get("prompt_tokens"))
        completion_tokens = _int(usage.get("completion_tokens"))
        reasoning_tokens = _int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens"))
        cached = _int((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        return ChatResult(
            content=content,
            reasoning_content=_message_reasoning(message),
            finish_reason=choices[0].get("finish_reason"),
            usage=Usage(
                prompt_tokens=prompt,
                completion_tokens=completion_tokens,
                reasoning_tokens=reasoning_tokens,
                cost_usd=self.cost(prompt, completion_tokens, cached),
                calls=1,
            ),
            latency_s=0.0,
        )

    def _account(self, usage: Usage) -> None:
        t = self.total
        t.prompt_tokens += usage.prompt_tokens
        t.completion_tokens += usage.completion_tokens
        t.reasoning_tokens += usage.reasoning_tokens
        t.cost_usd += usage.cost_usd
        t.calls += 1
        t.retries += usage.retries

    def _account_failure(self, retries: int) -> None:
        self.total.retries += retries
        self.failed_calls += 1

    async def aclose(self) -> None:
        """Close the HTTP client (a later call opens a new one, e.g. in another event loop)."""
        if self._client is not None:
            await self._client.close()
            self._client = None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
