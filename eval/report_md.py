"""report.md for one evaluation: headline table, policy vs baselines, breakdowns, plots, examples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval import plots
from eval.metric_registry import view
from eval.run_dir import read_trainer_log
from eval.schema import GroupSummary, Results
from foundation.tables import markdown_table

BREAKDOWN_COLUMNS = view("breakdown")
FORMAT_ROWS = view("answer_format")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_ci(value: Any, ci: Sequence[float] | None) -> str:
    if value is None:
        return "—"
    return f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> list[str]:
    return markdown_table(header, rows, align=align or "l" + "r" * (len(header) - 1))


def headline_table(results: Results, keys: Sequence[str]) -> list[str]:
    rows = []
    for k in keys:
        if k not in results.summary:
            continue
        info = results.metrics.get(k)
        arrow = "" if info is None or k in ("n", "n_steps") else (" ↑" if info.higher_is_better else " ↓")
        rows.append(
            [f"`{k}`{arrow}", fmt_ci(results.summary[k], results.ci.get(k)), info.description if info else ""]
        )
    return table(["metric", "value [95% CI]", "definition"], rows, "lrl")


def group_table(groups: Mapping[str, GroupSummary], label: str, columns: Sequence[str]) -> list[str]:
    rows = [
        [f"{label} {g}" if label else g] + [fmt(s.summary.get(c)) for c in columns] for g, s in groups.items()
    ]
    return table(["group", *columns], rows)


def compare_table(groups: Mapping[str, GroupSummary], keys: Sequence[str]) -> list[str]:
    names = list(groups)
    rows = [[f"`{k}`"] + [fmt_ci(groups[n].summary.get(k), groups[n].ci.get(k)) for n in names] for k in keys]
    return table(["metric", *names], rows)


def _whatif_text(cfg: Mapping[str, Any]) -> str:
    """Whether the what-if actions were offered, and whether the training data mixed both kinds."""
    if "whatif" not in cfg:
        return "—"
    text = "offered" if cfg["whatif"] else "not offered"
    return text + (" (the training data mixes episodes with and without them)" if cfg.get("whatif_mixed") else "")


def _examples(results: Results, limit: int = 5) -> list[str]:
    """A few steps that were not well-formed or were rejected, with the raw output (truncated)."""
    out = []
    for ep in results.episodes:
        for st in ep.steps:
            if st.format.format_ok and st.valid:
                continue
            raw = st.raw_output if len(st.raw_output) <= 600 else st.raw_output[:600] + " …"
            why = st.format.error or st.env_error or st.parse_error or "?"
            out += [
                f"- `{ep.problem_id}` step {st.index}: {why}",
                "",
                "```text",
                raw.replace("```", "'''"),
                "```",
                "",
            ]
            if len(out) >= limit * 6:
                return out
    return out


def write_report(
    results: Results,
    out_dir: Path,
    *,
    run_dir: Path | None = None,
    trainer_logs: Sequence[tuple[str, Path]] = (),
) -> Path:
    """Write report.md and its PNGs into ``out_dir``; returns the report path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# Evaluation: `{results.policy}`", ""]
    cfg = results.config
    lines += [
        (
            f"- mode: {results.mode}; problems: {cfg.get('problems', {}).get('spec', '—')} "
            f"({results.samples.effective} scored of {results.samples.original}"
            f"{f', {results.samples.errors} infrastructure errors' if results.samples.errors else ''}"
            f"{f', {results.samples.skipped} skipped' if results.samples.skipped else ''})"
        ),
        (
            f"- max steps: {cfg.get('max_steps', '—')}; layout: {cfg.get('layout', '—')}; "
            f"what-if actions: {_whatif_text(cfg)}; "
            f"parse: {cfg.get('parse', '—')}; "
            f"concurrency: {cfg.get('concurrency', '—')}"
        ),
        (
            f"- date: {results.date}; git: {results.git.get('commit') or '—'}"
            f"{' (dirty)' if results.git.get('dirty') else ''}; duration: {results.duration_s:.1f} s"
        ),
        "",
    ]
    if results.mode == "episodes":
        lines += _episode_sections(results, out_dir)
        if results.skipped:  # listed apart: no metric above counts them
            lines += [
                "## Skipped problems (not scored)",
                "",
            ]
            skipped = [[s.problem_id, s.reason, s.source] for s in results.skipped]
            lines += [*table(["Problem", "Reason", "Source"], skipped, "lll"), ""]
    else:
        lines += ["## Summary", ""] + headline_table(results, list(results.summary)) + [""]
    if trainer_logs:
        png = plots.loss_curve(
            [(name, read_trainer_log(p)) for name, p in trainer_logs],
            out_dir / "loss_curve.png",
            title=f"Training loss ({run_dir.name if run_dir else ''})",
        )
        if png:
            src = ", ".join(f"`{p}`" for _, p in trainer_logs)
            lines += ["## Training loss", "", f"From {src}.", "", f"![loss curve]({png.name})", ""]
    if results.mode == "episodes":
        ex = _examples(results)
        if ex:
            lines += ["## Examples of rejected or ill-formed steps", ""] + ex
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _episode_sections(results: Results, out_dir: Path) -> list[str]:
    lines = ["## Headline", ""]
    keys = view("headline")
    lines += headline_table(results, keys) + [""]
    me = GroupSummary(summary=results.summary, ci=results.ci)
    if results.baselines:
        groups = {results.policy: me, **results.baselines}
        lines += ["## Policy vs baselines", "", "Same problems, step limit and parse mode.", ""]
        lines += compare_table(groups, view("versus_baselines")) + [""]
        png = plots.compare_policies(groups, out_dir / "policy_vs_baselines.png")
        if png:
            lines += [f"![policy vs baselines]({png.name})", ""]
    for key, title, label in (("error_type", "By error type", "type"), ("difficulty", "By difficulty", "")):
        groups = results.breakdown.get(key) or {}
        if not groups:
            continue
        lines += [f"## {title}", ""] + group_table(groups, label, BREAKDOWN_COLUMNS) + [""]
        png = plots.grouped_bars(
            groups,
            plots.GROUP_METRICS,
            out_dir / f"metrics_by_{key}.png",
            title=f"{results.policy}: {title.lower()}",
            xlabel=key.replace("_", " "),
        )
        if png:
            lines += [f"![{title}]({png.name})", ""]
        if results.baseline_breakdown and key == "error_type":
            rr_rows = []
            for g in groups:
                row = [f"type {g}", fmt(groups[g].summary.get("rr@5"))]
                for name in results.baselines:
                    other = results.baseline_breakdown.get(name, {}).get(key, {}).get(g)
                    row.append(fmt(other.summary.get("rr@5") if other else None))
                rr_rows.append(row)
            lines += ["RR@5 by error type against the baselines:", ""]
            lines += table(["group", results.policy, *results.baselines], rr_rows) + [""]
    lines += ["## Answer format (per step)", ""]
    lines += table(
        ["property", "share of steps [95% CI]"],
        [[f"`{k}`", fmt_ci(results.summary.get(k), results.ci.get(k))] for k in FORMAT_ROWS],
    ) + [""]
    return lines
