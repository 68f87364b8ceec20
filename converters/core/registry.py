"""The one writer of LLaMA-Factory's ``dataset_info.json``.

Every converter registers its datasets through :func:`register_datasets`: entries are
validated against what LLaMA-Factory 0.9.5 reads (``data/parser.py``), merged into the
existing file without touching other names, and written atomically (temporary file +
rename) under an exclusive lock, so two converters running at once never lose an entry.

Paths: LLaMA-Factory joins ``dataset_dir`` and ``file_name``. The project's convention is
``dataset_dir: "."`` with training started from the repository root, so every
``file_name`` is stored relative to the root (``data/<name>/train.jsonl``).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from converters.core.errors import RegistryError
from foundation.atomic import write_json_atomic

DATASET_INFO = "dataset_info.json"

FORMATTINGS = ("alpaca", "sharegpt", "openai")
#: Column keys LLaMA-Factory reads from an entry's "columns" (parser.py: DatasetAttr.join).
COLUMN_KEYS = frozenset(
    {"prompt", "query", "response", "history", "messages", "system", "tools"}
    | {"images", "videos", "audios", "chosen", "rejected", "kto_tag"}
)
#: Tag keys LLaMA-Factory reads from an entry's "tags".
TAG_KEYS = frozenset(
    {"role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag", "system_tag"}
)
#: Top-level keys of a local-file entry.
ENTRY_KEYS = frozenset(
    {"file_name", "formatting", "ranking", "subset", "split", "folder", "num_samples", "columns", "tags"}
)
SOURCE_KEYS = ("file_name", "hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")
#: Role/content tags of OpenAI-style ``messages`` ([{"role": "user", "content": ...}, ...]).
OPENAI_TAGS: dict[str, str] = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "observation_tag": "tool",
    "function_tag": "function_call",
    "system_tag": "system",
}
_DATA_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".arrow", ".txt")


def alpaca_entry(file_name: str, *, system: bool = True, history: bool = False) -> dict[str, Any]:
    """Entry for Alpaca rows ``instruction``/``input``/``output`` (+ ``system``, ``history``)."""
    columns = {"prompt": "instruction", "query": "input", "response": "output"}
    if system:
        columns["system"] = "system"
    if history:
        columns["history"] = "history"
    return {"file_name": file_name, "formatting": "alpaca", "columns": columns}


def messages_entry(
    file_name: str,
    *,
    messages: str = "messages",
    tags: Mapping[str, str] | None = None,
    system: str | None = None,
    tools: str | None = None,
) -> dict[str, Any]:
    """Entry for ShareGPT-formatted rows holding OpenAI-style ``messages`` (role/content dicts).

    A leading ``{"role": "system"}`` message is the system prompt (LLaMA-Factory's
    SharegptDatasetConverter); ``system``/``tools`` name optional extra columns.
    """
    columns: dict[str, str] = {"messages": messages}
    if system:
        columns["system"] = system
    if tools:
        columns["tools"] = tools
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": columns,
        "tags": dict(tags or OPENAI_TAGS),
    }


def info_path(root: str | os.PathLike[str] = ".") -> Path:
    """Where the registry lives: ``<root>/dataset_info.json`` (LLaMA-Factory's ``dataset_dir``)."""
    return Path(root) / DATASET_INFO


def relative_file_name(path: str | os.PathLike[str], root: str | os.PathLike[str] = ".") -> str:
    """``path`` as LLaMA-Factory must see it from ``root`` (POSIX, relative); error if outside root."""
    root_abs = Path(root).resolve()
    p = Path(path)
    p_abs = p.resolve() if p.is_absolute() else (root_abs / p).resolve()
    try:
        return p_abs.relative_to(root_abs).as_posix()
    except ValueError:
        raise RegistryError(
            f"dataset file {p_abs} is outside the dataset root {root_abs}",
            fix="write datasets under the root (e.g. <root>/data/<name>/) so dataset_dir '.' finds them",
        ) from None


def validate_entry(
    name: str, entry: Mapping[str, Any], *, root: str | os.PathLike[str] | None = None
) -> None:
    """Raise RegistryError unless ``entry`` is what LLaMA-Factory 0.9.5 can load.

    With ``root`` given, a local ``file_name`` must also exist under it.
    """
    where = f"{DATASET_INFO} entry {name!r}"
    if not isinstance(name, str) or not name or any(c.isspace() for c in name) or "," in name:
        raise RegistryError(
            f"invalid dataset name {name!r}", fix="use letters, digits, _ . - (no spaces or commas)"
        )
    if not isinstance(entry, Mapping):
        raise RegistryError("entry must be an object", where=where)
    sources = [k for k in SOURCE_KEYS if k in entry]
    if len(sources) != 1:
        raise RegistryError(
            f"needs exactly one of {', '.join(SOURCE_KEYS)}, has {sources or 'none'}", where=where
        )
    if "file_name" in entry:
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise RegistryError(
                f"unknown keys {sorted(unknown)}; LLaMA-Factory reads {sorted(ENTRY_KEYS)}", where=where
            )
        file_name = entry["file_name"]
        if not isinstance(file_name, str) or not file_name:
            raise RegistryError("file_name must be a non-empty string", where=where)
        if Path(file_name).is_absolute():
            raise RegistryError(
                f"file_name {file_name!r} is absolute", where=where, fix="store it relative to the root"
            )
        if root is not None:
            local = Path(root) / file_name
            if not local.exists():
                raise RegistryError(
                    f"file_name {file_name!r} does not exist under {Path(root).resolve()}", where=where
                )
            if local.is_file() and local.suffix not in _DATA_SUFFIXES:
                raise RegistryError(
                    f"file_name {file_name!r}: LLaMA-Factory reads {', '.join(_DATA_SUFFIXES)}", where=where
                )
    formatting = entry.get("formatting", "alpaca")
    if formatting not in FORMATTINGS:
        raise RegistryError(f"formatting {formatting!r} is not one of {', '.join(FORMATTINGS)}", where=where)
    columns = entry.get("columns", {})
    if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()):
        raise RegistryError("columns must map column keys to column names (strings)", where=where)
    if set(columns) - COLUMN_KEYS:
        raise RegistryError(f"unknown column keys {sorted(set(columns) - COLUMN_KEYS)}", where=where)
    tags = entry.get("tags", {})
    if not isinstance(tags, Mapping) or set(tags) - TAG_KEYS:
        raise RegistryError(f"tags must be an object with keys from {sorted(TAG_KEYS)}", where=where)
    if formatting == "alpaca":
        if tags:
            raise RegistryError(
                "alpaca entries take no tags (tags are for sharegpt/openai messages)", where=where
            )
        if "messages" in columns:
            raise RegistryError(
                "alpaca entries have prompt/query/response columns, not messages", where=where
            )
    elif "messages" not in columns:
        raise RegistryError(f"{formatting} entries need columns.messages", where=where)


def load_dataset_info(root: str | os.PathLike[str] = ".") -> dict[str, Any]:
    """The registry as a dict ({} when the file does not exist yet)."""
    path = info_path(root)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as exc:
        raise RegistryError(
            f"not valid JSON (line {exc.lineno}: {exc.msg})",
            where=str(path),
            fix="repair or delete it, then re-run",
        ) from None
    if not isinstance(data, dict):
        raise RegistryError("must hold a JSON object of dataset entries", where=str(path))
    return data


@contextmanager
def _locked(root: str | os.PathLike[str]) -> Iterator[None]:
    # A side lock file: the registry itself is replaced by rename, so it cannot carry the lock.
    lock_path = info_path(root).with_name(DATASET_INFO + ".lock")
    with open(lock_path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def register_datasets(
    entries: Mapping[str, Mapping[str, Any]],
    *,
    root: str | os.PathLike[str] = ".",
    check_files: bool = True,
) -> dict[str, str]:
    """Merge ``entries`` into ``<root>/dataset_info.json``; return {name: "added"|"replaced"|"unchanged"}.

    Entries with other names are kept as they are, in their order; an entry with the same
    name is replaced in place (a dataset name is its owner's). Every entry is validated
    first (and its file checked to exist under ``root`` when ``check_files``), so a bad
    entry leaves the file untouched. Absolute ``file_name`` paths under ``root`` are made
    relative.
    """
    cleaned: dict[str, dict[str, Any]] = {}
    for name, entry in entries.items():
        entry = dict(entry)
        if "file_name" in entry and Path(entry["file_name"]).is_absolute():
            entry["file_name"] = relative_file_name(entry["file_name"], root)
        validate_entry(name, entry, root=root if check_files else None)
        cleaned[name] = entry
    path = info_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        info = load_dataset_info(root)
        changes: dict[str, str] = {}
        for name, entry in cleaned.items():
            changes[name] = (
                "added" if name not in info else ("unchanged" if info[name] == entry else "replaced")
            )
            info[name] = entry
        write_json_atomic(path, info)
    return changes


def unregister_datasets(names: Iterable[str], *, root: str | os.PathLike[str] = ".") -> list[str]:
    """Remove entries by name (missing names are ignored); return the names removed."""
    path = info_path(root)
    with _locked(root):
        info = load_dataset_info(root)
        removed = [n for n in names if n in info]
        if removed:
            for n in removed:
                del info[n]
            write_json_atomic(path, info)
    return removed
