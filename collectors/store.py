"""Append-only JSONL with an exclusive lock, torn-tail repair and "pending = all - done" resume.

One record per line, each appended whole, flushed and fsynced before the next one starts, so a
``kill -9`` at any moment leaves at most one torn last line (no newline). Opening the store
truncates that torn line away; every complete line is a finished unit of work. A second process
that opens the same file fails at once with a clear message (``fcntl.flock`` on ``<file>.lock``;
the kernel drops the lock when its holder dies, so a killed run never leaves a stale lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TextIO

from foundation.atomic import write_atomic
from foundation.jsonl import iter_jsonl
from ordebug.errors import OrDebugError


class StoreLockedError(OrDebugError):
    """Another process is writing the same output file."""


class StoreFormatError(OrDebugError):
    """A complete line of an output file is not a valid record."""


class StorePathError(OrDebugError):
    """The output path cannot be a record file (e.g. it is a directory)."""


KeyFn = Callable[[dict[str, Any]], str]


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class JsonlStore:
    """An output file owned by this process while open.

    ``key(record)`` names the unit a line finishes (``problem_id`` for trajectories).
    ``replaceable`` (optional) marks finished lines that a later line of the same key may
    supersede (failures). With ``retry``, their keys stay pending so the caller plays them again;
    a replaceable line leaves the file only once its replacement is durably appended (the file is
    compacted on close, and a crash in between leaves both lines, which the next open resolves in
    favour of the later one). ``project`` (optional) keeps a small view of every finished line in
    ``self.kept`` (for end-of-run tables) without holding whole records in memory.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        key: KeyFn,
        *,
        overwrite: bool = False,
        replaceable: Callable[[dict[str, Any]], bool] | None = None,
        retry: bool = False,
        project: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self._key = key
        self._overwrite = overwrite
        self._replaceable = replaceable
        self._retry = retry
        self._project = project
        self._lock_fh: TextIO | None = None
        self._fh: TextIO | None = None
        self._write_lock = threading.Lock()
        self.done: set[str] = set()
        self.retrying: set[str] = set()  # replaceable keys to play again (retry=True)
        self.replaced: set[str] = set()  # keys whose replaceable line was superseded in this session
        self._kept: dict[str, Any] = {}
        self.torn_bytes = 0

    @property
    def kept(self) -> list[Any]:
        """The view of every key's current line, in file order."""
        return list(self._kept.values())

    # -- opening -------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self.path.is_dir():
            raise StorePathError(
                f"{self.path} is a directory; the output must be a file, e.g. {self.path / 'trajectories.jsonl'}"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            if self._overwrite:
                self._replace_with([])
            else:
                self._repair_torn_tail()
                self._load()
            self._fh = self.path.open("a", encoding="utf-8")
        except BaseException:
            self.close()
            raise

    def _acquire_lock(self) -> None:
        fh = lock_path(self.path).open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise StoreLockedError(
                f"{self.path}: another collector (pid {holder}) is writing this file; wait for it to "
                f"finish, stop it, or choose another output file"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock_fh = fh

    def _repair_torn_tail(self) -> None:
        """Cut a last line without its newline: the write a crash interrupted."""
        if not self.path.exists():
            return
        with self.path.open("r+b") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            # Walk back to the previous newline (records are small; read in blocks).
            pos = size
            keep = 0
            while pos > 0:
                start = max(0, pos - 65536)
                fh.seek(start)
                block = fh.read(pos - start)
                idx = block.rfind(b"\n")
                if idx >= 0:
                    keep = start + idx + 1
                    break
                pos = start
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
            self.torn_bytes = size - keep

    def _load(self) -> None:
        if not self.path.exists():
            return
        last: dict[str, tuple[int, bool]] = {}  # key -> (line number, replaceable) of its current line
        superseded: set[int] = set()
        fix = (
            "this file was not written by a collector or was edited: "
            "fix or remove that line, or rerun with --overwrite"
        )
        for lineno, record in iter_jsonl(self.path, error=StoreFormatError, fix=fix):
            try:
                key = self._key(record)
            except (KeyError, TypeError, ValueError) as exc:
                raise StoreFormatError(
                    f"{self.path}:{lineno}: record has no usable key ({exc})"
                ) from None
            if key in last:
                if not last[key][1]:
                    raise StoreFormatError(
                        f"{self.path}:{lineno}: {key!r} appears twice; the file was merged by hand — "
                        f"keep one line per unit or rerun with --overwrite"
                    )
                superseded.add(last[key][0])  # a retry's replacement, written before a crash
            replaceable = self._replaceable is not None and self._replaceable(record)
            last[key] = (lineno, replaceable)
            if self._project is not None:
                self._kept[key] = self._project(record)
        for key, (_, replaceable) in last.items():
            (self.retrying if self._retry and replaceable else self.done).add(key)
        if superseded:
            self._rewrite_without(superseded)

    def _rewrite_without(self, linenos: set[int]) -> None:
        with self.path.open("r", encoding="utf-8") as fh:
            lines = [line for n, line in enumerate(fh, 1) if n not in linenos]
        self._replace_with(lines)

    def _compact(self) -> None:
        """Drop the lines superseded by this session's replacements (each key's last line stays)."""
        last: dict[str, int] = {}
        keys: list[str | None] = []
        with self.path.open("r", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                key = self._key(json.loads(line)) if line.strip() else None
                keys.append(key)
                if key in self.replaced:
                    last[key] = lineno
        stale = {n for n, key in enumerate(keys, 1) if key in last and last[key] != n}
        if stale:
            self._rewrite_without(stale)

    def _replace_with(self, lines: list[str]) -> None:
        """Atomically replace the file's content (temp file in the same folder, then rename)."""
        write_atomic(self.path, "".join(lines))

    # -- writing -------------------------------------------------------------------------
    def append_line(self, line: str, key: str, view: Any = None) -> None:
        """Append one complete record line (must end with a newline); durable on return."""
        if not line.endswith("\n") or "\n" in line[:-1]:
            raise ValueError("a record must be exactly one line ending with a newline")
        if self._fh is None:
            raise RuntimeError("store is not open")
        with self._write_lock:
            if key in self.done:
                raise ValueError(f"{key!r} is already in {self.path}")
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self.done.add(key)
            if key in self.retrying:  # its old line goes when the file is compacted on close
                self.retrying.discard(key)
                self.replaced.add(key)
            if self._project is not None:
                self._kept.pop(key, None)  # a replacement moves to the end, as its line does
                self._kept[key] = view if view is not None else self._project(json.loads(line))

    def append(self, record: dict[str, Any]) -> None:
        view = self._project(record) if self._project is not None else None
        self.append_line(json.dumps(record, ensure_ascii=False) + "\n", self._key(record), view)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            if self.replaced:
                self._compact()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None
