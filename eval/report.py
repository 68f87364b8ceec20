"""`python -m eval.report RUN_DIRS... --out FILE`: one ablation table across evaluations.

Each argument is a training run directory (its ``eval/results.json``), an evaluation output
directory, or a ``results.json``. The columns are the recipe keys whose resolved values differ
between the runs (so the table shows exactly what each ablation changed), then the headline
metrics with their 95% bootstrap intervals. Written as Markdown (best value per metric in bold)
and as CSV beside it (value, ci_low, ci_high per metric) for a paper.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from eval.errors import EvalConfigError
from eval.metric_registry import get, view
from eval.report_md import fmt
from eval.run_dir import RECIPE_FILE, from_repo
from eval.schema import RESULTS_SCHEMA_VERSION, Results
from foundation.atomic import write_atomic
from foundation.cli import cli_main
from foundation.tables import markdown_table
from foundation.yaml_mapping import read_yaml_mapping

COLUMNS = view("ablation")
#: Recipe keys that differ between any two runs by construction, so they are not ablation columns.
IGNORED_KEYS = frozenset({"output_dir", "run_name", "logging_dir", "overwrite_output_dir", "description"})


@dataclass
class Evaluation:
    label: str
    path: Path
    results: Results
    recipe: dict[str, Any]


def find_results(arg: str) -> Path:
    path = Path(arg)
    for cand in (path, path / "results.json", path / "eval" / "results.json"):
        if cand.is_file():
            return cand
    raise EvalConfigError(
        f"{arg}: no results.json (looked at {path}, {path / 'results.json'}, "
        f"{path / 'eval' / 'results.json'})",
        fix=f"evaluate it first: make eval RUN={arg}",
    )


def load_evaluation(arg: str) -> Evaluation:
    path = find_results(arg)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if raw.get("schema_version") != RESULTS_SCHEMA_VERSION:
        raise EvalConfigError(
            f"{path}: results schema {raw.get('schema_version')!r}, "
            f"this version reads {RESULTS_SCHEMA_VERSION}",
            fix="re-run the evaluation with this version",
        )
    try:
        results = Results.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise EvalConfigError(f"{path}: key {key!r}: {first['msg']}") from None
    run_cfg = results.config.get("run") or {}
    recipe = run_cfg.get("recipe") if isinstance(run_cfg, dict) else None
    if recipe is None:  # an evaluation dir inside a run dir: read the run's recipe
        for cand in (path.parent / RECIPE_FILE, path.parent.parent / RECIPE_FILE):
            if cand.is_file():
                recipe = read_yaml_mapping(cand, error=EvalConfigError)
                break
    label = (run_cfg.get("name") if isinstance(run_cfg, dict) else None) or results.policy
    return Evaluation(label=str(label), path=path, results=results, recipe=dict(recipe or {}))


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested recipe -> {'a.b': 'value'} with values as compact text (lists joined, dicts by phase name)."""
    out: dict[str, str] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if key == "phases" and isinstance(value, list):
            for i, phase in enumerate(value):
                if isinstance(phase, dict):
                    out.update(flatten(phase, f"{name}.{phase.get('name', i)}."))
        elif isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = "" if value is None else str(value)
    return out


def recipe_diff(evals: list[Evaluation]) -> list[str]:
    """Recipe keys whose value differs between the evaluations that have a recipe, sorted.

    Baselines and base models have no recipe: they are rows of the table, not a side of the ablation,
    so with fewer than two recipes there is nothing to diff (absent counts as a value only between
    recipes, e.g. a key one recipe sets and another leaves to LLaMA-Factory's default).
    """
    flats = [flatten(e.recipe) for e in evals if e.recipe]
    if len(flats) < 2:
        return []
    keys = sorted({k for f in flats for k in f})
    return [k for k in keys if k.split(".")[-1] not in IGNORED_KEYS and len({f.get(k) for f in flats}) > 1]


def _best(evals: list[Evaluation], metric: str) -> str | None:
    """The best value of a column as printed (None when there is no contest: fewer than 2 or all equal)."""
    higher_is_better = get(metric).higher_is_better  # an unknown name fails here, never a silent default
    values = [e.results.summary.get(metric) for e in evals]
    values = [v for v in values if isinstance(v, (int, float))]
    if len(values) < 2 or len({fmt(v) for v in values}) == 1:
        return None
    return fmt(max(values) if higher_is_better else min(values))


def build_table(evals: list[Evaluation]) -> tuple[str, str, list[str]]:
    """(markdown, csv, recipe columns)."""
    diff = recipe_diff(evals)
    flats = [flatten(e.recipe) for e in evals]
    problem_sets = {json.dumps(e.results.config.get("problems"), sort_keys=True) for e in evals}
    extra = ["problems"] if len(problem_sets) > 1 else []
    header = ["run", "policy", *diff, *extra, "n", *COLUMNS]
    md_rows, csv_rows = [], []
    best = {m: _best(evals, m) for m in COLUMNS}
    for e, flat in zip(evals, flats, strict=True):
        s, ci = e.results.summary, e.results.ci
        probs = [str((e.results.config.get("problems") or {}).get("spec", ""))] if extra else []
        row = [e.label, e.results.policy, *[flat.get(k, "—") for k in diff], *probs, fmt(s.get("n"))]
        crow: list[Any] = [e.label, e.results.policy, *[flat.get(k, "") for k in diff], *probs, s.get("n")]
        for m in COLUMNS:
            v, c = s.get(m), ci.get(m)
            text = fmt(v) if v is None or not c else f"{fmt(v)} [{fmt(c[0])}, {fmt(c[1])}]"
            row.append(f"**{text}**" if v is not None and fmt(v) == best[m] else text)
            crow += [v, c[0] if c else None, c[1] if c else None]
        md_rows.append(row)
        csv_rows.append(crow)
    md = markdown_table(header, md_rows, align="l" * (2 + len(diff) + len(extra)) + "r" * (1 + len(COLUMNS)))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "run",
            "policy",
            *diff,
            *extra,
            "n",
            *[f"{m}{s}" for m in COLUMNS for s in ("", "_ci_low", "_ci_high")],
        ]
    )
    writer.writerows(csv_rows)
    return "\n".join(md) + "\n", buf.getvalue(), diff


def render(evals: list[Evaluation], md_table: str, diff: list[str]) -> str:
    lines = ["# Ablation", ""]
    if diff:
        lines += [f"Recipe keys that differ between the runs: {', '.join(f'`{k}`' for k in diff)}.", ""]
    else:
        lines += ["The resolved recipes do not differ (or none were recorded).", ""]
    lines += [
        "Metrics: mean [95% bootstrap CI]; best value per column in bold (↑/↓ as in results.json).",
        "",
        md_table,
        "Sources:",
        "",
    ]
    lines += [
        f"- `{e.label}`: `{e.path}` ({e.results.date}, git {e.results.git.get('commit') or '—'})"
        for e in evals
    ]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval.report", description=__doc__.splitlines()[0])
    p.add_argument(
        "runs", nargs="+", metavar="RUN_DIR", help="run directories, evaluation dirs or results.json files"
    )
    p.add_argument(
        "--out", default="results/ablation.md", help="Markdown file; the CSV goes beside it (.csv)"
    )
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    evals = [load_evaluation(a) for a in args.runs]
    md_table, csv_text, diff = build_table(evals)
    out = from_repo(args.out) if not Path(args.out).is_absolute() else Path(args.out)
    write_atomic(out, render(evals, md_table, diff))
    write_atomic(out.with_suffix(".csv"), csv_text)
    print(md_table, end="")
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
