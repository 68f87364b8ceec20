"""Paired statistics of a study, checked by hand on constructed results.json files.

The baseline's per-problem values spread widely (some problems are hard for everyone); the
variant is the baseline plus a known per-problem difference. The reported mean difference and
win counts must be exactly the constructed ones, and the paired CI must be narrower than the
unpaired one (the between-problem spread cancels in the pairs).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from eval.paired import compare, compare_results, per_problem
from eval.report import load_evaluation
from eval.schema import EpisodeResult, Results, Samples, ScoredStep, StepFormat
from eval.scoring import metric_infos
from studies.cells import make_cells
from studies.compare import write_comparison
from studies.spec import load_study

BASE_OP = [0.05, 0.95, 0.5, 0.2, 0.8, 0.1, 0.9, 0.35, 0.65, 0.45]
# +0.04 on the first 8 problems, -0.02 on the last 2: mean +0.028, variant wins 8, baseline 2
DIFF_OP = [0.04] * 8 + [-0.02] * 2
BASE_STEPS = [3, 9, 4, 6, 2, 8, 5, 7, 3, 6]
DIFF_STEPS = [-1, -1, -1, 0, 0, 0, 0, 0, 1, 0]  # steps: lower is better; variant wins 3, baseline 1, 6 ties


def _fmt(ok: bool) -> StepFormat:
    return StepFormat(think_present=ok, think_balanced=ok, think_nonempty=ok, think_ok=ok, n_actions=1,
                      action_strict=ok, action_lenient=True, one_action=True, args_valid=True, format_ok=ok)


def _step(i: int, ok: bool) -> ScoredStep:
    return ScoredStep(index=i, observation="obs", raw_output="out", action="SUBMIT()", parse_error=None, valid=True,
                      env_error=None, result="", status="OPTIMAL", objective=1.0, solver_calls=1, latency_s=0.0,
                      format=_fmt(ok))


def results(op: list[float], steps: list[int], *, recipe: dict, seed_shift: float = 0.0,
            format_ok: list[list[bool]] | None = None) -> Results:
    """A results.json with one episode per problem p0..p9 carrying the given per-problem values."""
    episodes = []
    for i, (o, s) in enumerate(zip(op, steps, strict=True)):
        flags = format_ok[i] if format_ok else [True]
        episodes.append(EpisodeResult(
            problem_id=f"p{i}", error_type="A", difficulty="easy", problem_type="lp", source="constructed",
            terminated_by="submit", final_status="OPTIMAL", objective=1.0, n_steps=len(flags),
            metrics={"op": o + seed_shift, "steps": s, "rr@5": 1.0, "da_iis": None if i == 0 else 0.5},
            steps=[_step(j + 1, f) for j, f in enumerate(flags)]))
    return Results(mode="episodes", policy="run:x", summary={}, ci={}, metrics=metric_infos(), breakdown={},
                   episodes=episodes, config={"run": {"name": "x", "recipe": recipe}, "problems": {"spec": "p"}},
                   versions={}, seeds={}, git={"commit": "abc"}, date="2026-01-01T00:00:00Z", duration_s=1.0,
                   samples=Samples(original=10, effective=10, steps=10, errors=0))


def _pairs() -> list[tuple[Results, Results]]:
    out = []
    for shift in (0.0, 0.03):  # two seeds: the second seed is a bit better on both sides
        base = results(BASE_OP, BASE_STEPS, recipe={"lora_rank": 16}, seed_shift=shift)
        var = results([b + d for b, d in zip(BASE_OP, DIFF_OP, strict=True)],
                      [b + d for b, d in zip(BASE_STEPS, DIFF_STEPS, strict=True)],
                      recipe={"lora_rank": 32}, seed_shift=shift)
        out.append((base, var))
    return out


def test_mean_difference_and_wins_are_exact_and_paired_ci_is_narrower() -> None:
    op, steps, da = compare_results(_pairs(), ["op", "steps", "da_iis"], n_boot=2000)
    assert op.diff == pytest.approx(0.028, abs=1e-12)
    assert op.baseline == pytest.approx(sum(BASE_OP) / 10 + 0.015)
    assert (op.wins_variant, op.wins_baseline, op.ties) == (8, 2, 0)
    assert (op.n_pairs, op.n_problems, op.n_seeds) == (20, 10, 2)
    assert op.ci is not None and op.unpaired_ci is not None
    assert op.ci[0] <= 0.028 <= op.ci[1]
    assert op.ci[1] - op.ci[0] < (op.unpaired_ci[1] - op.unpaired_ci[0]) / 5
    assert op.significant and op.ci[0] > 0
    assert not (op.unpaired_ci[0] > 0)  # unpaired, the same difference is lost in the problems' spread
    # lower is better for steps: a negative difference is a win for the variant
    assert steps.diff == pytest.approx(-0.2) and not steps.higher_is_better
    assert (steps.wins_variant, steps.wins_baseline, steps.ties) == (3, 1, 6)
    # da_iis is undefined on p0 on both sides: 9 problems pair up
    assert (da.n_problems, da.n_pairs, da.diff) == (9, 18, 0.0)


def test_step_rates_are_per_problem_shares_and_missing_problems_do_not_pair() -> None:
    base = results(BASE_OP, BASE_STEPS, recipe={}, format_ok=[[True, False]] + [[True]] * 9)
    values = per_problem(base, "format_ok")
    assert values["p0"] == 0.5 and values["p1"] == 1.0
    stat = compare([({"a": 1.0, "b": 0.0}, {"a": 0.0, "c": 1.0})], "x", True, n_boot=200)
    assert (stat.n_pairs, stat.diff, stat.wins_baseline) == (1, -1.0, 1)


def test_comparison_table_reads_every_number_from_the_results_files(tmp_path: Path) -> None:
    (tmp_path / "problems").mkdir()
    study_file = tmp_path / "s.yaml"
    study_file.write_text(
        "baseline: tiny_cpu_sft\n"
        "variants:\n  - {name: r32, recipe: tiny_cpu_sft}\n"
        f"seeds: [0, 1]\nproblems: {tmp_path / 'problems'}\nmetrics: [op, steps]\nout: {tmp_path / 'out'}\n"
    )
    study = load_study(str(study_file))
    cells = make_cells(study)
    for (base, var), seed in zip(_pairs(), (0, 1), strict=True):
        for res, arm in ((base, "tiny_cpu_sft"), (var, "r32")):
            path = tmp_path / "out" / arm / f"seed{seed}" / "eval" / "results.json"
            path.parent.mkdir(parents=True)
            path.write_text(res.model_dump_json())
    # the files read back are what the statistics see
    loaded = load_evaluation(str(cells[0].results)).results
    assert per_problem(loaded, "op") == per_problem(_pairs()[0][0], "op")
    _md_path, csv_path, png, md = write_comparison(study, cells, failed=["`r32/seed2`: boom"])
    rows = {r["metric"]: r for r in csv.DictReader(csv_path.open())}
    assert float(rows["op"]["diff"]) == pytest.approx(0.028)
    assert (rows["op"]["wins_variant"], rows["op"]["wins_baseline"], rows["op"]["ties"]) == ("8", "2", "0")
    assert rows["op"]["ci_excludes_0"] == "True" and rows["steps"]["higher_is_better"] == "False"
    assert rows["op"]["recipe_keys"] == "lora_rank: 16 → 32"
    folded = re.sub(r" +", " ", md)  # tables are column-aligned (foundation.tables)
    assert "| r32 | op ↑ | 0.510 | 0.538 | +0.028 |" in folded and "✱" in md
    assert "`lora_rank: 16 → 32`" in md and "r32/seed2" in md
    assert png is not None and png.stat().st_size > 1000
    assert json.loads(json.dumps(rows))  # plain strings, nothing unserialisable
