"""PNG plots for report.md (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from eval.metric_registry import view
from eval.schema import GroupSummary

#: Episode metrics worth plotting per group (all in [0, 1]).
GROUP_METRICS = view("plot_groups")
COMPARE_METRICS = view("plot_compare")
FORMAT_METRICS = view("plot_format")


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _whiskers(values: Sequence[float], cis: Sequence[Sequence[float] | None]) -> list[list[float]]:
    """matplotlib's ``yerr`` for bars with confidence intervals: distances down and up, 0 without a CI."""
    return [
        [max(0.0, v - ci[0]) if ci else 0.0 for v, ci in zip(values, cis, strict=True)],
        [max(0.0, ci[1] - v) if ci else 0.0 for v, ci in zip(values, cis, strict=True)],
    ]


def grouped_bars(
    groups: Mapping[str, GroupSummary],
    metrics: Sequence[str],
    path: Path,
    *,
    title: str,
    xlabel: str,
    errorbars: bool = True,
) -> Path | None:
    """One cluster of bars per group, one bar per metric (with bootstrap CI whiskers)."""
    names = list(groups)
    metrics = [m for m in metrics if any(groups[g].summary.get(m) is not None for g in names)]
    if not names or not metrics:
        return None
    width = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names) * len(metrics) / 3), 4.2))
    for j, m in enumerate(metrics):
        xs = [i + (j - (len(metrics) - 1) / 2) * width for i in range(len(names))]
        vals = [groups[g].summary.get(m) or 0.0 for g in names]
        err = None
        if errorbars:
            err = _whiskers(vals, [groups[g].ci.get(m) for g in names])
        ax.bar(xs, vals, width, label=m, yerr=err, capsize=2)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(ncol=min(4, len(metrics)), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def compare_policies(groups: Mapping[str, GroupSummary], path: Path) -> Path | None:
    """The evaluated policy against the baselines, metric by metric."""
    names = list(groups)
    metrics = [m for m in COMPARE_METRICS if any(groups[g].summary.get(m) is not None for g in names)]
    if not names or not metrics:
        return None
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(7.0, 0.9 * len(metrics) * max(2, len(names)) / 2), 4.2))
    for j, g in enumerate(names):
        xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(metrics))]
        vals = [groups[g].summary.get(m) or 0.0 for m in metrics]
        ax.bar(xs, vals, width, label=g, yerr=_whiskers(vals, [groups[g].ci.get(m) for m in metrics]), capsize=2)
    ax.set_xticks(range(len(metrics)))
    ax.set_xticklabels(metrics)
    ax.set_ylim(0, 1.05)
    ax.set_title("Policy vs baselines (95% bootstrap CI)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def loss_curve(
    phases: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], path: Path, *, title: str = "Training loss"
) -> Path | None:
    """Train (and eval) loss against the step, from LLaMA-Factory's trainer_log.jsonl rows.

    Phases of a progressive run are drawn one after the other (steps offset), one colour each.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    offset, drawn = 0, False
    for name, rows in phases:
        train = [
            (offset + r["current_steps"], r["loss"])
            for r in rows
            if r.get("loss") is not None and "current_steps" in r
        ]
        evals = [
            (offset + r["current_steps"], r["eval_loss"])
            for r in rows
            if r.get("eval_loss") is not None and "current_steps" in r
        ]
        label = f"{name}: " if len(phases) > 1 else ""
        if train:
            ax.plot(
                *zip(*train, strict=True), marker="." if len(train) < 50 else None, label=f"{label}train loss"
            )
        if evals:
            ax.plot(*zip(*evals, strict=True), marker="o", label=f"{label}eval loss")
        drawn = drawn or bool(train or evals)
        steps = [r.get("total_steps") or r.get("current_steps") or 0 for r in rows]
        offset += max(steps, default=0)
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)
