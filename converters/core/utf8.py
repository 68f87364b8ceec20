"""Reading converter inputs as UTF-8 with the place of any bad byte, never a UnicodeDecodeError traceback.

Readers take lines as bytes and decode each one: a line that is not UTF-8 becomes a :class:`NotUtf8`
naming its line and the byte offset in the file, which the reader turns into its own error (or a
counted skip under ``--skip-bad-lines``). Decoding with ``errors="replace"`` would instead put
U+FFFD characters into training data without a word.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

FIX = "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"


@dataclass(frozen=True, slots=True)
class NotUtf8:
    """Where a line stops being UTF-8."""

    lineno: int
    offset: int  # byte offset of the first bad byte in the file

    def __str__(self) -> str:
        return f"not valid UTF-8 (line {self.lineno}, byte offset {self.offset} in the file)"


def bad_byte(raw: bytes, exc: UnicodeDecodeError, *, start: int = 0) -> NotUtf8:
    """The NotUtf8 of a decode error in ``raw`` (a whole file, or a line beginning at file offset ``start``)."""
    return NotUtf8(raw.count(b"\n", 0, exc.start) + 1, start + exc.start)


def utf8_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str | NotUtf8]]:
    """(1-based line number, text or NotUtf8) for each line of ``path``, line endings kept."""
    offset = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = bad_byte(raw, exc, start=offset)
                yield lineno, NotUtf8(lineno, where.offset)
            offset += len(raw)
