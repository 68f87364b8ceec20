"""Reading converter inputs: trajectory JSONL, Alpaca JSON/JSONL, chat-messages JSONL.

Kinds are detected from content (the first record), not trusted from the extension alone:

- ``trajectories``: JSONL whose lines carry ``"schema"`` (ordebug.trajectory).
- ``alpaca``: a ``.json`` file holding a list, or the legacy wrapper ``{"metadata": …, "data": […]}``,
  or JSONL lines with ``instruction``/``output`` (this converter's own output reads back too).
- ``messages``: JSONL lines with ``messages`` (role/content) or ``conversations`` (from/value).

Legacy messages join instruction and input with a blank line (``instruction + "\\n\\n" + input``);
LLaMA-Factory joins Alpaca columns with one newline (``ordebug.prompts.user_message``). The user
turn is re-split at its first blank line into instruction and input so that every sample,
whatever file it came from, reaches the model through the same rule: ``instruction + "\\n" + input``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from converters.core.errors import ConvertError
from converters.core.samples import Sample, family_of, make_meta
from converters.core.utf8 import FIX, NotUtf8, bad_byte, utf8_lines
from ordebug.prompts import INSTRUCTION

InputKind = Literal["trajectories", "alpaca", "messages"]
KINDS: tuple[str, ...] = ("trajectories", "alpaca", "messages")
#: Mixing label of OR-Debug-Bench's legacy files.
LEGACY_SOURCE = "legacy"

_ID_LINE = re.compile(r"^ID: (\S+)$", re.MULTILINE)
_TYPE_LINE = re.compile(r"^Type: (\S+)$", re.MULTILINE)
_ROLE_KEYS = {"role": "content", "from": "value"}
_ROLE_NAMES = {
    "human": "user",
    "gpt": "assistant",
    "user": "user",
    "assistant": "assistant",
    "system": "system",
}


@dataclass
class ReadStats:
    """What reading saw: records, skips by reason (with a few locations), problem sources.

    Samples keep the system prompt their file had ("" if none); the pipeline sets one for all.
    """

    records: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_at: dict[str, list[str]] = field(default_factory=dict)
    problem_sources: dict[str, str] = field(default_factory=dict)
    #: agent -> [problems whose first action alone made the model OPTIMAL, problems read]
    first_step: dict[str, list[int]] = field(default_factory=dict)

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        locations = self.skipped_at.setdefault(reason, [])
        if len(locations) < 20:
            locations.append(where)


def detect_kind(path: Path) -> InputKind:
    """The input kind of ``path`` from its first record; ConvertError naming the file if unknown."""
    if not path.is_file():
        raise ConvertError(
            f"input {path} does not exist or is not a file", fix="pass trajectory/SFT files with --in"
        )
    if path.suffix == ".json":
        return "alpaca"
    if path.suffix != ".jsonl":
        raise ConvertError(
            f"{path}: unsupported file type {path.suffix!r}", fix="inputs are .jsonl or .json files"
        )
    first_bad: NotUtf8 | None = None
    for lineno, line in utf8_lines(path):
        if isinstance(line, NotUtf8):  # the reader reports it (or skips it under --skip-bad-lines)
            first_bad = first_bad or line
            continue
        if not line.strip():
            continue
        try:
            first = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConvertError(f"not valid JSON ({exc.msg})", where=f"{path}:{lineno}") from None
        if not isinstance(first, dict):
            raise ConvertError(
                f"expected a JSON object, got {type(first).__name__}", where=f"{path}:{lineno}"
            )
        if "schema" in first or ("steps" in first and "outcome" in first):
            return "trajectories"
        if "messages" in first or "conversations" in first:
            return "messages"
        if "instruction" in first or "output" in first:
            return "alpaca"
        raise ConvertError(
            f"unknown record with keys {sorted(first)[:8]}",
            where=f"{path}:{lineno}",
            fix="expected a trajectory (schema), an Alpaca sample (instruction/input/output) or messages",
        )
    if first_bad is not None:
        raise ConvertError(f"{first_bad}; no readable line", where=str(path), fix=FIX)
    raise ConvertError(
        f"{path} is empty", fix="collect trajectories first (make collect) or pass other --in files"
    )


def _text(rec: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = rec.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ConvertError(
            f"key {key!r} is {'missing' if value is None else type(value).__name__}, expected a string",
            where=where,
        )
    return value


def _legacy_meta(raw: Any, text_input: str, *, source: str, origin: str) -> dict[str, Any]:
    """Typed metadata of an SFT-file sample: its own ``metadata`` where present, else what the
    legacy input text says (``ID:`` and ``Type:`` lines)."""
    meta = raw if isinstance(raw, dict) else {}
    pid = meta.get("problem_id") or _first(_ID_LINE, text_input)
    steps = meta.get("steps") if isinstance(meta.get("steps"), int) else None
    try:
        return _make_legacy_meta(meta, pid, steps, text_input, source, origin)
    except (TypeError, ValueError) as exc:
        raise ConvertError(f"metadata: {exc}", where=origin, fix="step/steps must be whole numbers") from None


def _make_legacy_meta(
    meta: dict[str, Any], pid: str | None, steps: int | None, text_input: str, source: str, origin: str
) -> dict[str, Any]:
    return make_meta(
        problem_id=pid,
        error_type=meta.get("error_type") or _first(_TYPE_LINE, text_input),
        difficulty=meta.get("difficulty"),
        family=meta.get("family") or family_of(pid or "", meta),
        # legacy samples are the teacher's last step: metadata.steps says which (tests/data/README.md)
        step=meta.get("step", steps),
        steps=steps,
        agent=meta.get("agent"),
        source=meta.get("source") or source,
        success=meta.get("success", True),
        layout=meta.get("layout") or "legacy",
        origin=origin,
    )


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1) if m else None


def read_alpaca(path: Path, *, source: str, stats: ReadStats, skip_bad: bool) -> Iterator[Sample]:
    """Alpaca samples from a .json list / legacy wrapper, or .jsonl lines."""
    for where, rec in _records(path, stats, skip_bad):
        try:
            if not isinstance(rec, dict):
                raise ConvertError(f"expected an object, got {type(rec).__name__}", where=where)
            instruction = _text(rec, "instruction", where)
            text_input = _text(rec, "input", where, required=False)
            output = _text(rec, "output", where)
        except ConvertError:
            if not skip_bad:
                raise
            stats.skip("bad_line", where)
            continue
        meta = _legacy_meta(rec.get("metadata"), text_input, source=source, origin=where)
        _note_problem_source(path, meta["problem_id"], stats)
        system = rec.get("system") if isinstance(rec.get("system"), str) else ""
        yield Sample(instruction, text_input, output, system, meta)


def read_messages(path: Path, *, source: str, stats: ReadStats, skip_bad: bool) -> Iterator[Sample]:
    """Chat samples ``[system], user, assistant`` from JSONL; the user turn is re-split (module doc)."""
    for where, rec in _records(path, stats, skip_bad):
        try:
            sample = _messages_sample(rec, where, source=source)
        except ConvertError:
            if not skip_bad:
                raise
            stats.skip("bad_line", where)
            continue
        _note_problem_source(path, sample.meta["problem_id"], stats)
        yield sample


def _messages_sample(rec: Any, where: str, *, source: str) -> Sample:
    if not isinstance(rec, dict):
        raise ConvertError(f"expected an object, got {type(rec).__name__}", where=where)
    messages = rec.get("messages", rec.get("conversations"))
    if not isinstance(messages, list) or not messages:
        raise ConvertError("key 'messages' is missing or not a non-empty list", where=where)
    turns: list[tuple[str, str]] = []
    for i, msg in enumerate(messages):
        role_key = next((k for k in _ROLE_KEYS if isinstance(msg, dict) and k in msg), None)
        if role_key is None:
            raise ConvertError(f"messages[{i}] has no 'role' (or 'from')", where=where)
        role = _ROLE_NAMES.get(msg[role_key])
        content = msg.get(_ROLE_KEYS[role_key])
        if role is None or not isinstance(content, str):
            raise ConvertError(
                f"messages[{i}]: unknown role {msg[role_key]!r} or non-string content", where=where
            )
        turns.append((role, content))
    system = ""
    if turns[0][0] == "system":
        system, turns = turns[0][1], turns[1:]
    if [r for r, _ in turns] != ["user", "assistant"]:
        raise ConvertError(
            f"expected [system,] user, assistant; got {[r for r, _ in turns]}",
            where=where,
            fix="step-level samples have one user turn and one answer",
        )
    user, output = turns[0][1], turns[1][1]
    instruction, sep, text_input = user.partition("\n\n")
    if not sep:  # no blank line: the whole turn is the instruction
        instruction, text_input = user, ""
    elif instruction.startswith(INSTRUCTION + "\n"):  # already joined by the one-newline rule
        instruction, text_input = INSTRUCTION, user[len(INSTRUCTION) + 1 :]
    meta = _legacy_meta(rec.get("metadata"), text_input, source=source, origin=where)
    return Sample(instruction, text_input, output, system, meta)


def _note_problem_source(path: Path, problem_id: str, stats: ReadStats) -> None:
    """Legacy files keep their models beside them (models/<problem_id>.mps): eval can replay them."""
    if problem_id and problem_id not in stats.problem_sources:
        model = path.parent / "models" / f"{problem_id}.mps"
        if model.is_file():
            stats.problem_sources[problem_id] = str(model)


def _records(path: Path, stats: ReadStats, skip_bad: bool) -> Iterator[tuple[str, Any]]:
    """(location, record) pairs of a .json list/wrapper or of .jsonl lines."""
    if path.suffix == ".json":
        try:
            data, bad = _load_json(path, skip_bad)
        except json.JSONDecodeError as exc:
            raise ConvertError(f"not valid JSON (line {exc.lineno}: {exc.msg})", where=str(path)) from None
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            items, prefix = data["data"], "data"
        elif isinstance(data, list):
            items, prefix = data, ""
        else:
            raise ConvertError(
                "expected a list of samples or {'metadata': ..., 'data': [...]}", where=str(path)
            )
        if not items:
            raise ConvertError(f"{path} holds no samples", fix="pass a file with samples")
        for i, rec in enumerate(items):
            stats.records += 1
            if bad is not None and _has_bad_bytes(rec):
                stats.skip("not_utf8", f"{path}:{prefix}[{i}] ({bad})")
                continue
            yield f"{path}:{prefix}[{i}]", rec
        return
    n = 0
    for lineno, line in utf8_lines(path):
        if isinstance(line, NotUtf8):
            if not skip_bad:
                raise ConvertError(
                    str(line), where=f"{path}:{lineno}", fix=f"{FIX}, or pass --skip-bad-lines"
                )
            stats.records += 1
            stats.skip("not_utf8", f"{path}:{lineno}")
            continue
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        stats.records += 1
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            if not skip_bad:
                raise ConvertError(
                    f"not valid JSON ({exc.msg})",
                    where=where,
                    fix="fix the line or pass --skip-bad-lines",
                ) from None
            stats.skip("bad_line", where)
            continue
        n += 1
        yield where, rec
    if n == 0:
        raise ConvertError(f"{path} holds no samples", fix="pass a file with samples")


def _load_json(path: Path, skip_bad: bool) -> tuple[Any, NotUtf8 | None]:
    """A whole .json file, and where its first non-UTF-8 byte is (None when it has none).

    Bad bytes inside strings survive decoding as lone surrogates (``surrogateescape``) when
    ``skip_bad``, so the records holding them can be counted and skipped one by one.
    """
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8")), None
    except UnicodeDecodeError as exc:
        bad = bad_byte(raw, exc)
        if not skip_bad:
            raise ConvertError(str(bad), where=str(path), fix=f"{FIX}, or pass --skip-bad-lines") from None
    return json.loads(raw.decode("utf-8", "surrogateescape")), bad


def _has_bad_bytes(rec: Any) -> bool:
    try:
        json.dumps(rec, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: a byte that was not UTF-8
        return True
    return False
