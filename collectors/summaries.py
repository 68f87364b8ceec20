"""Add an LLM ``summary`` to every sample of a search-trace JSONL (the search-agent workload's add_summary step, docs/workloads.md).

    python -m collectors.summaries --in samples.jsonl --out with_summary.jsonl --max-concurrent 16

Each output line is the input sample, unchanged, plus::

    "summary": "Question: …\n\nReasoning summary: …\n\nKey facts from search results:\n\"…\"" | null
    "summary_parts": {"question": …, "reasoning_summary": …, "search_results_summary": …} | null
    "summary_error": null | "why it failed"
    "summary_meta": {"model", "prompt_tokens", "completion_tokens", "cost_usd", "retries",
                     "verbatim_quotes": [found, total]}

Same guarantees as the collectors: bounded concurrency, one whole fsynced line per finished
sample, a lock on the output, resume = pending = all - done (``--retry-failed`` also redoes
samples whose summary failed), the teacher's retry/cost/budget handling (play.llm). Samples
are keyed by their ``id``, else ``trace_id`` + ``step``, else a content hash. The sample format is
described in docs/collecting.md ("Search-trace step samples").
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from collectors.aio import AsyncPool, Stop
from collectors.store import JsonlStore
from foundation.atomic import write_json_atomic
from foundation.cli import cli_main
from foundation.jsonl import iter_jsonl
from foundation.redact import redact_json
from ordebug.errors import OrDebugError
from play.llm import BudgetExceeded, LLMCallError, LLMClient
from play.llm_config import load_llm_config

SUMMARY_KEYS = ("question", "reasoning_summary", "search_results_summary")
OWN_KEYS = ("summary", "summary_parts", "summary_error", "summary_meta")

SYSTEM_PROMPT = (
    "You compress the working context of a search agent. Read the question, the agent's reasoning "
    "so far and the search results, and answer with one JSON object with exactly these keys:\n"
    '  "question": the question that must be answered, stated clearly and completely;\n'
    '  "reasoning_summary": a brief description of the reasoning so far (what was tried, what is '
    "known, what is still open);\n"
    '  "search_results_summary": the key facts from the search results that matter for the '
    'question, each quoted VERBATIM in double quotes ("...") with its source when given, one per '
    "line. Never paraphrase inside quotes; leave out what does not help answer the question.\n"
    "Answer with the JSON object only."
)


class SampleFormatError(OrDebugError):
    """An input sample has no text to summarise or a bad id."""


def sample_key(sample: dict[str, Any]) -> str:
    """``id``, else ``trace_id#step``, else a hash of the content (own fields excluded, so output
    lines get the key of the input line they came from)."""
    if sample.get("id") is not None:
        return str(sample["id"])
    if sample.get("trace_id") is not None and sample.get("step") is not None:
        return f"{sample['trace_id']}#{sample['step']}"
    body = {k: v for k, v in sample.items() if k not in OWN_KEYS}
    return (
        "sha256:"
        + hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:24]
    )


def _messages_text(messages: list[Any]) -> str:
    parts = []
    for m in messages:
        if isinstance(m, dict) and m.get("role") != "assistant":
            content = m.get("content", "")
            parts.append(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False))
    return "\n\n".join(parts)


def sample_text(sample: dict[str, Any]) -> str:
    """The context to summarise: ``prompt`` (text or chat messages), else ``messages``, else ``question``."""
    prompt = sample.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt
    if isinstance(prompt, list) and prompt:
        return _messages_text(prompt)
    messages = sample.get("messages")
    if isinstance(messages, list) and messages:
        return _messages_text(messages)
    question = sample.get("question")
    if isinstance(question, str) and question.strip():
        context = sample.get("context")
        return question if not context else f"{question}\n\n{context}"
    raise SampleFormatError(
        f"sample {sample_key(sample)!r} has no 'prompt', 'messages' or 'question' text",
        fix="give each sample a 'prompt' (text or chat messages), 'messages' or 'question' field "
        "(format: docs/collecting.md, 'Search-trace step samples')",
    )


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)
_QUOTE = re.compile(r'"([^"\n]{8,})"')


def parse_summary(content: str) -> dict[str, str]:
    """The summary object from the model's text; ValueError saying why it is not one."""
    text = _FENCE.sub("", content.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"answer is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("answer is not a JSON object")  # noqa: TRY004 — callers catch ValueError
    missing = [k for k in SUMMARY_KEYS if not isinstance(data.get(k), str | list)]
    if missing:
        raise ValueError(f"answer lacks {', '.join(missing)}")
    return {k: data[k] if isinstance(data[k], str) else "\n".join(map(str, data[k])) for k in SUMMARY_KEYS}


def render_summary(parts: dict[str, str]) -> str:
    """The one-string summary the converters read (search_format.md)."""
    return (
        f"Question: {parts['question'].strip()}\n\n"
        f"Reasoning summary: {parts['reasoning_summary'].strip()}\n\n"
        f"Key facts from search results:\n{parts['search_results_summary'].strip()}"
    )


def verbatim_quotes(summary: dict[str, str], source: str) -> list[int]:
    """[quotes found verbatim in the source, quotes] of the search-results summary (a quality check)."""
    quotes = _QUOTE.findall(summary["search_results_summary"])
    return [sum(1 for q in quotes if q in source), len(quotes)]


@dataclass
class Outcome:
    record: dict[str, Any]
    ok: bool


class Summariser:
    """Summarise samples through one LLMClient."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client

    async def summarise(self, sample: dict[str, Any]) -> Outcome:
        text = sample_text(sample)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
        record = {k: v for k, v in sample.items() if k not in OWN_KEYS}
        meta: dict[str, Any] = {"model": self.client.config.model}
        try:
            result = await self.client.chat(messages)
        except BudgetExceeded as exc:
            raise Stop(str(exc)) from None
        except LLMCallError as exc:
            meta["retries"] = max(0, exc.attempts - 1)
            return Outcome(_failed(record, str(exc), meta), False)
        meta.update(
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            cost_usd=result.usage.cost_usd,
            retries=result.usage.retries,
        )
        try:
            summary = parse_summary(result.content)
        except ValueError as exc:
            error = f"unparseable summary: {exc}; answer began {result.content[:80]!r}"
            return Outcome(_failed(record, error, meta), False)
        meta["verbatim_quotes"] = verbatim_quotes(summary, text)
        done = {"summary": render_summary(summary), "summary_parts": summary, "summary_error": None}
        return Outcome({**record, **done, "summary_meta": meta}, True)


def _failed(record: dict[str, Any], error: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {**record, "summary": None, "summary_parts": None, "summary_error": error, "summary_meta": meta}


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Input samples; errors name the line and the fix. Duplicate ids are an error."""
    if not path.is_file():
        raise SampleFormatError(f"{path} does not exist", fix="pass --in FILE with one JSON sample per line")
    samples: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for lineno, sample in iter_jsonl(path, error=SampleFormatError):
        key = sample_key(sample)
        if key in seen:
            if key.startswith("sha256:"):
                continue  # an identical sample: summarised once
            raise SampleFormatError(
                f"{path}:{lineno}: id {key!r} already used on line {seen[key]}",
                fix="give samples unique ids",
            )
        seen[key] = lineno
        sample_text(sample)  # fail early, naming the sample, not mid-run
        samples.append(sample)
    return samples


async def summarise_file(
    in_path: Path,
    out_path: Path,
    *,
    max_concurrent: int,
    overwrite: bool = False,
    retry_failed: bool = False,
    limit: int | None = None,
    client: LLMClient,
    progress: bool = True,
) -> dict[str, Any]:
    """Summarise every pending sample of ``in_path`` into ``out_path``; return the run summary."""
    samples = read_samples(in_path)
    with JsonlStore(
        out_path,
        sample_key,
        overwrite=overwrite,
        replaceable=lambda r: r.get("summary") is None,  # a failed summary, kept until replaced
        retry=retry_failed,
        project=lambda r: r.get("summary") is not None,
    ) as store:
        pending = [s for s in samples if sample_key(s) not in store.done]
        if limit is not None:
            pending = pending[:limit]
        bar = tqdm(
            total=len(pending), desc="summaries", unit="sample", disable=not progress, dynamic_ncols=True
        )
        summariser = Summariser(client)
        counts = {"ok": 0, "failed": 0}

        def write(sample: dict[str, Any], outcome: Outcome) -> None:
            store.append(outcome.record)
            counts["ok" if outcome.ok else "failed"] += 1
            bar.update(1)
            bar.set_postfix(ok=counts["ok"], failed=counts["failed"], cost=f"${client.spent_usd:.4f}")

        pool: AsyncPool[dict[str, Any], Outcome] = AsyncPool(
            summariser.summarise, write, concurrency=max_concurrent, stop=client.budget_stop
        )
        try:
            await pool.run(pending)
        finally:
            bar.close()
        kept = store.kept
    summary = {
        "input": str(in_path),
        "output": str(out_path),
        "samples": len(samples),
        "done": len(kept),
        "summarised": sum(1 for ok in kept if ok),
        "failed": sum(1 for ok in kept if not ok),
        "this_run": counts,
        "unfinished": pool.unfinished,
        "stopped": pool.stopped_reason,
        "llm": client.config.public(),
        "usage": client.total.model_dump(),
    }
    write_json_atomic(out_path.with_name(out_path.name + ".summary.json"), redact_json(summary))
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m collectors.summaries",
        description="Add an LLM summary (question, reasoning summary, verbatim key facts from search "
        "results) to every sample of a JSONL file. Resumable: rerun to continue; a lock stops two runs "
        "writing one file. Endpoint from ORDEBUG_TEACHER_* variables or --config (see README).",
    )
    parser.add_argument("--in", dest="in_path", type=Path, required=True, help="input JSONL of samples")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL (samples + summary)")
    parser.add_argument("--max-concurrent", type=int, default=16, help="calls in flight (default 16)")
    parser.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    parser.add_argument("--retry-failed", action="store_true", help="redo samples whose summary failed")
    parser.add_argument("--limit", type=int, default=None, help="summarise at most N pending samples")
    parser.add_argument(
        "--config", type=Path, default=None, help="endpoint YAML (default $ORDEBUG_TEACHER_CONFIG)"
    )
    parser.add_argument("--model", default=None, help="override the model name")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_concurrent < 1:
        print("error: --max-concurrent must be at least 1", file=sys.stderr)
        return 2
    if args.in_path.resolve() == args.out.resolve():
        print("error: --in and --out are the same file; write summaries to a new file", file=sys.stderr)
        return 2
    config = load_llm_config(args.config, overrides={"model": args.model})

    async def run() -> dict[str, Any]:
        client = LLMClient(config)
        try:
            return await summarise_file(
                args.in_path,
                args.out,
                max_concurrent=args.max_concurrent,
                overwrite=args.overwrite,
                retry_failed=args.retry_failed,
                limit=args.limit,
                client=client,
                progress=not args.no_progress,
            )
        finally:
            await client.aclose()

    summary = asyncio.run(run())
    print(
        f"{summary['done']}/{summary['samples']} samples done: {summary['summarised']} summarised, "
        f"{summary['failed']} failed; this run ${summary['usage']['cost_usd']:.4f}, "
        f"{summary['usage']['calls']} calls, {summary['usage']['retries']} retries -> {args.out}"
    )
    if summary["stopped"]:
        print(f"stopped early: {summary['stopped']}; rerun to continue", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
