"""Writing a dataset: rows in Alpaca or ShareGPT (OpenAI messages) shape, jsonl or parquet,
built in a temporary directory beside the target and renamed into place, so a reader sees
the old dataset or the new one, never half of one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C encoder json.dumps uses
from pathlib import Path
from typing import Any, Literal

from converters.core.samples import META_KEYS, Sample
from foundation.atomic import publish_mode
from foundation.hashing import sha256_file

Format = Literal["alpaca", "sharegpt"]
FileFormat = Literal["jsonl", "parquet"]


def to_row(sample: Sample, fmt: Format) -> dict[str, Any]:
    """One dataset row; metadata sits beside the columns LLaMA-Factory reads (it ignores the rest)."""
    if fmt == "alpaca":
        return {
            "instruction": sample.instruction,
            "input": sample.input,
            "output": sample.output,
            "system": sample.system,
            "metadata": sample.meta,
        }
    messages = [{"role": "system", "content": sample.system}] if sample.system else []
    messages += [{"role": "user", "content": sample.user}, {"role": "assistant", "content": sample.output}]
    return {"messages": messages, "metadata": sample.meta}


def write_parquet(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(list(rows)), path)


def jsonl_lines(samples: Iterable[Sample], fmt: Format) -> Iterator[str]:
    """``json.dumps(to_row(s, fmt), ensure_ascii=False) + "\\n"`` for each sample, byte for byte, but
    with the strings every row shares (instruction, system prompt) encoded once."""
    enc = encode_basestring
    cache: dict[str, str] = {}
    meta_json = _MetaEncoder()
    for s in samples:
        system = cache.get(s.system)
        if system is None:
            system = cache[s.system] = enc(s.system)
        meta = meta_json(s.meta)
        if fmt == "alpaca":
            instruction = cache.get(s.instruction)
            if instruction is None:
                instruction = cache[s.instruction] = enc(s.instruction)
            yield (
                f'{{"instruction": {instruction}, "input": {enc(s.input)}, "output": {enc(s.output)}, '
                f'"system": {system}, "metadata": {meta}}}\n'
            )
        else:
            head = f'{{"role": "system", "content": {system}}}, ' if s.system else ""
            yield (
                f'{{"messages": [{head}{{"role": "user", "content": {enc(s.user)}}}, '
                f'{{"role": "assistant", "content": {enc(s.output)}}}], "metadata": {meta}}}\n'
            )


class _MetaEncoder:
    """``json.dumps(meta, ensure_ascii=False)`` for the metadata dicts of ``converters.core.samples``
    (META_KEYS in order; str values, ints for step/steps, bools for success and whatif), written as one
    f-string from cached fragments: the steps of one trajectory share everything but step and
    origin, so encoding metadata costs little more than encoding ``origin``. Other shapes take
    json.dumps."""

    def __init__(self) -> None:
        self.head: dict[tuple, str] = {}  # problem_id .. family
        self.tail: dict[tuple, str] = {}  # steps .. action

    def __call__(self, m: dict[str, Any]) -> str:
        if (
            tuple(m) != META_KEYS
            or type(m["step"]) is not int
            or type(m["steps"]) is not int
            or type(m["success"]) is not bool
            or type(m["whatif"]) is not bool
        ):
            return json.dumps(m, ensure_ascii=False)
        k1 = (m["problem_id"], m["error_type"], m["difficulty"], m["family"])
        head = self.head.get(k1)
        if head is None:
            head = json.dumps(dict(zip(META_KEYS[:4], k1, strict=True)), ensure_ascii=False)[:-1]
            if len(self.head) < 200_000:
                self.head[k1] = head
        k2 = (m["steps"], m["agent"], m["source"], m["success"], m["layout"], m["whatif"], m["action"])
        tail = self.tail.get(k2)
        if tail is None:
            tail = json.dumps(dict(zip(META_KEYS[5:12], k2, strict=True)), ensure_ascii=False)[1:-1]
            if len(self.tail) < 200_000:
                self.tail[k2] = tail
        return f'{head}, "step": {m["step"]}, {tail}, "origin": {encode_basestring(m["origin"])}}}'


if META_KEYS != (
    "problem_id",
    "error_type",
    "difficulty",
    "family",
    "step",
    "steps",
    "agent",
    "source",
    "success",
    "layout",
    "whatif",
    "action",
    "origin",
):  # a change in samples.py must be mirrored above
    raise RuntimeError("converters.sft.writer._MetaEncoder does not match converters.core.samples.META_KEYS")


def write_split(
    directory: Path, split: str, samples: Sequence[Sample], fmt: Format, file_format: FileFormat
) -> tuple[Path, str]:
    """Write one split file; return its path and sha256 (hashed on the way out for jsonl)."""
    path = directory / f"{split}.{file_format}"
    if file_format != "jsonl":
        write_parquet(path, (to_row(s, fmt) for s in samples))
        return path, sha256_file(path)
    digest = hashlib.sha256()
    lines = jsonl_lines(samples, fmt)
    with path.open("wb") as fh:
        while chunk := list(islice(lines, 2048)):
            data = "".join(chunk).encode("utf-8")
            digest.update(data)
            fh.write(data)
    return path, digest.hexdigest()


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces ``final`` (rename), on error it is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        publish_mode(tmp, final)  # not mkdtemp's 0700: training may run as another user
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.replace(final, old / final.name)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
