"""Write a workload converter's split files atomically, then register them (converters.core.registry).

Layout (the project convention): ``<root>/data/<name>/{train,val}.<jsonl|parquet>`` plus
``card.json`` (settings, counts, drops, which groups went to which split), registered in
``<root>/dataset_info.json`` as ``<name>_train`` / ``<name>_val``. Nothing is half-written: every
file goes to a temporary name and is renamed into place; registration happens last.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from converters.core.files import dataset_lock
from converters.core.registry import register_datasets, relative_file_name, unregister_datasets
from foundation.atomic import atomic_write_with

SPLITS = ("train", "val")


def dataset_dir(root: str | os.PathLike[str], name: str) -> Path:
    # absolute: registry paths are relative to the root, not to the working directory (--root demo)
    return Path(root).resolve() / "data" / name


def registered_name(name: str, split: str) -> str:
    return f"{name}_{split}"


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Rows as JSON lines (UTF-8, not ASCII-escaped), atomically; returns the row count."""
    count = 0

    def _write(tmp: Path) -> None:
        nonlocal count
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write_with(path, _write)
    return count


def write_parquet(path: Path, rows: list[dict[str, Any]] | pa.Table, *, row_group_size: int = 4096) -> int:
    """Rows (or a table) as parquet, atomically; returns the row count."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    atomic_write_with(path, lambda tmp: pq.write_table(table, tmp, row_group_size=row_group_size))
    return table.num_rows


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    def _write(tmp: Path) -> None:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    atomic_write_with(path, _write)


def publish_splits(root: str | os.PathLike[str], name: str, splits: Mapping[str, list[dict[str, Any]]],
                   *, fmt: str, entry_for: Callable[[str], dict[str, Any]]) -> dict[str, int]:
    """Write each non-empty split to ``data/<name>/<split>.<fmt>`` and register it as ``<name>_<split>``.

    A split that is empty this time loses its old file and registration, so a re-run never leaves
    a stale val set behind. Returns {registered name: rows}. Another process publishing the same
    name at the same time gets a ConvertError (converters.core.files.dataset_lock).
    """
    with dataset_lock(root, name):
        return _publish(root, name, splits, fmt=fmt, entry_for=entry_for)


def _publish(root: str | os.PathLike[str], name: str, splits: Mapping[str, list[dict[str, Any]]],
             *, fmt: str, entry_for: Callable[[str], dict[str, Any]]) -> dict[str, int]:
    directory = dataset_dir(root, name)
    entries: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    stale: list[str] = []
    for split in SPLITS:
        path = directory / f"{split}.{fmt}"
        rows = list(splits.get(split, []))
        if not rows:
            path.unlink(missing_ok=True)
            stale.append(registered_name(name, split))
            continue
        n = write_parquet(path, rows) if fmt == "parquet" else write_jsonl(path, rows)
        entries[registered_name(name, split)] = entry_for(relative_file_name(path, root))
        counts[registered_name(name, split)] = n
    if stale:
        unregister_datasets(stale, root=root)
    if entries:
        register_datasets(entries, root=root)
    return counts
