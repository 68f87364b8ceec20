"""Search-agent traces (docs/workloads.md): the input schema, its accepted variants, and the text rendering.

Canonical input, one JSON object per line:

    {"id": "q17", "question": "Who ...?", "system": "(optional)",
     "steps": [{"type": "reasoning", "content": "..."},
               {"type": "search", "content": "query text"},
               {"type": "search_result", "content": "retrieved text"},
               ...,
               {"type": "answer", "content": "final answer"}]}

Accepted variants:
- id: ``id`` | ``trace_id`` | ``qid`` | ``question_id`` | ``uid`` | ``sample_id``; none -> ``<file>:<line>``.
- question: ``question`` | ``query`` | ``prompt`` | ``input`` | ``problem`` | ``instruction``.
- steps list: ``steps`` | ``trace`` | ``trajectory`` | ``turns`` | ``process``; each step names its kind
  in ``type`` | ``step_type`` | ``kind`` | ``role`` and its text in ``content`` | ``text`` | ``value`` |
  ``query`` | ``result`` | ``results`` | ``documents`` | ``output`` | ``answer``. Kinds and synonyms:
  reasoning (think, thinking, thought), search (search_query, query, tool_call),
  search_result (result, observation, information, documents, tool_result),
  answer (final_answer, final, response). A list of documents is joined (``title`` + text per doc).
- one tagged text in ``output`` | ``response`` | ``completion`` | ``trajectory`` (Search-R1 style):
  ``<think>…</think> <search>…</search> <information>…</information> … <answer>…</answer>``;
  untagged text between tags is reasoning; ``<result>``/``<documents>`` also mark results.
- chat ``messages``: the first user message is the question; assistant contents are tagged text as
  above; later user/tool messages are search results.

Rendering (one fixed layout for prompts and targets; blocks joined by a blank line):

    Question: {question}
    <think>\\n{reasoning}\\n</think>
    <search>{query}</search>
    <result>\\n{result}\\n</result>
    <answer>{answer}</answer>
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("reasoning", "search", "result", "answer")
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("reasoning", "think", "thinking", "thought", "reason"), "reasoning"),
    **dict.fromkeys(("search", "search_query", "query", "tool_call"), "search"),
    **dict.fromkeys(("search_result", "result", "results", "observation", "information", "documents",
                     "tool_result", "tool"), "result"),
    **dict.fromkeys(("answer", "final_answer", "final", "response"), "answer"),
}
TAG_KINDS = {"think": "reasoning", "search": "search", "information": "result", "result": "result",
             "documents": "result", "answer": "answer"}
ID_KEYS = ("id", "trace_id", "qid", "question_id", "uid", "sample_id")
QUESTION_KEYS = ("question", "query", "prompt", "input", "problem", "instruction")
STEP_LIST_KEYS = ("steps", "trace", "trajectory", "turns", "process")
TEXT_KEYS = ("output", "response", "completion", "trajectory")
STEP_KIND_KEYS = ("type", "step_type", "kind", "role")
STEP_TEXT_KEYS = ("content", "text", "value", "query", "result", "results", "documents", "output", "answer")
_TAG_RE = re.compile(r"<(think|search|information|result|documents|answer)>(.*?)</\1>", re.DOTALL)


class TraceFormatError(ValueError):
    """A trace line that cannot be read; ``code`` is the drop-report reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


@dataclass(frozen=True)
class Step:
    kind: str  # one of KINDS
    text: str


@dataclass(frozen=True)
class Trace:
    trace_id: str
    question: str
    system: str
    steps: tuple[Step, ...]

    @property
    def n_results(self) -> int:
        return sum(s.kind == "result" for s in self.steps)


def _doc_text(doc: Any) -> str:
    if isinstance(doc, Mapping):
        title = str(doc.get("title", "") or "")
        body = next((str(doc[k]) for k in ("contents", "content", "text", "snippet") if doc.get(k)), "")
        return f"{title}\n{body}".strip() if title else body
    return str(doc)


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(_doc_text(d) for d in value)
    return value if isinstance(value, str) else _doc_text(value)


def parse_tagged(text: str) -> list[Step]:
    """Search-R1 style tagged text -> steps (untagged text between tags is reasoning)."""
    steps: list[Step] = []
    pos = 0
    for match in _TAG_RE.finditer(text):
        loose = text[pos:match.start()].strip()
        if loose:
            steps.append(Step("reasoning", loose))
        steps.append(Step(TAG_KINDS[match.group(1)], match.group(2).strip()))
        pos = match.end()
    rest = text[pos:].strip()
    if rest:
        steps.append(Step("reasoning", rest))
    return steps


def _step(item: Any, index: int) -> Step:
    if not isinstance(item, Mapping):
        raise TraceFormatError("bad_step", f"step {index} is not an object")
    raw_kind = next((item[k] for k in STEP_KIND_KEYS if isinstance(item.get(k), str)), None)
    kind = SYNONYMS.get(str(raw_kind).lower()) if raw_kind is not None else None
    if kind is None:
        raise TraceFormatError("unknown_step_type", f"step {index} has type {raw_kind!r}; "
                               f"use one of {', '.join(KINDS)} (or a synonym)")
    value = next((item[k] for k in STEP_TEXT_KEYS if item.get(k) not in (None, "")), None)
    if value is None:
        raise TraceFormatError("empty_step", f"step {index} ({kind}) has no text")
    return Step(kind, _as_text(value).strip())


def _from_messages(messages: list[Any]) -> tuple[str, list[Step]]:
    question = ""
    steps: list[Step] = []
    for m in messages:
        if not isinstance(m, Mapping):
            continue
        role, content = m.get("role"), _as_text(m.get("content", ""))
        if role == "system":
            continue
        if role == "assistant":
            steps += parse_tagged(content)
        elif not question and role == "user":
            question = content
        else:
            tagged = parse_tagged(content)
            steps += [Step("result", s.text) for s in tagged] if tagged else [Step("result", content)]
    return question, steps


def parse_trace(obj: Any, fallback_id: str) -> Trace:
    """One input record -> Trace; raises TraceFormatError with a drop-report code."""
    if not isinstance(obj, Mapping):
        raise TraceFormatError("not_object", "line is not a JSON object")
    trace_id = next((str(obj[k]) for k in ID_KEYS if obj.get(k) not in (None, "")), fallback_id)
    question = next((obj[k] for k in QUESTION_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), "")
    steps: list[Step]
    step_list = next((obj[k] for k in STEP_LIST_KEYS if isinstance(obj.get(k), list)), None)
    if step_list is not None:
        steps = [_step(item, i) for i, item in enumerate(step_list)]
    elif isinstance(obj.get("messages"), list):
        asked, steps = _from_messages(obj["messages"])
        question = question or asked
    else:
        text = next((obj[k] for k in TEXT_KEYS if isinstance(obj.get(k), str)), None)
        if text is None:
            raise TraceFormatError("no_steps", f"no steps list ({'/'.join(STEP_LIST_KEYS)}), "
                                   f"messages or tagged text ({'/'.join(TEXT_KEYS)})")
        steps = parse_tagged(text)
    if not question.strip():
        raise TraceFormatError("no_question", f"no question ({'/'.join(QUESTION_KEYS)})")
    if not steps:
        raise TraceFormatError("no_steps", "the trace has no steps")
    if steps[0].kind == "result":
        raise TraceFormatError("result_before_search", "the first step is a search result")
    system = obj.get("system") if isinstance(obj.get("system"), str) else ""
    return Trace(trace_id=trace_id, question=question.strip(), system=system, steps=tuple(steps))


def render_step(step: Step) -> str:
    if step.kind == "reasoning":
        return f"<think>\n{step.text}\n</think>"
    if step.kind == "search":
        return f"<search>{step.text}</search>"
    if step.kind == "result":
        return f"<result>\n{step.text}\n</result>"
    return f"<answer>{step.text}</answer>"


def render(steps: tuple[Step, ...] | list[Step]) -> str:
    return "\n\n".join(render_step(s) for s in steps)


def render_question(question: str) -> str:
    return f"Question: {question}"
