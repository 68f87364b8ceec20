"""The study's comparison: each variant against the baseline, paired by problem and seed.

Written to OUT/comparison.md, OUT/comparison.csv and OUT/comparison.png. Every number comes from
the cells' results.json files (eval.paired); the recipe keys that differ are eval.report's diff
of the resolved recipes the evaluations record.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from eval.paired import PairedStat, compare_results
from eval.report import Evaluation, flatten, load_evaluation, recipe_diff
from eval.report_md import fmt
from foundation.atomic import write_atomic
from foundation.tables import markdown_table
from studies.cells import Cell
from studies.spec import Study


@dataclass
class VariantComparison:
    name: str
    seeds: list[int]  # seeds where both sides have results
    keys: list[str]  # "key: baseline -> variant" for every recipe key that differs
    stats: list[PairedStat]
    sources: list[Evaluation]


def _ci(ci: tuple[float, float] | None) -> str:
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "—"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def changed_keys(base: Evaluation, var: Evaluation) -> list[str]:
    flat_b, flat_v = flatten(base.recipe), flatten(var.recipe)
    return [f"{k}: {flat_b.get(k, '—')} → {flat_v.get(k, '—')}" for k in recipe_diff([base, var])]


def compare_study(study: Study, cells: list[Cell]) -> list[VariantComparison]:
    """Paired statistics of every variant against the baseline, over the seeds both finished."""
    loaded: dict[tuple[str, int], Evaluation] = {}
    for c in cells:
        if c.results.is_file():
            loaded[(c.arm.name, c.seed)] = load_evaluation(str(c.results))
    out = []
    for arm in study.variants:
        seeds = [s for s in study.seeds if (study.baseline.name, s) in loaded and (arm.name, s) in loaded]
        pairs = [(loaded[(study.baseline.name, s)], loaded[(arm.name, s)]) for s in seeds]
        stats = compare_results([(b.results, v.results) for b, v in pairs], study.metrics, n_boot=study.n_boot,
                                confidence=study.confidence) if pairs else []
        keys = changed_keys(*pairs[0]) if pairs else []
        out.append(VariantComparison(arm.name, seeds, keys, stats, [e for p in pairs for e in p]))
    return out


def markdown(study: Study, comps: list[VariantComparison], failed: list[str]) -> str:
    pct = f"{study.confidence:.0%}"
    lines = [f"# Study {study.name}", ""]
    if study.description:
        lines += [study.description, ""]
    lines += [
        f"Baseline `{study.baseline.name}`; seeds {', '.join(map(str, study.seeds))}; problems `{study.problems}`.",
        (f"Δ = variant − baseline, mean over the paired (seed, problem) cells; **paired** {pct} bootstrap CI "
        "(problems and seeds resampled together) and, for contrast, the unpaired CI of the same difference. "
        "Wins: problems where the seed-averaged value is better for the variant / the baseline / neither "
        "(↑ higher is better, ↓ lower). ✱: the paired CI excludes 0."),
        "",
    ]
    header = ["variant", "metric", "baseline", "variant mean", "Δ", f"paired {pct} CI", "unpaired CI",
              "wins V/B/tie", "pairs", ""]
    for comp in comps:
        lines += [f"## {comp.name}", ""]
        if not comp.stats:
            lines += [f"No seed where both `{study.baseline.name}` and `{comp.name}` have results.", ""]
            continue
        keys = "; ".join(f"`{k}`" for k in comp.keys) or "none (the resolved recipes are equal)"
        lines += [f"Recipe keys that differ: {keys}. Seeds: {', '.join(map(str, comp.seeds))}.", ""]
        rows = []
        for s in comp.stats:
            arrow = "↑" if s.higher_is_better else "↓"
            row = [comp.name, f"{s.metric} {arrow}", fmt(s.baseline), fmt(s.variant), _signed(s.diff), _ci(s.ci),
                   _ci(s.unpaired_ci), f"{s.wins_variant}/{s.wins_baseline}/{s.ties}", str(s.n_pairs),
                   "✱" if s.significant else ""]
            rows.append(row)
        lines += [*markdown_table(header, rows, align="ll" + "r" * (len(header) - 3) + "c"), ""]
    if failed:
        lines += ["## Failed cells", "", *[f"- {f}" for f in failed], ""]
    lines += ["## Sources", ""]
    seen: set[Path] = set()
    for comp in comps:
        for e in comp.sources:
            if e.path not in seen:
                seen.add(e.path)
                lines.append(f"- `{e.path}` ({e.results.date}, git {e.results.git.get('commit') or '—'})")
    return "\n".join(lines) + "\n"


CSV_HEADER = ["study", "baseline", "variant", "metric", "higher_is_better", "seeds", "n_problems", "n_pairs",
              "baseline_mean", "variant_mean", "diff", "ci_low", "ci_high", "unpaired_ci_low", "unpaired_ci_high",
              "wins_variant", "wins_baseline", "ties", "ci_excludes_0", "recipe_keys"]


def csv_text(study: Study, comps: list[VariantComparison]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)
    for comp in comps:
        for s in comp.stats:
            ci, un = s.ci or (None, None), s.unpaired_ci or (None, None)
            w.writerow([study.name, study.baseline.name, comp.name, s.metric, s.higher_is_better,
                        " ".join(map(str, comp.seeds)), s.n_problems, s.n_pairs, s.baseline, s.variant, s.diff,
                        ci[0], ci[1], un[0], un[1], s.wins_variant, s.wins_baseline, s.ties, s.significant,
                        "; ".join(comp.keys)])
    return buf.getvalue()


def plot(study: Study, comps: list[VariantComparison], path: Path) -> Path | None:
    """One panel per metric: each variant's Δ with its paired CI (thick) and unpaired CI (thin, grey)."""
    comps = [c for c in comps if c.stats]
    if not comps:
        return None
    metrics = study.metrics
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.5 * len(comps) * rows + 1.6 * rows), squeeze=False)
    for k, metric in enumerate(metrics):
        ax = axes[k // cols][k % cols]
        for y, comp in enumerate(comps):
            s = next(st for st in comp.stats if st.metric == metric)
            if s.diff is None:
                continue
            if s.unpaired_ci:
                ax.plot(s.unpaired_ci, [y, y], color="0.75", lw=1.5)
            if s.ci:
                ax.plot(s.ci, [y, y], color="C3" if s.significant else "C0", lw=4, solid_capstyle="butt")
            ax.plot([s.diff], [y], "o", color="k", ms=4)
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.set_yticks(range(len(comps)), [c.name for c in comps])
        ax.set_ylim(-0.6, len(comps) - 0.4)
        better = "↑ better" if comps[0].stats[k].higher_is_better else "↓ better"
        ax.set_title(f"Δ {metric} ({better})", fontsize=10)
    for k in range(len(metrics), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(f"{study.name}: variant − {study.baseline.name} (paired CI thick, unpaired grey)", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_comparison(study: Study, cells: list[Cell], failed: list[str]) -> tuple[Path, Path, Path | None, str]:
    """(markdown, csv, png or None, markdown text)."""
    comps = compare_study(study, cells)
    md = markdown(study, comps, failed)
    md_path, csv_path = study.out / "comparison.md", study.out / "comparison.csv"
    write_atomic(md_path, md)
    write_atomic(csv_path, csv_text(study, comps))
    png = plot(study, comps, study.out / "comparison.png")
    if png is not None:
        md += f"\n![paired differences]({png.name})\n"
        write_atomic(md_path, md)
    return md_path, csv_path, png, md
