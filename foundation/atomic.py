"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The data goes to a temporary file in the target's folder (same file system, so the rename is
atomic), is flushed to disk, gets the target's mode (``mkstemp`` makes 0600 files, which would lock
out a training job run by another user) and is renamed over the target. On any error the
temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def current_umask() -> int:
    # os.umask only reads by setting; restore it at once
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Give ``tmp`` (about to replace ``final``) the mode of ``final``, or the umask's for a new one."""
    try:
        mode = stat.S_IMODE(os.stat(final).st_mode)
    except FileNotFoundError:
        full = 0o777 if os.path.isdir(tmp) else 0o666
        mode = full & ~current_umask()
    os.chmod(tmp, mode)


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        publish_mode(tmp, path)
        write(Path(tmp))
        with open(tmp, "rb+") as fh:  # durable before the rename, whatever ``write`` did
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to ``path`` atomically."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    atomic_write_with(path, lambda tmp: tmp.write_bytes(raw))


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2) -> None:
    """Write ``data`` as a JSON document (UTF-8, not ASCII-escaped, newline-terminated) atomically.

    The text is built before the file is touched, so data that cannot be serialised leaves the
    target as it was.
    """
    write_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def share_private_files(root: str | os.PathLike[str]) -> int:
    """Give files under ``root`` left at 0600 the mode the umask gives a new file (0644 under 022).

    safetensors (0.7 and later) saves through a private temporary file renamed into place, so
    trained weights (``model.safetensors``, ``adapter_model.safetensors``, checkpoints, merged
    models) come out 0600 whatever the umask: a job or a colleague under another user cannot read
    them. Only files at exactly 0600 change; a mode someone chose stays. Returns how many changed.
    """
    wanted = 0o666 & ~current_umask()
    if wanted == 0o600:
        return 0
    changed = 0
    for path in Path(root).rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600:
                path.chmod(wanted)
                changed += 1
        except OSError:  # another rank removed or replaced it meanwhile (rotated checkpoints)
            continue
    return changed
