"""Reading JSON Lines with errors that name the file and line (and the byte of a bad encoding)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from foundation.errors import ToolkitError


class JsonlError(ToolkitError):
    """A JSON Lines file has a line that is not UTF-8, not JSON, or not a JSON object."""


def iter_jsonl(
    path: str | os.PathLike[str],
    *,
    error: type[ToolkitError] = JsonlError,
    objects: bool = True,
    fix: str | None = None,
) -> Iterator[tuple[int, Any]]:
    """(1-based line number, parsed value) of each non-blank line of ``path``.

    A bad line raises ``error`` (a package's own ToolkitError subclass) with ``where="FILE:LINE"``:
    not UTF-8 (with the byte offset in the file), not JSON, or, when ``objects``, not an object.
    Lines are read as bytes and decoded strictly: ``errors="replace"`` would let U+FFFD characters
    into data without a word.
    """
    path = Path(path)
    offset = 0
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            start, offset = offset, offset + len(raw)
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(
                    f"not UTF-8 text (byte {start + exc.start} of the file: {exc.reason})",
                    where=where,
                    fix=fix or "save the file as UTF-8",
                ) from None
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(
                    f"not valid JSON ({exc.msg}); one JSON value per line", where=where, fix=fix
                ) from None
            if objects and not isinstance(value, dict):
                raise error(f"expected a JSON object, got {type(value).__name__}", where=where, fix=fix)
            yield lineno, value
