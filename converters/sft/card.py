"""The dataset card: what is in a converted dataset, where it came from and what was left out.

Written beside the splits as ``card.json`` (for programs: eval reads ``layout``, ``system``,
``format``, ``splits.test.problem_ids``, ``problem_sources``) and ``README.md`` (for people).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from converters.core.samples import Sample
from converters.core.split import SPLIT_RULE
from converters.sft.checks import length_stats
from converters.sft.grounding_report import markdown as grounding_markdown
from foundation.tables import markdown_table

CARD_VERSION = 1


COUNTED = {
    "by_source": "source",
    "by_error_type": "error_type",
    "by_difficulty": "difficulty",
    "by_family": "family",
    "by_action": "action",
    "by_agent": "agent",
}


def _counts(samples: Sequence[Sample]) -> dict[str, dict[str, int]]:
    """Samples per value of each counted metadata key ("?" for unknown)."""
    metas = [s.meta for s in samples]
    # one C-level count per key (Counter over an itemgetter map), not a Python loop over every sample
    counters = {name: Counter(map(itemgetter(key), metas)) for name, key in COUNTED.items()}
    return {name: {(k or "?"): n for k, n in sorted(c.items())} for name, c in counters.items()}


def split_summary(samples: Sequence[Sample], lengths: Sequence[int], cutoff: int) -> dict[str, Any]:
    problems = sorted({s.meta["problem_id"] for s in samples if s.meta["problem_id"]})
    return {
        "samples": len(samples),
        "problems": len(problems),
        **_counts(samples),
        # per split: the distribution of the counted samples (over-cutoff verdicts are in card["length"])
        "length": {k: v for k, v in length_stats(lengths, cutoff).items() if k != "over_cutoff"}
        if lengths
        else None,
        "problem_ids": problems,
    }


def _total(splits: Mapping[str, Mapping[str, Any]], lengths: Sequence[int], cutoff: int) -> dict[str, Any]:
    """Counts over all splits, summed from the per-split counts."""
    total: dict[str, Any] = {
        "samples": sum(s["samples"] for s in splits.values()),
        "problems": len({pid for s in splits.values() for pid in s["problem_ids"]}),
    }
    for name in COUNTED:
        merged: Counter[str] = Counter()
        for s in splits.values():
            merged.update(s[name])
        total[name] = dict(sorted(merged.items()))
    total["length"] = (
        {k: v for k, v in length_stats(lengths, cutoff).items() if k != "over_cutoff"} if lengths else None
    )
    return total


def build_card(
    *,
    opts: Mapping[str, Any],
    layout: str,
    system: str,
    inputs: list[dict[str, Any]],
    split_samples: Mapping[str, Sequence[Sample]],
    split_lengths: Mapping[str, Sequence[int]],
    length: Mapping[str, Any],
    files: Mapping[str, tuple[str, str]],
    drops: dict[str, Any],
    notes: list[str],
    lenient_actions: int,
    system_replaced: int,
    problem_sources: Mapping[str, str],
    entries: Mapping[str, Any],
) -> dict[str, Any]:
    cutoff = int(opts["cutoff"])
    all_lengths = [n for v in split_lengths.values() for n in v]  # kept samples whose length was counted
    splits = {
        name: {
            "file": files[name][0] if name in files else None,
            "sha256": files[name][1] if name in files else None,
            **split_summary(samples, split_lengths.get(name, []), cutoff),
        }
        for name, samples in split_samples.items()
    }
    used = {pid for s in split_samples.values() for pid in (x.meta["problem_id"] for x in s)}
    return {
        "card_version": CARD_VERSION,
        "name": opts["name"],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": opts.get("command") or [],
        "format": opts["format"],
        "file_format": opts["file_format"],
        "multi_turn": False,
        "layout": layout,
        "system": system,
        "template": opts["template"],
        "cutoff": cutoff,
        "seed": opts["seed"],
        "fractions": {"val": opts["val"], "test": opts["test"]},
        "split_rule": SPLIT_RULE,
        "split_notes": notes,
        "holdout": {"types": opts["holdout_types"], "families": opts["holdout_families"]},
        "mix": {"weights": opts["weights"], "caps": opts["caps"]},
        "inputs": inputs,
        "splits": splits,
        "total": _total(splits, all_lengths, cutoff),
        "length": {"cutoff": cutoff, "drop_over_cutoff": opts["drop_over_cutoff"], **length},
        "dropped": drops,
        "lenient_actions": lenient_actions,
        "canonical_actions": opts["canonical_actions"],
        "system_replaced": system_replaced,
        "problem_sources": {k: v for k, v in sorted(problem_sources.items()) if k in used},
        "dataset_info": dict(entries),
    }


def _table(title: str, rows: Mapping[str, Any]) -> list[str]:
    return [*markdown_table([title, "samples"], rows.items(), align="lr"), ""]


def _whatif_line(card: Mapping[str, Any]) -> list[str]:
    """Whether the episodes offered the what-if actions (eval offers the same); mixed data says so."""
    counts = card.get("whatif_samples")
    if not counts:
        return []
    offered, total = counts["offered"], counts["total"]
    if not offered:
        return ["What-if actions: not offered (eval offers none).", ""]
    mixed = f" ({offered} of {total} samples; the others' episodes did not offer them)" if offered < total else ""
    return [f"What-if actions: offered{mixed}; the system prompt lists them and eval offers them.", ""]


def _benchmark_lines(card: Mapping[str, Any]) -> list[str]:
    """How many samples the benchmark's RL stage parses as one of its eight actions."""
    compat = card.get("benchmark_actions")
    if not compat:
        return []
    out = [
        "## Benchmark actions",
        "",
        (f"benchmark_actions: {compat['compatible']} of {compat['total']} checked samples parse as one of the "
        "benchmark's eight actions, read as its RL stage reads them (first `Action:` match, `<think>` included)."),
        "",
    ]
    if compat["by_reason"]:
        action = "dropped" if compat["required"] else "kept (--no-require-benchmark-actions)"
        out += [f"Rejected by the RL stage's parser ({action}): "
                + ", ".join(f"{r} {n}" for r, n in compat["by_reason"].items()) + ".", ""]  # fmt: skip
        out += [f"- `{e['where']}`: {e['reason']}: {e['detail']}" for e in compat["examples"]] + [""]
    first = card.get("first_step_repair") or {}
    if first:
        out += ["First-step repair (the share of problems whose first action alone makes the model OPTIMAL, "
                "what a single-step RL stage rewards), by agent: "
                + ", ".join(f"{a} {v['rate']:.3f} ({v['repaired']}/{v['problems']})" for a, v in first.items())
                + ".", ""]  # fmt: skip
    return out


def render_markdown(card: Mapping[str, Any]) -> str:
    """The card for people: counts, files with sha256, the split rule, lengths, drops."""
    splits = card["splits"]
    out = [
        f"# Dataset `{card['name']}`",
        "",
        (
            f"OR-Debug SFT samples in **{card['format']}** format ({card['file_format']}), observation layout "
            f"**{card['layout']}**, template `{card['template']}`, seed {card['seed']}. Created {card['created_at']}."
        ),
        "",
        *_whatif_line(card),
        "## Files",
        "",
    ]
    files = [
        [name, f"`{card['name']}_{name}`", f"`{s['file'] or '-'}`", s["samples"], s["problems"],
         f"`{(s['sha256'] or '-')}`"]
        for name, s in splits.items()
    ]  # fmt: skip
    header = ["split", "LLaMA-Factory name", "file", "samples", "problems", "sha256"]
    out += markdown_table(header, files, align="lllrrl")
    out += ["", "## Split rule", "", card["split_rule"], ""]
    out += [f"- {n}" for n in card["split_notes"]] + ([""] if card["split_notes"] else [])
    if card["holdout"]["types"] or card["holdout"]["families"]:
        out += [
            f"Holdout split: error types {card['holdout']['types']}, families {card['holdout']['families']}.",
            "",
        ]
    length = card["length"]
    out += ["## Token length (prompt + answer, real Qwen3 tokenizer)", ""]
    if length.get("n"):
        out += [
            (
                f"Template `{card['template']}`, count mode {length['mode']}; distribution over "
                f"{length['distribution']}: p50 {length['p50']}, p95 {length['p95']}, max {length['max']}, "
                f"mean {length['mean']}. Over the cutoff {length['cutoff']} (exact, every sample whose byte bound "
                f"exceeds it was tokenised): {length['over_cutoff']}"
                f"{' (dropped)' if length['drop_over_cutoff'] else ' (kept: training would truncate them)'}."
            ),
            "",
        ]
    else:
        out += ["Not measured (--no-length-check).", ""]
    if card.get("grounding"):
        out += grounding_markdown(card["grounding"])
    out += _benchmark_lines(card)
    total = card["total"]
    out += ["## Contents (all splits)", ""]
    for title, key in (
        ("source", "by_source"),
        ("error type", "by_error_type"),
        ("difficulty", "by_difficulty"),
        ("family", "by_family"),
        ("action", "by_action"),
    ):
        out += _table(title, total[key])
    inputs = [[f"`{i['path']}`", i["kind"], i["samples"], i["skipped"], f"`{i['sha256']}`"] for i in card["inputs"]]
    out += ["## Inputs", "", *markdown_table(["file", "kind", "samples", "skipped", "sha256"], inputs, align="llrrl")]
    out += ["", "## Dropped", ""]
    if card["dropped"]:
        dropped = [[r, d["count"], d["why"]] for r, d in card["dropped"].items()]
        out += markdown_table(["reason", "count", "why"], dropped, align="lrl")
    else:
        out.append("Nothing.")
    out += [
        "",
        (
            f"Answers whose action parses only with the lenient (legacy) grammar: {card['lenient_actions']} "
            f"({'rewritten to canonical text' if card['canonical_actions'] else 'kept verbatim'}). "
            f"System prompts replaced by the layout's prompt: {card['system_replaced']}."
        ),
        "",
        f"Command: `{' '.join(card['command'])}`" if card["command"] else "",
        "",
    ]
    return "\n".join(out)


def write_card(directory: Path, card: Mapping[str, Any]) -> None:
    (directory / "card.json").write_text(
        json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (directory / "README.md").write_text(render_markdown(card), encoding="utf-8")
