"""Pre-sample large public reasoning sets (local parquet) into a standard SFT dataset (docs/workloads.md).

    python -m converters.presample --in shard-*.parquet --n 20000 [--method uniform] [--lang en] [--seed 0]

Sampling (converters/presample/sampling.py): ``reservoir`` (default, one streaming pass,
Algorithm L), ``uniform`` (by index from the footers' row counts; reads only the row groups it
needs; the best choice for parquet), ``first`` (first N). ``--lang en`` keeps rows whose mapped
question and answer are English (converters/presample/langfilter.py); the detector runs only on the
candidates the sample needs, never on every row, and the sample stays uniform over passing rows.

Format standardisation: a column mapping (``--question/--reasoning/--answer/--system`` or
``--mapping FILE.yaml``; guessed from common column names when not given) picks the fields; a
YAML mapping may add ``reasoning_regex`` / ``answer_regex`` (first group) to cut both out of one
column, e.g. OpenO1's ``<Thought>…</Thought><Output>…</Output>``. The response is written in one
layout: ``think`` -> ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}`` (the project's Qwen3 format)
or ``reasoning_answer`` -> ``<reasoning>{reasoning}</reasoning>\\n<answer>{answer}</answer>``
(docs/workloads.md). A row with an empty question or answer (or an empty reasoning when one is mapped)
is rejected like a non-English one.

Output: ``data/<name>/train.parquet`` (Alpaca columns ``instruction``, ``input``, ``output``,
``system`` plus provenance ``source_file``, ``source_row`` = row within that file), registered as
``<name>_train``; ``data/<name>/card.json`` records the settings and what sampling did.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from converters.core.dataset_out import dataset_dir, publish_splits, write_json
from converters.core.registry import alpaca_entry
from converters.core.workload_errors import PresampleError
from converters.presample.langfilter import LanguageFilter, looks_like_locale
from converters.presample.sampling import METHODS, Row, Source, auto_batch_rows, open_sources
from foundation.cli import cli_main
from foundation.yaml_mapping import read_yaml_mapping

GUESSES: dict[str, tuple[str, ...]] = {
    "question": ("question", "prompt", "instruction", "problem", "query", "input"),
    "reasoning": ("reasoning", "reasoning_content", "thinking", "thought", "cot", "rationale", "trace"),
    "answer": ("answer", "response", "output", "completion", "solution", "final_answer"),
}
LAYOUTS = ("think", "reasoning_answer")


class ColumnMap(BaseModel):
    """Which input column holds each field (YAML keys of --mapping)."""

    model_config = ConfigDict(extra="forbid")
    question: str
    answer: str
    reasoning: str | None = None
    system: str | None = None
    reasoning_regex: str | None = None
    answer_regex: str | None = None

    def columns(self) -> list[str]:
        return list(dict.fromkeys(c for c in (self.question, self.reasoning, self.answer, self.system) if c))


def load_mapping(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(path, error=PresampleError, fix="pass a YAML file with question/reasoning/answer keys")


def resolve_mapping(given: dict[str, Any], schema: pa.Schema, where: str) -> ColumnMap:
    """Fill unset fields from GUESSES, then check every column exists in ``schema``."""
    names = schema.names
    values = {k: v for k, v in given.items() if v not in (None, "")}
    for key, guesses in GUESSES.items():
        if key not in values:
            hit = next((g for g in guesses if g in names and g not in values.values()), None)
            if hit:
                values[key] = hit
    try:
        mapping = ColumnMap.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise PresampleError(f"column mapping key `{key}`: {first['msg']} (columns: {', '.join(names)})",
                             where=where, fix=f"pass --{key} COLUMN or a --mapping YAML") from None
    for column in mapping.columns():
        if column not in names:
            raise PresampleError(f"has no column {column!r} (columns: {', '.join(names)})", where=where,
                                 fix="fix the column mapping (--question/--reasoning/--answer/--mapping)")
    return mapping


class Standardizer:
    """Row -> (question, reasoning, answer, system) by the mapping; None when a field is missing."""

    def __init__(self, mapping: ColumnMap, layout: str) -> None:
        self.mapping = mapping
        self.layout = layout
        self._rr = re.compile(mapping.reasoning_regex, re.DOTALL) if mapping.reasoning_regex else None
        self._ar = re.compile(mapping.answer_regex, re.DOTALL) if mapping.answer_regex else None

    @staticmethod
    def _field(row: Row, column: str | None, pattern: re.Pattern[str] | None) -> str:
        value = row.get(column) if column else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            value = str(value)  # numeric answers of math sets (large public reasoning sets) are answers too
        if not isinstance(value, str):
            return ""
        if pattern is not None:
            match = pattern.search(value)
            value = (match.group(1) if match.groups() else match.group(0)) if match else ""
        return value.strip()

    def fields(self, row: Row) -> tuple[str, str, str, str] | None:
        m = self.mapping
        question = self._field(row, m.question, None)
        reasoning = self._field(row, m.reasoning, self._rr)
        answer = self._field(row, m.answer, self._ar)
        if not question or not answer or (m.reasoning and not reasoning):
            return None
        return question, reasoning, answer, self._field(row, m.system, None)

    def response(self, reasoning: str, answer: str) -> str:
        if self.layout == "reasoning_answer":
            return f"<reasoning>{reasoning}</reasoning>\n<answer>{answer}</answer>"
        return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def default_name(path: Path, n: int) -> str:
    stem = re.sub(r"[-_.]?(train|test|validation)?[-_]?\d{5}-of-\d{5}$", "", path.stem) or path.stem
    size = f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{stem}_{size}")


def expand_inputs(items: Sequence[Path]) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        if item.is_dir():
            paths += sorted(item.rglob("*.parquet"))
        elif item.exists():
            paths.append(item)
        else:
            raise PresampleError("does not exist", where=str(item), fix="pass parquet files or a directory (IN=...)")
    if not paths:
        raise PresampleError("no parquet files found", where=" ".join(map(str, items)), fix="check IN")
    return paths


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m converters.presample", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in", dest="inputs", nargs="+", type=Path, required=True,
                   help="parquet files (or directories of them) forming one dataset")
    p.add_argument("--n", type=int, required=True, help="rows to sample")
    p.add_argument("--method", choices=tuple(METHODS), default="reservoir", help="sampling method")
    p.add_argument("--lang", default="", help="keep only rows in this language (ISO 639-1, e.g. en)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random methods")
    p.add_argument("--name", default="", help="dataset name (default: <first file stem>_<N>)")
    p.add_argument("--root", type=Path, default=Path("."), help="repo root holding dataset_info.json")
    p.add_argument("--mapping", type=Path, help="YAML column mapping (question/reasoning/answer/system, *_regex)")
    for key in ("question", "reasoning", "answer", "system"):
        p.add_argument(f"--{key}", default=None, help=f"input column holding the {key}")
    p.add_argument("--layout", choices=LAYOUTS, default="think", help="reasoning layout of the output")
    p.add_argument("--oversample", type=float, default=1.5,
                   help="with a filter, first draw N x this many candidates (more rounds follow if short)")
    p.add_argument("--lang-chars", type=int, default=1000, help="characters of each field given to the detector")
    p.add_argument("--lang-high-accuracy", action="store_true",
                   help="lingua's high-accuracy mode (short texts; loads ~0.9 GB of models)")
    p.add_argument("--batch-rows", type=int, default=0,
                   help="rows per record batch read (0: about 8 MB of the mapped columns per batch)")
    return p


def presample(args: argparse.Namespace) -> dict[str, Any]:
    if args.n <= 0:
        raise PresampleError(f"--n must be positive, got {args.n}", fix="pass N=K with K >= 1")
    paths = expand_inputs(args.inputs)
    sources: list[Source] = open_sources(paths)
    given = load_mapping(args.mapping) if args.mapping else {}
    given |= {k: getattr(args, k) for k in ("question", "reasoning", "answer", "system") if getattr(args, k)}
    schema = pq.ParquetFile(paths[0]).schema_arrow
    mapping = resolve_mapping(given, schema, str(paths[0]))
    for path in paths[1:]:
        resolve_mapping(mapping.model_dump(), pq.ParquetFile(path).schema_arrow, str(path))
    std = Standardizer(mapping, args.layout)
    lang = args.lang.strip()
    if lang and looks_like_locale(lang):  # make passes the shell's LANG=C.UTF-8 when LANG= is not given
        print(f"warning: ignoring --lang {lang!r}: a shell locale, not a language code; "
              "pass LANG=en on the make command line to filter", file=sys.stderr)
        lang = ""
    detector = LanguageFilter(lang, max_chars=args.lang_chars, high_accuracy=args.lang_high_accuracy) if lang else None
    if detector is not None:
        detector.warm()  # a one-off start-up, kept out of the sampling time in the card

    def accept(row: Row) -> bool:
        fields = std.fields(row)
        if fields is None:
            return False
        row["_fields"] = fields
        return detector is None or detector.matches([fields[0], fields[2]])

    started, cpu_started = time.perf_counter(), time.process_time()
    sampler = METHODS[args.method]
    batch_rows = args.batch_rows or auto_batch_rows(sources, mapping.columns())
    kwargs: dict[str, Any] = {"batch_rows": batch_rows}
    if args.method != "first":
        kwargs |= {"seed": args.seed, "oversample": args.oversample}
    rows, stats = sampler(sources, args.n, mapping.columns(), accept, **kwargs)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    out = []
    for row in sorted(rows, key=lambda r: (r["_file"], r["_row"])) if args.method != "first" else rows:
        question, reasoning, answer, system = row["_fields"]
        out.append({"instruction": question, "input": "", "output": std.response(reasoning, answer),
                    "system": system, "source_file": row["_file"], "source_row": row["_row"]})
    if not out:
        raise PresampleError(f"no row passed the filters among {stats.candidates} candidates",
                             where=str(paths[0]), fix="check the column mapping and LANG")
    name = args.name or default_name(paths[0], args.n)
    counts = publish_splits(args.root, name, {"train": out}, fmt="parquet", entry_for=alpaca_entry)
    card = {"name": name, "kind": "presample", "method": args.method, "seed": args.seed, "n_requested": args.n,
            "n_written": len(out), "lang": lang or None, "layout": args.layout, "mapping": mapping.model_dump(),
            "inputs": [{"path": str(s.path), "rows": s.num_rows} for s in sources], "datasets": counts,
            "sampling": vars(stats), "batch_rows": batch_rows, "detector_calls": detector.calls if detector else 0,
            "seconds": round(elapsed, 3), "cpu_seconds": round(cpu, 3)}
    write_json(dataset_dir(args.root, name) / "card.json", card)
    return card


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    card = presample(args)
    s = card["sampling"]
    short = " (fewer rows pass than requested)" if card["n_written"] < card["n_requested"] else ""
    print(f"{card['name']}_train: {card['n_written']} rows{short} from {s['total_rows']} "
          f"({card['method']}, {s['rounds']} round(s), {s['candidates']} candidates, "
          f"{card['detector_calls']} language detections, {card['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
