"""Read files of model outputs (one JSON object per line) for offline scoring.

Accepted row shapes (first key found wins):

* the answer: ``predict`` (LLaMA-Factory's ``generated_predictions.jsonl``), ``raw_output``,
  ``output``, ``response``, ``prediction``, ``content``, or the last assistant message of
  ``messages``;
* the reference answer (optional): ``label``, ``reference``, ``expected``, or ``output``
  when the answer came from ``predict``/``raw_output``;
* the observation (optional): ``observation``, ``input``, ``prompt``, or the last user
  message of ``messages`` before the answer;
* ``problem_id`` (optional; else read from the observation's ``ID:`` line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.errors import PredictionsFormatError
from foundation.jsonl import iter_jsonl

OUTPUT_KEYS = ("predict", "raw_output", "output", "response", "prediction", "content")
LABEL_KEYS = ("label", "reference", "expected")
OBS_KEYS = ("observation", "input", "prompt")
_ID_LINE = re.compile(r"^ID:\s*(\S+)\s*$", re.MULTILINE)
_NAMES_LINE = re.compile(r"^Constraint Names:\s*\[(.*)\]\s*$", re.MULTILINE)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


@dataclass(frozen=True)
class PredictionLine:
    line: int
    output: str
    label: str | None
    observation: str | None
    problem_id: str | None


def _last(messages: list[Any], role: str) -> tuple[int, str] | None:
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, dict) and m.get("role") == role and isinstance(m.get("content"), str):
            return i, m["content"]
    return None


def parse_row(row: dict[str, Any], where: str) -> PredictionLine:
    output_key = next((k for k in OUTPUT_KEYS if isinstance(row.get(k), str)), None)
    observation = next((row[k] for k in OBS_KEYS if isinstance(row.get(k), str)), None)
    label = next((row[k] for k in LABEL_KEYS if isinstance(row.get(k), str)), None)
    if output_key is not None:
        output = row[output_key]
        if label is None and output_key in ("predict", "raw_output") and isinstance(row.get("output"), str):
            label = row["output"]
    elif isinstance(row.get("messages"), list):
        found = _last(row["messages"], "assistant")
        if found is None:
            raise PredictionsFormatError(f"{where}: 'messages' has no assistant message to score")
        idx, output = found
        if observation is None:
            user = _last(row["messages"][:idx], "user")
            observation = user[1] if user else None
    else:
        raise PredictionsFormatError(
            f"{where}: no answer to score; expected one of the keys {', '.join(OUTPUT_KEYS)} or 'messages'"
        )
    meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    pid = row.get("problem_id") or meta.get("problem_id")
    if not pid and observation:
        m = _ID_LINE.search(observation)
        pid = m.group(1) if m else None
    return PredictionLine(0, output, label, observation, str(pid) if pid else None)


def read_predictions(path: str | Path) -> list[PredictionLine]:
    """Every row of a JSONL predictions file (errors name the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsFormatError(f"{path}: no such predictions file", fix="pass --predictions FILE")
    rows: list[PredictionLine] = []
    for lineno, row in iter_jsonl(path, error=PredictionsFormatError):
        parsed = parse_row(row, f"{path}:{lineno}")
        rows.append(
            PredictionLine(lineno, parsed.output, parsed.label, parsed.observation, parsed.problem_id)
        )
    if not rows:
        raise PredictionsFormatError(f"{path}: no rows", fix="check the file")
    return rows


def names_in_observation(observation: str | None) -> list[str] | None:
    """Constraint names listed by a legacy/rich observation (its 'Constraint Names:' line), if any."""
    if not observation:
        return None
    m = _NAMES_LINE.search(observation)
    if not m:
        return None
    return [a if a else b for a, b in _QUOTED.findall(m.group(1))]
