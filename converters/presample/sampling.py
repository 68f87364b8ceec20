"""Sample rows from local parquet files of any size with bounded memory (docs/workloads.md).

Several files form one logical dataset (e.g. the shards of a public set); a row's global index
runs over them in the order given. Memory holds one record batch of the needed columns (plus
the reader's buffer for one column chunk) and the sample itself, never the file.

Methods (each returns rows in the order they were accepted; ``accept(row)`` filters):
- ``first``: the first N accepted rows in file order; stops reading once it has them.
- ``uniform``: row count from the parquet footers; candidate indices are drawn uniformly without
  replacement, in random order, and only the row groups that hold them are read.
- ``reservoir``: one streaming pass that never uses the row count (reservoir sampling,
  Algorithm L: geometric skips, so per-batch work is only the replacements); the reservoir,
  shuffled, is the candidate order.

Filtering without detecting every row: candidates come in a uniformly random order (a prefix of a
random permutation of all rows) and ``accept`` runs on them one by one until N pass. The first N
rows of a random permutation that pass a filter are a uniform sample of the rows that pass, so
this rejection sampling stays uniform while the detector (the costly part) runs on about
N / pass-rate rows instead of all of them. When a round's candidates run out, the next round
draws more from the rows not yet drawn (``uniform``) or makes another pass excluding them
(``reservoir``), sized from the pass rate seen so far.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from converters.core.workload_errors import PresampleError

Row = dict[str, Any]
Accept = Callable[[Row], bool]
# Memory: pyarrow's defaults pre-buffer whole row groups (the whole file, for a full scan) and a fixed
# row count per batch can mean hundreds of MB of text; stream column chunks through a small buffer
# and size batches in bytes instead (measured on a 400 MB file: peak RSS ~150 MB instead of ~700 MB).
READ_BUFFER = 1 << 20
BATCH_BYTES = 4 << 20  # target decoded size of one record batch
MAX_BATCH_ROWS = 65536


@dataclass(frozen=True)
class Source:
    path: Path
    num_rows: int
    offset: int  # global index of the first row
    rg_starts: tuple[int, ...]  # local index of each row group's first row


@dataclass
class Stats:
    """What sampling did (stored in the dataset card)."""

    total_rows: int = 0
    rows_scanned: int = 0  # rows whose batch was decoded
    candidates: int = 0  # rows handed to accept()
    accepted: int = 0
    rounds: int = 0  # sampling rounds (reservoir: full passes over the data)


def open_sources(paths: Sequence[Path]) -> list[Source]:
    """Footer metadata of each file (no data read); a bad file is an error naming it."""
    sources: list[Source] = []
    offset = 0
    for path in paths:
        try:
            meta = pq.ParquetFile(path).metadata
        except (OSError, pa.ArrowInvalid) as err:
            raise PresampleError(f"not a readable parquet file ({' '.join(str(err).split())[:160]})",
                                 where=str(path), fix="pass parquet files (IN=FILES)") from None
        starts, acc = [], 0
        for i in range(meta.num_row_groups):
            starts.append(acc)
            acc += meta.row_group(i).num_rows
        sources.append(Source(path, meta.num_rows, offset, tuple(starts)))
        offset += meta.num_rows
    return sources


def _open(path: Path) -> pq.ParquetFile:
    return pq.ParquetFile(path, buffer_size=READ_BUFFER, pre_buffer=False)


def auto_batch_rows(sources: Sequence[Source], columns: list[str]) -> int:
    """Rows per batch so one batch of ``columns`` decodes to about BATCH_BYTES (from the footers)."""
    size = rows = 0
    for src in sources:
        meta = pq.ParquetFile(src.path).metadata
        for i in range(meta.num_row_groups):
            rg = meta.row_group(i)
            rows += rg.num_rows
            for j in range(rg.num_columns):
                col = rg.column(j)
                if col.path_in_schema.split(".")[0] in columns:
                    size += col.total_uncompressed_size
    per_row = size / rows if rows else 1
    return int(min(MAX_BATCH_ROWS, max(64, BATCH_BYTES // max(per_row, 1))))


def _with_origin(rows: list[Row], src: Source, local: Sequence[int]) -> list[Row]:
    for row, idx in zip(rows, local, strict=True):
        row["_file"] = str(src.path)
        row["_row"] = int(idx)
    return rows


def iter_batches(sources: Sequence[Source], columns: list[str], batch_rows: int,
                 stats: Stats) -> Iterator[tuple[Source, int, pa.RecordBatch]]:
    """(source, local index of the batch's first row, batch) over every file in order."""
    total = sum(s.num_rows for s in sources)
    with tqdm(total=total, desc="scan", unit="row", unit_scale=True, disable=None, leave=False) as bar:
        for src in sources:
            local = 0
            for batch in _open(src.path).iter_batches(batch_size=batch_rows, columns=columns, use_threads=False):
                stats.rows_scanned += batch.num_rows
                bar.update(batch.num_rows)
                yield src, local, batch
                local += batch.num_rows


def rows_at(sources: Sequence[Source], indices: Sequence[int], columns: list[str], batch_rows: int,
            stats: Stats) -> dict[int, Row]:
    """Rows at the given global indices, reading only the row groups that hold them."""
    wanted = np.sort(np.asarray(indices, dtype=np.int64))
    found: dict[int, Row] = {}
    for src in sources:
        lo, hi = np.searchsorted(wanted, [src.offset, src.offset + src.num_rows])
        if lo == hi:
            continue
        local = wanted[lo:hi] - src.offset
        groups = np.searchsorted(np.asarray(src.rg_starts), local, side="right") - 1
        pf = _open(src.path)
        for rg in tqdm(np.unique(groups), desc=f"read {src.path.name}", unit="row group", disable=None,
                       leave=False):
            in_rg = local[groups == rg]
            start = src.rg_starts[rg]
            for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[int(rg)], columns=columns,
                                         use_threads=False):
                stats.rows_scanned += batch.num_rows
                end = start + batch.num_rows
                pick = in_rg[(in_rg >= start) & (in_rg < end)]
                if len(pick):
                    rows = _with_origin(batch.take(pa.array(pick - start)).to_pylist(), src, pick.tolist())
                    for idx, row in zip(pick.tolist(), rows, strict=True):
                        found[src.offset + idx] = row
                start = end
                if start > in_rg[-1]:
                    break
    return found


def _take_until(candidates: Iterator[Row], n: int, accepted: list[Row], accept: Accept | None,
                stats: Stats) -> None:
    for row in candidates:
        if len(accepted) >= n:
            return
        stats.candidates += 1
        if accept is None or accept(row):
            accepted.append(row)


def sample_first(sources: Sequence[Source], n: int, columns: list[str], accept: Accept | None,
                 *, batch_rows: int = 8192) -> tuple[list[Row], Stats]:
    stats = Stats(total_rows=sum(s.num_rows for s in sources), rounds=1)
    accepted: list[Row] = []
    for src, local, batch in iter_batches(sources, columns, batch_rows, stats):
        need = n - len(accepted)
        if accept is None:  # take exactly what is missing, convert nothing else
            batch = batch.slice(0, need)
        rows = _with_origin(batch.to_pylist(), src, range(local, local + batch.num_rows))
        _take_until(iter(rows), n, accepted, accept, stats)
        if len(accepted) >= n:
            break
    stats.accepted = len(accepted)
    return accepted, stats


def _next_round_size(n_missing: int, stats: Stats, accepted: int, left: int) -> int:
    rate = max(accepted / stats.candidates, 0.02) if stats.candidates else 1.0
    return min(left, math.ceil(n_missing / rate * 1.2) + 16)


def _draw_new(rng: np.random.Generator, total: int, drawn: np.ndarray, k: int) -> np.ndarray:
    """``k`` indices not in ``drawn`` (sorted), uniformly, in random order."""
    left = total - len(drawn)
    k = min(k, left)
    if len(drawn) * 2 > total:  # few rows left: shuffle the complement outright
        rest = np.setdiff1d(np.arange(total, dtype=np.int64), drawn, assume_unique=True)
        return rng.permutation(rest)[:k]
    out: list[np.ndarray] = []
    have = 0
    seen = drawn
    while have < k:
        cand = rng.integers(0, total, size=max(2 * (k - have), 64), dtype=np.int64)
        _, first = np.unique(cand, return_index=True)
        cand = cand[np.sort(first)]  # sequential draws with repeats removed keep a random order
        cand = cand[~np.isin(cand, seen)][: k - have]
        out.append(cand)
        have += len(cand)
        seen = np.union1d(seen, cand)
    return np.concatenate(out)


def sample_uniform(sources: Sequence[Source], n: int, columns: list[str], accept: Accept | None, *,
                   seed: int = 0, oversample: float = 1.0, batch_rows: int = 8192) -> tuple[list[Row], Stats]:
    total = sum(s.num_rows for s in sources)
    stats = Stats(total_rows=total)
    rng = np.random.default_rng(seed)
    drawn = np.empty(0, dtype=np.int64)
    accepted: list[Row] = []
    k = min(total, math.ceil(n * (oversample if accept is not None else 1.0)))
    while len(accepted) < n and len(drawn) < total:
        stats.rounds += 1
        cand = _draw_new(rng, total, drawn, k)
        drawn = np.union1d(drawn, cand)
        rows = rows_at(sources, cand, columns, batch_rows, stats)
        _take_until((rows[int(i)] for i in cand), n, accepted, accept, stats)
        k = _next_round_size(n - len(accepted), stats, len(accepted), total - len(drawn))
    stats.accepted = len(accepted)
    return accepted, stats


def _uniform01(rnd: random.Random) -> float:
    """A uniform number in the open interval (0, 1): Algorithm L takes its logarithm."""
    u = rnd.random()
    while u == 0.0:
        u = rnd.random()
    return u


# A reservoir slot: (global index, Arrow chunk holding the row, row in chunk, source, row in source).
# Rows stay in Arrow until the pass ends: Algorithm L replaces ~m*ln(rows/m) rows along the way, and
# turning each into Python objects would cost more than the scan.
_Slot = tuple[int, pa.RecordBatch, int, Source, int]


def _groups(reservoir: list[_Slot]) -> list[list[int]]:
    """Slot indices grouped by the chunk holding their row."""
    groups: dict[int, list[int]] = {}
    for i, slot in enumerate(reservoir):
        groups.setdefault(id(slot[1]), []).append(i)
    return list(groups.values())


def _compact(reservoir: list[_Slot]) -> None:
    """Copy the live rows into one chunk per schema, so replaced rows stop holding memory."""
    by_schema: dict[str, tuple[list[pa.RecordBatch], list[int]]] = {}
    for members in _groups(reservoir):
        chunk = reservoir[members[0]][1]
        batches, order = by_schema.setdefault(str(chunk.schema), ([], []))
        batches.append(chunk.take(pa.array([reservoir[i][2] for i in members])))
        order += members
    for batches, order in by_schema.values():
        merged = pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
        for j, i in enumerate(order):
            g, _, _, src, row = reservoir[i]
            reservoir[i] = (g, merged, j, src, row)


def _materialize(reservoir: list[_Slot]) -> list[tuple[int, Row]]:
    """(global index, row dict) for every slot; Python objects are made only here, m rows."""
    _compact(reservoir)
    out: list[tuple[int, Row]] = []
    for members in _groups(reservoir):
        rows = reservoir[members[0]][1].to_pylist()
        for i in members:
            g, _, j, src, row = reservoir[i]
            rows[j]["_file"], rows[j]["_row"] = str(src.path), row
            out.append((g, rows[j]))
    return out


def _reservoir_pass(sources: Sequence[Source], m: int, columns: list[str], excluded: np.ndarray,
                    rnd: random.Random, batch_rows: int, stats: Stats) -> list[tuple[int, Row]]:
    """Algorithm L over the rows not in ``excluded``: a uniform m-subset as (global index, row)."""
    reservoir: list[_Slot] = []
    held = 0  # rows held in chunks since the last compaction (live or replaced)
    w = math.exp(math.log(_uniform01(rnd)) / m)
    next_pos = m - 1 + math.floor(math.log(_uniform01(rnd)) / math.log(1 - w)) + 1
    pos = 0  # stream position (rows not excluded) of this batch's first kept row
    for src, local, batch in iter_batches(sources, columns, batch_rows, stats):
        g0 = src.offset + local
        ex = excluded[np.searchsorted(excluded, g0):np.searchsorted(excluded, g0 + batch.num_rows)] - g0
        kept = np.setdiff1d(np.arange(batch.num_rows), ex, assume_unique=True) if len(ex) else None
        n_kept = batch.num_rows - len(ex)

        def at(offset: int, kept: np.ndarray | None = kept) -> int:  # stream offset -> row in batch
            return int(kept[offset]) if kept is not None else offset

        fill = max(0, min(m - pos, n_kept))  # the first m stream rows fill the reservoir
        picks = [(-1, at(i)) for i in range(fill)]  # (slot to replace, or -1 = append; row)
        while next_pos < pos + n_kept:  # Algorithm L: jump straight to the next replacement
            picks.append((rnd.randrange(m), at(next_pos - pos)))
            w *= math.exp(math.log(_uniform01(rnd)) / m)
            next_pos += math.floor(math.log(_uniform01(rnd)) / math.log(1 - w)) + 1
        if picks:
            chunk = batch.take(pa.array([r for _, r in picks]))  # a copy: the batch itself is let go
            held += len(picks)
            for k, (slot, r) in enumerate(picks):
                item = (g0 + r, chunk, k, src, local + r)
                if slot < 0:
                    reservoir.append(item)
                else:
                    reservoir[slot] = item
            if held > 4 * m:
                _compact(reservoir)
                held = len(reservoir)
        pos += n_kept
    return _materialize(reservoir)


def sample_reservoir(sources: Sequence[Source], n: int, columns: list[str], accept: Accept | None, *,
                     seed: int = 0, oversample: float = 1.0, batch_rows: int = 8192) -> tuple[list[Row], Stats]:
    total = sum(s.num_rows for s in sources)
    stats = Stats(total_rows=total)
    rnd = random.Random(seed)
    excluded = np.empty(0, dtype=np.int64)
    accepted: list[Row] = []
    m = math.ceil(n * (oversample if accept is not None else 1.0))
    while len(accepted) < n and len(excluded) < total:
        stats.rounds += 1
        reservoir = _reservoir_pass(sources, m, columns, excluded, rnd, batch_rows, stats)
        if not reservoir:
            break
        rnd.shuffle(reservoir)
        excluded = np.union1d(excluded, np.asarray([g for g, _ in reservoir], dtype=np.int64))
        _take_until((row for _, row in reservoir), n, accepted, accept, stats)
        m = _next_round_size(n - len(accepted), stats, len(accepted), total - len(excluded))
    stats.accepted = len(accepted)
    return accepted, stats


METHODS = {"first": sample_first, "uniform": sample_uniform, "reservoir": sample_reservoir}
