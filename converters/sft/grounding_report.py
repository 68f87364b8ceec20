"""Grounding over many samples: the dataset card's ``grounding`` section and the measuring CLI.

    python -m converters.grounding trajectories/heuristic.jsonl tests/data/legacy_sft/sft_gpt52chat.json
    python -m converters.grounding data/ordebug/train.jsonl --by agent --examples 5

prints, per source (or agent), how many numbers and names of the answers are grounded and how
many samples are fully grounded, without converting anything. The rules are those of
``converters.grounding`` (docs/grounding.md).

Card JSON contract (``card["grounding"]``; other tools read these keys):
``numbers_total``, ``numbers_grounded``, ``numbers_grounded_share``, ``names_total``,
``names_grounded``, ``samples_total``, ``samples_grounded``, ``samples_grounded_share``,
``by_source`` (source -> the same counts), ``by_agent`` (likewise), ``examples`` (up to 3 ungrounded samples
per source: ``where`` file:line, ``source``, ``agent``, ``findings``), ``dropped_ungrounded``
(samples removed by ``--require-grounded``), ``warning`` (a sentence, or null).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converters.core.samples import Sample
from converters.sft.grounding import Grounding, check_grounding
from converters.sft.sources import LEGACY_SOURCE, ReadStats, detect_kind, read_alpaca, read_messages
from converters.sft.trajectories import read_trajectories
from foundation.cli import cli_main
from foundation.tables import markdown_table
from ordebug.prompts import system_prompt

#: Below this share of fully grounded samples the card and the console print a warning.
WARN_BELOW = 0.5
#: Ungrounded examples kept per source (every source gets its own, however large the others are).
EXAMPLES = 3


def sample_prompt(sample: Sample) -> tuple[str, str]:
    """Everything the model is shown before it answers: system prompt and user turn."""
    layout, whatif = sample.meta["layout"], bool(sample.meta.get("whatif"))
    system = sample.system or (system_prompt(layout, whatif=whatif and layout == "rich") if layout else "")
    return system, sample.user


def ground(sample: Sample) -> Grounding:
    return check_grounding(sample_prompt(sample), sample.output)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class _Counts:
    samples: int = 0
    samples_grounded: int = 0
    numbers: int = 0
    numbers_grounded: int = 0
    names: int = 0
    names_grounded: int = 0

    def add(self, g: Grounding) -> None:
        self.samples += 1
        self.samples_grounded += g.ok
        self.numbers += g.numbers_total
        self.numbers_grounded += g.numbers_grounded
        self.names += g.names_total
        self.names_grounded += g.names_grounded

    def as_dict(self) -> dict[str, Any]:
        return {
            "numbers_total": self.numbers,
            "numbers_grounded": self.numbers_grounded,
            "numbers_grounded_share": _share(self.numbers_grounded, self.numbers),
            "names_total": self.names,
            "names_grounded": self.names_grounded,
            "names_grounded_share": _share(self.names_grounded, self.names),
            "samples_total": self.samples,
            "samples_grounded": self.samples_grounded,
            "samples_grounded_share": _share(self.samples_grounded, self.samples),
        }


@dataclass
class Tally:
    """Grounding counts over samples, overall and per source and agent, with a few ungrounded examples."""

    examples_max: int = EXAMPLES
    total: _Counts = field(default_factory=_Counts)
    by_source: dict[str, _Counts] = field(default_factory=dict)
    by_agent: dict[str, _Counts] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sample: Sample, g: Grounding) -> None:
        meta = sample.meta
        self.total.add(g)
        self.by_source.setdefault(meta["source"] or "?", _Counts()).add(g)
        self.by_agent.setdefault(meta["agent"] or "?", _Counts()).add(g)
        if not g.ok and sum(e["source"] == meta["source"] for e in self.examples) < self.examples_max:
            self.examples.append(
                {
                    "where": meta["origin"],
                    "source": meta["source"],
                    "agent": meta["agent"],
                    "findings": [str(f) for f in g.ungrounded[:5]],
                }
            )

    def as_dict(self, dropped: int = 0) -> dict[str, Any]:
        out = self.total.as_dict()
        out["by_source"] = {k: v.as_dict() for k, v in sorted(self.by_source.items())}
        out["by_agent"] = {k: v.as_dict() for k, v in sorted(self.by_agent.items())}
        out["examples"] = self.examples
        out["dropped_ungrounded"] = dropped
        out["warning"] = warning(out)
        return out


def warning(summary: dict[str, Any]) -> str | None:
    """A sentence when a source has few fully grounded samples (never silent about ungrounded data)."""
    if not summary["samples_total"]:
        return None
    low = {k: v for k, v in summary["by_source"].items() if (v["samples_grounded_share"] or 0) < WARN_BELOW}
    if not low:
        return None
    head = (
        f"no sample is fully grounded (numbers {_pct(summary['numbers_grounded_share'])} grounded)"
        if summary["samples_grounded"] == 0
        else f"under {WARN_BELOW:.0%} of samples fully grounded in source(s) "
        + ", ".join(
            f"{k} {_pct(v['samples_grounded_share'])} (numbers {_pct(v['numbers_grounded_share'])})"
            for k, v in low.items()
        )
    )
    return (
        f"{head}: their answers state numbers or names the prompt does not show (docs/grounding.md); "
        "--require-grounded drops them"
    )


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def grounding_line(summary: dict[str, Any]) -> str:
    """One console line (make convert prints it beside the token lengths), plus the warning if any."""
    line = (
        f"  grounding: numbers {_pct(summary['numbers_grounded_share'])} "
        f"({summary['numbers_grounded']}/{summary['numbers_total']}), samples fully grounded "
        f"{_pct(summary['samples_grounded_share'])} ({summary['samples_grounded']}/{summary['samples_total']})"
    )
    if summary["dropped_ungrounded"]:
        line += f"; dropped {summary['dropped_ungrounded']} ungrounded"
    if summary.get("warning"):
        line += f"\n  warning: {summary['warning']}"
    return line


def table(summary: dict[str, Any], by: str = "by_source") -> str:
    """A text table of a grounding summary per source or agent, with the total."""
    head = f"{by.removeprefix('by_'):<24} {'samples':>8} {'grounded':>9} {'numbers':>8} {'grounded':>9} {'names':>7} {'grounded':>9}"
    rows = [head, "-" * len(head)]
    for key, c in [*summary[by].items(), ("all", summary)]:
        rows.append(
            f"{key:<24} {c['samples_total']:>8} {_pct(c['samples_grounded_share']):>9} {c['numbers_total']:>8} "
            f"{_pct(c['numbers_grounded_share']):>9} {c['names_total']:>7} {_pct(c['names_grounded_share']):>9}"
        )
    return "\n".join(rows)


def markdown(summary: dict[str, Any]) -> list[str]:
    """The card's "Grounding" section for people: shares, a row per source, the warning, examples."""
    out = ["## Grounding", ""]
    out += [
        (
            "Numbers and names of the answers (`<think>` and the action's arguments) that the prompt shows "
            "or the answer derives in checkable arithmetic (rules: `docs/grounding.md`)."
        ),
        "",
    ]
    if summary.get("warning"):
        out += [f"**Warning:** {summary['warning']}.", ""]
    rows = [
        [key, c["samples_total"], _pct(c["samples_grounded_share"]), c["numbers_total"],
         _pct(c["numbers_grounded_share"]), c["names_total"], _pct(c["names_grounded_share"])]
        for key, c in [*summary["by_source"].items(), ("**all**", summary)]
    ]  # fmt: skip
    header = ["source", "samples", "fully grounded", "numbers", "grounded", "names", "grounded"]
    out += markdown_table(header, rows, align="lrrrrrr")
    out += ["", f"Dropped as ungrounded (`--require-grounded`): {summary['dropped_ungrounded']}.", ""]
    if summary["examples"]:
        out += ["Ungrounded examples:", ""]
        for ex in summary["examples"]:
            out.append(f"- `{ex['where']}` ({ex['agent'] or ex['source']}): " + "; ".join(ex["findings"]))
        out.append("")
    return out


def read_samples(path: Path, *, keep_failures: bool = False) -> Iterable[Sample]:
    """Samples of one trajectory, Alpaca or messages file, as the converter would read them."""
    kind, stats = detect_kind(path), ReadStats()
    if kind == "trajectories":
        return read_trajectories(path, layout=None, keep_failures=keep_failures, skip_bad=False, stats=stats)
    reader = read_alpaca if kind == "alpaca" else read_messages
    return reader(path, source=LEGACY_SOURCE, stats=stats, skip_bad=False)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m converters.grounding",
        description="Measure how grounded the answers of trajectory, Alpaca or messages files are: the share "
        "of numbers and names shown in the prompt or derived in writing (docs/grounding.md). Converts nothing.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="trajectory .jsonl, Alpaca .json/.jsonl, "
        "messages .jsonl, or a converted split (data/NAME/train.jsonl)",
    )
    p.add_argument("--by", choices=["source", "agent"], default="agent", help="one table row per")
    p.add_argument(
        "--examples", type=int, default=EXAMPLES, metavar="N", help="ungrounded samples to show per source"
    )
    p.add_argument("--keep-failures", action="store_true", help="also count steps of failed trajectories")
    return p


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tally = Tally(examples_max=args.examples)
    for path in args.files:
        for sample in read_samples(path, keep_failures=args.keep_failures):
            tally.add(sample, ground(sample))
    summary = tally.as_dict()
    print(table(summary, f"by_{args.by}"))
    print(grounding_line(summary).lstrip())
    for ex in summary["examples"]:
        print(f"\n{ex['where']} ({ex['agent'] or ex['source']}):")
        print("\n".join(f"  {f}" for f in ex["findings"]))
    return 0
