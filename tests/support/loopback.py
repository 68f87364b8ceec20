"""A loopback OpenAI-compatible chat server for tests and benchmarks (aiohttp, 127.0.0.1 only).

It answers ``POST /v1/chat/completions`` (and ``GET /v1/models``) with scripted replies, a fixed
latency, and injected faults (429 with Retry-After, 500, timeouts, garbage bodies; 401 for a wrong
key with ``api_key=``, 404 for an unknown model with ``models=``), so the real
``openai`` client can be driven end to end with no network. API (documented in
docs/collecting.md, "The loopback server")::

    with LoopbackServer(drop_first_responder(), latency_s=0.2, faults=Faults(rate_429=0.1)) as srv:
        client = AsyncOpenAI(base_url=srv.base_url, api_key="x")
        ...
        srv.stats()            # {"requests": n, "by_status": {...}, "by_fault": {...}}

    # a separate process (benchmarks: keeps the server off the client's GIL)
    with LoopbackProcess(latency_s=0.2, responder="drop_first") as url: ...

    python -m tests.support.loopback --port 8011 --latency 0.2 --responder drop_first
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import web

_REPO = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    """One scripted answer. ``raw_body`` is sent verbatim (garbage); ``delay_s`` overrides latency."""

    content: str = ""
    reasoning_content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float | None = None
    raw_body: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class ChatRequest:
    """What a responder sees: the JSON body and the 0-based request number."""

    body: dict[str, Any]
    index: int

    @property
    def last_user(self) -> str:
        for message in reversed(self.body.get("messages", [])):
            if message.get("role") == "user":
                content = message.get("content", "")
                return content if isinstance(content, str) else json.dumps(content)
        return ""


Responder = Callable[[ChatRequest], Reply]


@dataclass
class Faults:
    """Fault injection, decided per request number from ``seed`` (deterministic for a request order).

    Rates are probabilities per request; ``first`` forces the first requests' faults in order
    (e.g. ``["429", "500", "timeout", "garbage"]``).
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_garbage: float = 0.0
    retry_after_s: float | None = 0.01
    timeout_delay_s: float = 3.0
    seed: int = 0
    first: list[str] = field(default_factory=list)

    def pick(self, index: int) -> str | None:
        if index < len(self.first):
            return self.first[index]
        roll = random.Random(self.seed * 1_000_003 + index).random()
        for name, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("timeout", self.rate_timeout),
            ("garbage", self.rate_garbage),
        ):
            if roll < rate:
                return name
            roll -= rate
        return None


def _fault_reply(kind: str, faults: Faults) -> Reply:
    if kind == "429":
        headers = {} if faults.retry_after_s is None else {"Retry-After": f"{faults.retry_after_s:g}"}
        body = {"error": {"message": "Rate limit reached (loopback)", "type": "rate_limit", "code": "429"}}
        return Reply(status=429, headers=headers, raw_body=json.dumps(body))
    if kind == "500":
        body = {"error": {"message": "internal error (loopback)", "type": "server_error"}}
        return Reply(status=500, raw_body=json.dumps(body))
    if kind == "timeout":
        return Reply(content="Action: SUBMIT()", delay_s=faults.timeout_delay_s)
    if kind == "garbage":
        return Reply(raw_body="<html>502 Bad Gateway</html>\x00{not json")
    raise ValueError(f"unknown fault {kind!r}; use 429, 500, timeout or garbage")


# -- built-in responders -------------------------------------------------------------------
_STATUS = re.compile(r"Status:\s*([A-Z_]+)")
_IIS = re.compile(r"Conflicting Constraints:\s*\[([^\]]*)\]")


_RICH_IIS = re.compile(r"Conflicting Constraints \(\d+\):\n((?:  .*\n)*)")


def observed_status_and_iis(text: str) -> tuple[str | None, list[str]]:
    """Status and IIS constraint names as the legacy or the rich observation layout prints them."""
    status = _STATUS.search(text)
    iis = _IIS.search(text)
    names = re.findall(r"'([^']*)'", iis.group(1)) if iis else []
    rich = _RICH_IIS.search(text) if iis is None else None
    if rich:  # '  c3: 2 x0 + 3 x1 <= 10' per member, then '  … and 4 more'
        names = [line.strip().split(": ", 1)[0] for line in rich.group(1).splitlines() if ": " in line]
    return (status.group(1) if status else None), names


def drop_first_responder(*, reasoning_field: bool = False, think: bool = True) -> Responder:
    """The old teacher as a server: SUBMIT when OPTIMAL, else drop the first IIS constraint.

    ``reasoning_field`` sends the reasoning in ``reasoning_content`` (as vLLM/DeepSeek do);
    ``think`` wraps it in ``<think>`` inside the content otherwise.
    """

    def respond(request: ChatRequest) -> Reply:
        status, iis = observed_status_and_iis(request.last_user)
        if status == "OPTIMAL":
            reasoning, action = "The model is OPTIMAL now, so the repair is complete.", "SUBMIT()"
        elif iis:
            reasoning = f"The IIS holds {len(iis)} constraint(s); {iis[0]} is the first, so I drop it."
            action = f"DROP_CONSTRAINT({iis[0]})"
        else:
            reasoning, action = "No IIS is shown yet; compute it first.", "GET_IIS()"
        if reasoning_field:
            return Reply(content=f"Action: {action}", reasoning_content=reasoning)
        if think:
            return Reply(content=f"<think>\n{reasoning}\n</think>\n\nAction: {action}")
        return Reply(content=f"{reasoning}\nAction: {action}")

    return respond


def fixed_responder(content: str, reasoning_content: str | None = None) -> Responder:
    """Always the same answer (e.g. garbage text the action parser must reject)."""
    return lambda request: Reply(content=content, reasoning_content=reasoning_content)


def summary_responder() -> Responder:
    """A summariser: JSON with the first line as the question and the first result quoted verbatim."""

    def respond(request: ChatRequest) -> Reply:
        text = request.last_user
        first = text.strip().splitlines()[0] if text.strip() else ""
        question = first.removeprefix("Question:").strip()
        m = re.search(r"<result>\s*([^\n]{8,120})", text)
        quote = m.group(1).strip().replace('"', "'") if m else first[:80].replace('"', "'")
        body = {
            "question": question,
            "reasoning_summary": "The agent searched and read the results.",
            "search_results_summary": f'"{quote}"',
        }
        return Reply(content=json.dumps(body))

    return respond


RESPONDERS: dict[str, Callable[[], Responder]] = {
    "summary": summary_responder,
    "drop_first": drop_first_responder,
    "drop_first_reasoning": lambda: drop_first_responder(reasoning_field=True),
    "submit": lambda: fixed_responder("<think>\nDone.\n</think>\n\nAction: SUBMIT()"),
}


# -- the server ------------------------------------------------------------------------------
def _completion_body(request: ChatRequest, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning_content is not None:
        message["reasoning_content"] = reply.reasoning_content
    prompt_chars = sum(len(str(m.get("content", ""))) for m in request.body.get("messages", []))
    prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else max(1, prompt_chars // 4)
    reasoning_tokens = len(reply.reasoning_content or "") // 4
    completion_tokens = (
        reply.completion_tokens
        if reply.completion_tokens is not None
        else max(1, len(reply.content) // 4) + reasoning_tokens
    )
    return {
        "id": f"chatcmpl-loopback-{request.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.body.get("model", "loopback"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        },
    }


class LoopbackServer:
    """The server on its own event loop in a daemon thread; ``start()`` returns once it listens."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency_s: float = 0.0,
        faults: Faults | None = None,
        api_key: str | None = None,
        models: list[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
    ) -> None:
        self.responder = responder or drop_first_responder()
        self.latency_s = latency_s
        self.faults = faults or Faults()
        self.api_key = api_key
        self.models = models  # None: any model name is served; else others get 404 (as OpenAI/vLLM)
        self.host, self.port = host, port
        self.record = record
        self.requests: list[dict[str, Any]] = []  # bodies only: headers (the key) are never kept
        self._statuses: Counter[int] = Counter()
        self._faults_seen: Counter[str] = Counter()
        self._count = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._count,
                "by_status": dict(self._statuses),
                "by_fault": dict(self._faults_seen),
            }

    # -- aiohttp handlers ------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "loopback", "object": "model"}]})

    async def _chat(self, http: web.Request) -> web.StreamResponse:
        if self.api_key is not None and http.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._send(401, {"error": {"message": "invalid API key (loopback)", "type": "auth"}})
        try:
            body = await http.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request"}})
        if self.models is not None and body.get("model") not in self.models:
            message = f"The model `{body.get('model')}` does not exist (loopback)"
            return self._send(404, {"error": {"message": message, "type": "invalid_request_error"}})
        with self._lock:
            index = self._count
            self._count += 1
            if self.record:
                self.requests.append(body)
        request = ChatRequest(body=body, index=index)
        fault = self.faults.pick(index)
        if fault is not None:
            with self._lock:
                self._faults_seen[fault] += 1
            reply = _fault_reply(fault, self.faults)
        else:
            reply = self.responder(request)
        delay = self.latency_s if reply.delay_s is None else reply.delay_s
        if delay > 0:
            await asyncio.sleep(delay)
        if reply.raw_body is not None:
            with self._lock:
                self._statuses[reply.status] += 1
            return web.Response(
                status=reply.status,
                text=reply.raw_body,
                headers=reply.headers,
                content_type="application/json",
            )
        return self._send(reply.status, _completion_body(request, reply), reply.headers)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
        with self._lock:
            self._statuses[status] += 1
        return web.json_response(body, status=status, headers=headers or {})

    # -- lifecycle -------------------------------------------------------------------------
    async def start_async(self) -> None:
        """Listen on the current loop (for use inside an asyncio program)."""
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> LoopbackServer:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # noqa: BLE001 — surfaced to the caller of start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:  # e.g. a handler still sleeping out an injected timeout
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=serve, name="loopback-openai", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            done = asyncio.run_coroutine_threadsafe(self.stop_async(), self._loop)
            done.result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoopbackProcess:
    """``python -m tests.support.loopback`` in a child process; the context value is its base URL."""

    def __init__(
        self, *, latency_s: float = 0.0, responder: str = "drop_first", extra: list[str] | None = None
    ):
        self.args = [
            sys.executable, "-m", "tests.support.loopback", "--port", "0",
            "--latency", str(latency_s), "--responder", responder, *(extra or []),
        ]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        # cwd: `tests.support` is importable from the repository root, wherever the caller runs
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True, cwd=_REPO)
        line = self.proc.stdout.readline() if self.proc.stdout is not None else ""
        if not line.startswith("LOOPBACK_URL "):
            self.proc.kill()
            raise RuntimeError(f"loopback server did not start: {line!r}")
        return line.split(" ", 1)[1].strip()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.loopback",
        description="Serve a scripted OpenAI-compatible chat endpoint on 127.0.0.1 (tests, benchmarks).",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port; printed on start)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--responder", choices=sorted(RESPONDERS), default="drop_first")
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--rate-500", type=float, default=0.0)
    parser.add_argument("--rate-timeout", type=float, default=0.0)
    parser.add_argument("--rate-garbage", type=float, default=0.0)
    parser.add_argument("--api-key", default=None, help="require this bearer key (tests only)")
    args = parser.parse_args(argv)
    faults = Faults(
        rate_429=args.rate_429,
        rate_500=args.rate_500,
        rate_timeout=args.rate_timeout,
        rate_garbage=args.rate_garbage,
    )
    server = LoopbackServer(
        RESPONDERS[args.responder](),
        latency_s=args.latency,
        faults=faults,
        api_key=args.api_key,
        port=args.port,
        record=False,
    )

    async def run() -> None:
        await server.start_async()
        print(f"LOOPBACK_URL {server.base_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop_async()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
