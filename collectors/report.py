"""End-of-run tables and the JSON summary written beside a trajectory file.

Everything is computed from the file's lines (every finished attempt, this run's and earlier
runs'), so a resumed run reports the whole file, as the progress notes of OR-Debug-Bench's old collection scripts did.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from pydantic import BaseModel

from foundation.tables import markdown_table

#: Episode metrics (ordebug.metrics) averaged in the summary and shown in the table.
REPORTED_METRICS: tuple[str, ...] = (
    "rr@5",
    "rr@10",
    "rr@20",
    "op",
    "fp",
    "first_step_repair",
    "da_iis",
    "da_target",
    "te",
    "steps",
)


class AttemptView(BaseModel):
    """The few fields of one trajectory line the report needs (kept in memory per line)."""

    problem_id: str
    agent: str = ""
    layout: str = ""
    source: str = ""
    error_type: str
    difficulty: str
    success: bool
    reason: str
    steps: int
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    retries: int = 0
    metrics: dict[str, float | None] = {}


def attempt_view(record: dict[str, Any]) -> AttemptView:
    """Project a trajectory line (as a dict) onto what the report needs."""
    problem = record.get("problem") or {}
    outcome = record.get("outcome") or {}
    usage = record.get("usage") or {}
    success = bool(outcome.get("success"))
    return AttemptView(
        problem_id=record["problem_id"],
        agent=str(record.get("agent") or ""),
        layout=str(record.get("layout") or ""),
        source=str(problem.get("source") or ""),
        error_type=str(problem.get("error_type") or "?"),
        difficulty=str(problem.get("difficulty") or "?"),
        success=success,
        reason="success" if success else failure_reason(outcome),
        steps=int(outcome.get("steps") or 0),
        cost_usd=float(usage.get("cost_usd") or 0.0),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        calls=int(usage.get("calls") or 0),
        retries=int(usage.get("retries") or 0),
        metrics={k: v for k, v in (record.get("metrics") or {}).items() if k in REPORTED_METRICS},
    )


def failure_reason(outcome: dict[str, Any]) -> str:
    """One short label per failed attempt, e.g. 'step_limit (INFEASIBLE)', 'error: LLM call failed'."""
    by = outcome.get("terminated_by") or "?"
    if by == "error":
        error = str(outcome.get("error") or "")
        return f"error: {error.split(':')[0][:40]}" if error else "error"
    return f"{by} ({outcome.get('final_status') or '?'})"


def _groups(views: list[AttemptView], key: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"problems": 0, "successes": 0, "failures": 0})
    for v in views:
        g = out[getattr(v, key)]
        g["problems"] += 1
        g["successes" if v.success else "failures"] += 1
    return dict(sorted(out.items()))


def summarize(views: list[AttemptView]) -> dict[str, Any]:
    """The numbers of the JSON summary (by type, by difficulty, failure reasons, usage)."""
    n = len(views)
    ok = sum(v.success for v in views)
    return {
        "problems": n,
        "successes": ok,
        "failures": n - ok,
        "success_rate": ok / n if n else None,
        "mean_steps": sum(v.steps for v in views) / n if n else None,
        "by_error_type": _groups(views, "error_type"),
        "by_difficulty": _groups(views, "difficulty"),
        "failure_reasons": dict(Counter(v.reason for v in views if not v.success).most_common()),
        "metrics": metric_means(views),
        "usage": {
            "calls": sum(v.calls for v in views),
            "retries": sum(v.retries for v in views),
            "prompt_tokens": sum(v.prompt_tokens for v in views),
            "completion_tokens": sum(v.completion_tokens for v in views),
            "cost_usd": round(sum(v.cost_usd for v in views), 6),
        },
    }


def metric_means(views: list[AttemptView]) -> dict[str, dict[str, float | int | None]]:
    """Mean of each reported metric over the attempts where it is defined (and how many those are)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for name in REPORTED_METRICS:
        values = [v.metrics[name] for v in views if v.metrics.get(name) is not None]
        out[name] = {"mean": sum(values) / len(values) if values else None, "n": len(values)}
    return out


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _table(title: str, groups: dict[str, dict[str, int]]) -> list[str]:
    rows = [
        [name, g["problems"], g["successes"], g["failures"], _pct(g["successes"], g["problems"])]
        for name, g in groups.items()
    ]
    return markdown_table([title, "Problems", "Successful", "Failed", "Rate"], rows, align="lrrrr")


def render_tables(summary: dict[str, Any], *, agent: str, workers: int) -> str:
    """Markdown tables like the progress notes of OR-Debug-Bench's old collection scripts."""
    s = summary
    facts = [
        ["Total Problems", s["problems"]],
        ["Successful", f"{s['successes']} ({_pct(s['successes'], s['problems'])})"],
        ["Failed", s["failures"]],
        ["Mean steps", f"{s['mean_steps']:.2f}" if s["mean_steps"] is not None else "-"],
        ["Workers", workers],
    ]
    usage = s["usage"]
    if usage["calls"]:
        facts += [
            ["LLM calls (retries)", f"{usage['calls']} ({usage['retries']})"],
            ["Tokens in / out", f"{usage['prompt_tokens']} / {usage['completion_tokens']}"],
            ["Cost", f"${usage['cost_usd']:.4f}"],
        ]
    lines = [f"## Collection: {agent}", "", *markdown_table(["Metric", "Value"], facts)]
    shown = {k: m for k, m in s["metrics"].items() if m["mean"] is not None}
    if shown:
        values = [f"{m['mean']:.3f}" for m in shown.values()]
        lines += ["", *markdown_table(list(shown), [values], align="r" * len(shown))]
    lines += ["", *_table("Error type", s["by_error_type"]), "", *_table("Difficulty", s["by_difficulty"])]
    if s["failure_reasons"]:
        lines += ["", *markdown_table(["Failure reason", "Count"], s["failure_reasons"].items(), align="lr")]
    skipped = s.get("skipped") or {}
    if skipped:  # not attempts: outside every count above
        rows = [(reason, len(ids)) for reason, ids in skipped.items()]
        lines += ["", *markdown_table(["Skipped (not written)", "Count"], rows, align="lr")]
    return "\n".join(lines)
