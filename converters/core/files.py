"""File modes and the per-dataset lock of the converters' writers.

Modes: ``tempfile.mkstemp``/``mkdtemp`` create 0600 files and 0700 directories; renamed into
place they would lock out a training job run by another user. ``foundation.atomic.publish_mode``
gives the temporary the mode the target already has, or the one the umask gives a new one.

Lock: two converts of one dataset name at once would both write ``data/<name>/`` and both
register it, the last silently winning. :func:`dataset_lock` holds ``data/.<name>.lock``
(``flock``) for a whole convert; a second one fails at once with a message naming the holder.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from converters.core.errors import ConvertError
from foundation.atomic import current_umask, publish_mode  # noqa: F401  (one definition: foundation.atomic)


@contextmanager
def dataset_lock(root: str | os.PathLike[str], name: str) -> Iterator[None]:
    """Hold the lock of dataset ``name`` under ``root``; ConvertError at once if another process has it.

    The lock file is removed on release; a process that opened it just before checks, once
    locked, that the path still names the file it holds, and retries on a fresh one otherwise.
    """
    path = Path(root).resolve() / "data" / f".{name}.lock"
    made_dir = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~current_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise ConvertError(
                f"dataset {name!r} is being written by another convert (pid {holder}); "
                "two runs with one name would silently replace each other's files and registration",
                where=str(path),
                fix="wait for that run to finish, or pass another --name (NAME=)",
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed this file after we opened it: take a fresh one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
        if made_dir and not any(path.parent.iterdir()):  # a convert that failed leaves no empty data/
            path.parent.rmdir()
