"""Generate an OR-Debug-Bench set: ``python -m ordebug.generate --out DIR [--n 200] [--seed 0] [--types A,B,C,D]``.

Each problem is a model from a generated family (``ordebug.families``), or from files the user
brings (``--from``), with one verified error injected (``ordebug.inject``). The set is written
in OR-Debug-Bench's layout (dataset.json + models/<id>.mps + report.txt) by
``ordebug.problems.write_benchmark``. Problem ``i`` of a type draws from
``numpy.random.default_rng([seed, type, i, attempt])`` (why: a problem depends only on its own
draw, so the same seed gives byte-identical files, and N=20 is a prefix-like sample of N=200).
``SOURCE_DATE_EPOCH`` fixes ``created_at`` for fully reproducible dataset.json bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import gurobipy as gp
import numpy as np
from tqdm import tqdm

from foundation.cli import cli_main
from ordebug import families, solver
from ordebug.errors import OrDebugError
from ordebug.inject import TYPES, Injected, inject, solve_original
from ordebug.problems import ERROR_TYPE_NAMES, difficulty_for_iis_size, load_model_files, write_benchmark

MAX_ATTEMPTS = 50
SHORT_NAMES = {
    "A": "flipped sense",
    "B": "integer->binary",
    "C": "coefficient error",
    "D": "contradicting constr",
    "E": "multi-constraint",
    "F": "hidden dependency",
    "G": "cascading",
    "H": "bound is the cause",
    "I": "optimal selection",
}
_C_LABELS = {"sign_flipped": "Logic Error (Sign Flipped)", "scaled": "Logic Error (Wrong Coefficient Scale)"}
_SUFFIX = {
    **dict.fromkeys(
        "EF", " This is a challenging problem requiring multi-step reasoning to diagnose and fix."
    ),
    **dict.fromkeys(
        "GHI",
        " This is an MDP-advantage problem requiring strategic multi-step reasoning - "
        "single-step repairs will fail.",
    ),
}


@dataclass
class Base:
    """A feasible original: where it came from, its solved model, and its optimum."""

    source: str
    family: str
    title: str
    size: str
    problem_type: str
    model: gp.Model
    objective: float


@dataclass
class GenerateResult:
    dataset: Path
    problems: list[dict[str, Any]]
    failed: dict[str, int]
    seconds: float
    attempts: int = 0
    by_family: Counter[str] = field(default_factory=Counter)


def parse_types(text: str) -> list[str]:
    """'A,B,C,D' (or 'all') -> ['A', 'B', 'C', 'D']; OrDebugError naming an unknown letter."""
    if text.strip().lower() == "all":
        return list(TYPES)
    letters = [t.strip().upper() for t in text.split(",") if t.strip()]
    for t in letters:
        if t not in TYPES:
            raise OrDebugError(
                f"--types: unknown error type {t!r}",
                fix=f"use letters from {TYPES[0]}-{TYPES[-1]}, e.g. --types A,B,C,D",
            )
    if not letters:
        raise OrDebugError("--types: no error type given", fix="e.g. --types A,B,C,D")
    return list(dict.fromkeys(letters))


def created_at() -> str:
    """Now, or SOURCE_DATE_EPOCH (the reproducible-builds convention) when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC).replace(tzinfo=None).isoformat()
        except ValueError:
            raise OrDebugError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not an integer", fix="unset it or give seconds"
            ) from None
    return datetime.now().isoformat()


def load_bases(paths: Sequence[str | Path]) -> list[Base]:
    """Feasible models a user brings (files or folders of .mps/.lp); each must solve to OPTIMAL."""
    bases = []
    for path in paths:
        for prob in load_model_files(path):
            model = solver.read_model(prob.model_path)
            objective = solve_original(model, str(prob.model_path))
            ptype = "mip" if model.IsMIP else "lp"
            bases.append(
                Base(
                    str(prob.model_path),
                    f"file:{prob.problem_id}",
                    prob.problem_id,
                    "file",
                    ptype,
                    model,
                    objective,
                )
            )
    return bases


def _draw_base(rng: np.random.Generator, error_type: str) -> Base:
    pool = [f for f in families.FAMILIES.values() if f.general_integers or error_type != "B"]
    fam = pool[int(rng.integers(len(pool)))]
    size = str(rng.choice(families.SIZES, p=families.SIZE_WEIGHTS))
    model = families.build(fam.name, rng, size, solver.gurobi_env())
    return Base(
        f"generated:{fam.name}",
        fam.name,
        fam.title,
        size,
        fam.problem_type,
        model,
        solve_original(model, fam.name),
    )


def _entry(pid: str, base: Base, inj: Injected, seed: int, stamp: str) -> dict[str, Any]:
    """One dataset.json entry: OR-Debug-Bench's keys (same types), then ours."""
    model = inj.model
    label = _C_LABELS.get(inj.variant, ERROR_TYPE_NAMES[inj.error_type])
    kind = "Mixed-integer programming" if base.problem_type == "mip" else "Linear programming"
    nl = (
        f"{kind} problem {pid} ({base.title}) with {model.NumVars} variables and {model.NumConstrs} "
        f"constraints. Contains a {label} that makes the model infeasible.{_SUFFIX.get(inj.error_type, '')}"
    )
    return {
        "problem_id": pid,
        "model_file": f"models/{pid}.mps",
        "problem_nl": nl,
        "error_type": inj.error_type,
        "error_description": "",  # OR-Debug-Bench's sets leave it empty; what was done is in ground_truth
        "ground_truth_fix": inj.ground_truth_fix,
        "target_name": inj.target_name,
        "target_type": inj.target_type,
        "initial_status": "INFEASIBLE",
        "original_status": "OPTIMAL",
        "original_objective": base.objective,
        "n_variables": model.NumVars,
        "n_constraints": model.NumConstrs,
        "iis_constraints": inj.iis.constraints,
        "iis_bounds": inj.iis.bounds,
        "iis_size": inj.iis.size,
        "difficulty": difficulty_for_iis_size(inj.iis.size),
        "problem_type": base.problem_type,
        "use_robust": True,
        "created_at": stamp,
        "family": base.family,
        "size": base.size,
        "source": base.source,
        "seed": seed,
        "ground_truth": inj.ground_truth,
    }


def generate(
    out: str | Path,
    n: int = 200,
    seed: int = 0,
    types: Sequence[str] = ("A", "B", "C", "D"),
    *,
    from_paths: Sequence[str | Path] = (),
    overwrite: bool = False,
    progress: bool = True,
    name: str | None = None,
) -> GenerateResult:
    """Generate ``n`` problems split evenly over ``types`` and write the set to ``out``."""
    if n <= 0:
        raise OrDebugError(f"--n must be a positive integer, got {n}")
    types = parse_types(",".join(types))
    if n < len(types):
        raise OrDebugError(
            f"--n {n} is smaller than the number of --types ({len(types)})",
            fix="give every type at least one problem: raise --n or list fewer types",
        )
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise OrDebugError(
            "exists and is not an empty folder",
            where=str(out),
            fix="pass --overwrite or choose another --out",
        )
    start, stamp = time.perf_counter(), created_at()
    bases = load_bases(from_paths) if from_paths else []
    counts = [n // len(types) + (k < n % len(types)) for k in range(len(types))]
    width = max(3, len(str(n - 1)))
    entries: list[tuple[dict[str, Any], gp.Model]] = []
    failed: dict[str, int] = dict.fromkeys(types, 0)
    result = GenerateResult(Path(out) / "dataset.json", [], failed, 0.0)
    index = 0
    with (
        tempfile.TemporaryDirectory(prefix="ordebug-gen-") as tmp,
        tqdm(total=n, desc="generate", unit="problem", disable=not progress) as bar,
    ):
        for error_type, count in zip(types, counts, strict=True):
            for i in range(count):
                made = None
                for attempt in range(MAX_ATTEMPTS):
                    rng = np.random.default_rng([seed, ord(error_type), i, attempt])
                    base = bases[(i + attempt) % len(bases)] if bases else _draw_base(rng, error_type)
                    result.attempts += 1
                    inj = inject(error_type, base.model, base.objective, rng, workdir=Path(tmp))
                    if inj is not None:
                        made = base, inj
                        break
                    if bases and attempt + 1 >= len(bases) * 3:
                        break  # every file tried three times: this type does not fit these models
                if made is None:
                    failed[error_type] += 1
                else:
                    base, inj = made
                    pid = f"{base.problem_type}_type{error_type}_{index:0{width}d}"
                    inj.model.ModelName = pid
                    entry = _entry(pid, base, inj, seed, stamp)
                    entries.append((entry, inj.model))
                    result.by_family[base.family] += 1
                index += 1
                bar.update()
    if not entries:
        raise OrDebugError(
            f"no problem of types {','.join(types)} could be injected and verified",
            where=", ".join(str(p) for p in from_paths) or None,
            fix="try other --types (C needs a row that one coefficient can break; B needs integers or an LP)",
        )
    header = {
        "dataset_name": name or Path(out).name,
        "description": (
            "Synthetic OR debugging benchmark generated by ordebug.generate (error injection into "
            + ("user models" if bases else "generated model families")
            + ", every instance verified)"
        ),
        "created_at": stamp,
        "seed": seed,
        "error_types": types,
        "fail_by_type": failed,
        "generator": "ordebug.generate",
        "sources": sorted({b.source for b in bases}) if bases else sorted(families.FAMILIES),
    }
    result.dataset = write_benchmark(out, entries, header, overwrite=overwrite)
    result.problems = [e for e, _ in entries]
    result.seconds = time.perf_counter() - start
    for _, model in entries:
        model.dispose()
    return result


def summary_table(result: GenerateResult) -> str:
    """Per-type counts, difficulty mix, IIS sizes and families, then totals and speed."""
    rows = [("type", "name", "ok", "failed", "easy", "medium", "hard", "iis avg", "families")]
    by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in result.failed}
    for p in result.problems:
        by_type[p["error_type"]].append(p)
    for t, probs in by_type.items():
        diff = Counter(p["difficulty"] for p in probs)
        fams = Counter(p["family"].removeprefix("file:") for p in probs)
        iis = f"{sum(p['iis_size'] for p in probs) / len(probs):.1f}" if probs else "-"
        rows.append(
            (
                t,
                SHORT_NAMES[t],
                str(len(probs)),
                str(result.failed[t]),
                str(diff["easy"]),
                str(diff["medium"]),
                str(diff["hard"]),
                iis,
                " ".join(f"{f}:{c}" for f, c in sorted(fams.items())),
            )
        )
    diff = Counter(p["difficulty"] for p in result.problems)
    rows.append(
        (
            "all",
            "",
            str(len(result.problems)),
            str(sum(result.failed.values())),
            str(diff["easy"]),
            str(diff["medium"]),
            str(diff["hard"]),
            "",
            "",
        )
    )
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rate = len(result.problems) / result.seconds if result.seconds else 0.0
    lines.append(
        f"\nwrote {len(result.problems)} problems to {result.dataset.parent} in {result.seconds:.1f} s "
        f"({rate:.1f} problems/s, {result.attempts} draws)"
    )
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, like every other CLI error here
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    types_help = "\n".join(f"  {t}  {ERROR_TYPE_NAMES[t]}" for t in TYPES)
    fams = "\n".join(f"  {f.name:<20} {f.problem_type.upper()}" for f in families.FAMILIES.values())
    parser = _Parser(
        prog="python -m ordebug.generate",
        description="Generate an OR-Debug-Bench set (dataset.json + models/*.mps + report.txt): "
        "feasible models with one verified error each.",
        epilog=f"error types:\n{types_help}\n\nfamilies:\n{fams}\n\n"
        "SOURCE_DATE_EPOCH=<seconds> fixes created_at (byte-identical dataset.json for a seed).\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="output folder (dataset.json, models/, report.txt)"
    )
    parser.add_argument(
        "--n", type=int, default=200, help="number of problems, split evenly over --types (200)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed; the same seed gives identical files (0)"
    )
    parser.add_argument(
        "--types", default="A,B,C,D", help="error types, comma-separated letters A-I or 'all' (A,B,C,D)"
    )
    parser.add_argument(
        "--from",
        dest="from_paths",
        type=Path,
        action="append",
        default=[],
        metavar="FILE_OR_DIR",
        help="inject into these feasible .mps/.lp models instead of generated families (repeatable)",
    )
    parser.add_argument("--name", default=None, help="dataset_name in dataset.json (the --out folder's name)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists and is not empty"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.n <= 0:
        raise OrDebugError(f"--n must be a positive integer, got {args.n}")
    result = generate(
        args.out,
        args.n,
        args.seed,
        parse_types(args.types),
        from_paths=args.from_paths,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        name=args.name,
    )
    print(summary_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
