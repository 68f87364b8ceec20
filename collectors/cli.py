"""``python -m collectors``: collect agent trajectories on a benchmark (``make collect``).

Plain ``python -m collectors`` on a fresh checkout generates the default benchmark into
data/bench/default (when missing) and collects the heuristic and oracle agents, plus the teacher
when ORDEBUG_TEACHER_BASE_URL or ORDEBUG_TEACHER_CONFIG is set, each into
trajectories/<agent>.jsonl. Reruns resume; see README "Collectors".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collectors.runner import CollectError, RunOptions, RunResult, Shard, collect
from foundation.cli import cli_main
from ordebug.layouts import LAYOUTS
from ordebug.problems import Problem, load_problems
from play.agents import AGENT_NAMES, SCRIPTED
from play.llm_config import load_llm_config, teacher_configured

DEFAULT_BENCH = Path("data/bench/default")
DEFAULT_BENCH_N = 45  # five of each type A-I: a set every agent finishes in seconds
DEFAULT_BENCH_SEED = 0
DEFAULT_OUT_DIR = Path("trajectories")
EXIT_DOMAIN, EXIT_STOPPED, EXIT_FAILED, EXIT_INTERRUPTED = 2, 3, 4, 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m collectors",
        description="Collect OR-Debug trajectories (one JSON line per problem) with a heuristic, oracle or "
        "LLM-teacher agent. Incremental: rerun to resume; --overwrite starts afresh. Without --problems the "
        "default benchmark data/bench/default is generated if missing; without --agent the heuristic and "
        "oracle run (and the teacher when ORDEBUG_TEACHER_BASE_URL/ORDEBUG_TEACHER_CONFIG is set).",
        epilog="exit codes: 0 done; 2 bad input or a teacher endpoint that refuses the key/model/URL; "
        "3 stopped by the budget; 4 every attempted problem ended in an error (see --retry-errors); "
        "130 interrupted. Details: docs/collecting.md",
    )
    p.add_argument(
        "--problems",
        nargs="+",
        metavar="DIR|FILE",
        help="benchmark dirs (dataset.json) or .mps/.lp files/dirs",
    )
    p.add_argument(
        "--agent", choices=AGENT_NAMES, help="agent to run (default: heuristic and oracle [+ teacher])"
    )
    p.add_argument("--out", type=Path, help="output JSONL (default trajectories/<agent>.jsonl)")
    p.add_argument("--workers", type=int, default=4, help="solver threads (default 4)")
    p.add_argument("--limit", type=int, help="only the first N problems (of the shard)")
    p.add_argument("--max-steps", type=int, default=20, help="step limit per episode (default 20)")
    p.add_argument(
        "--overwrite", action="store_true", help="discard the output file's trajectories and start afresh"
    )
    p.add_argument("--shard", help="i/n: only problems whose id hashes to shard i of n (1-based)")
    p.add_argument("--layout", choices=LAYOUTS, default="rich", help="observation layout (default rich)")
    p.add_argument(
        "--whatif",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="offer the project's own what-if actions WHATIF_* to the scripted agents (an opt-in extension, "
        "default off: the benchmark knows eight actions, and the rich layout's diagnostics section shows the "
        "same evidence); see docs/actions.md",
    )
    p.add_argument("--concurrency", type=int, default=32, help="teacher episodes in flight (default 32)")
    p.add_argument(
        "--teacher-config", type=Path, help="teacher endpoint YAML (default $ORDEBUG_TEACHER_CONFIG)"
    )
    p.add_argument(
        "--retry-errors",
        action="store_true",
        help="replay the selected problems whose recorded attempt ended in an infrastructure error "
        "(an error line stays in the file until its replacement is written)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _check_args(args: argparse.Namespace, agents: list[str]) -> None:
    for name in ("workers", "max_steps", "concurrency"):
        if getattr(args, name) < 1:
            raise CollectError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.limit is not None and args.limit < 1:  # 0 would exit 0 with an empty file, as if collected
        raise CollectError(f"--limit must be at least 1, got {args.limit}",
                           fix="leave --limit (LIMIT=) out to play every problem")
    if args.whatif and args.layout != "rich":
        raise CollectError("--whatif needs --layout rich (the legacy layout does not show what-if answers)")
    if args.whatif and "teacher" in agents:
        raise CollectError("--whatif is not offered to the teacher yet", fix="run the teacher with --no-whatif")
    if args.out is not None and len(agents) > 1:
        raise CollectError(
            f"--out names one file but {len(agents)} agents would run ({', '.join(agents)}); add --agent"
        )


def default_out(agent: str, shard: Shard | None) -> Path:
    suffix = f".shard{shard.index}of{shard.count}" if shard else ""
    return DEFAULT_OUT_DIR / f"{agent}{suffix}.jsonl"


def default_problems(progress: bool) -> list[Problem]:
    """The default benchmark, generated once (deterministic for its seed)."""
    if not (DEFAULT_BENCH / "dataset.json").is_file():
        from ordebug.generate import generate
        from ordebug.inject import TYPES

        print(
            f"generating the default benchmark ({DEFAULT_BENCH_N} problems, seed {DEFAULT_BENCH_SEED}) into {DEFAULT_BENCH}",
            file=sys.stderr,
        )
        generate(
            DEFAULT_BENCH,
            n=DEFAULT_BENCH_N,
            seed=DEFAULT_BENCH_SEED,
            types=TYPES,
            progress=progress,
            name="default",
        )
    return load_problems(DEFAULT_BENCH)


def run(args: argparse.Namespace) -> int:
    if args.agent:
        agents = [args.agent]
    else:
        agents = ["heuristic", "oracle"] + (["teacher"] if teacher_configured() else [])
    _check_args(args, agents)
    shard = Shard.parse(args.shard) if args.shard else None
    # The teacher config is checked before any work starts, so a typo fails in a second.
    teacher_cfg = load_llm_config(args.teacher_config) if "teacher" in agents else None
    sources = [str(s) for s in args.problems] if args.problems else [str(DEFAULT_BENCH)]
    problems = load_problems(args.problems) if args.problems else default_problems(not args.no_progress)
    code = 0
    for agent in agents:
        options = RunOptions(
            out=args.out or default_out(agent, shard),
            workers=args.workers,
            limit=args.limit,
            max_steps=args.max_steps,
            layout=args.layout,
            whatif=bool(args.whatif),
            overwrite=args.overwrite,
            shard=shard,
            retry_errors=args.retry_errors,
            concurrency=args.concurrency,
            progress=not args.no_progress,
        )
        if agent == "teacher":
            from play.agents.teacher import TeacherAgent
            from play.llm import LLMClient

            teacher = TeacherAgent(LLMClient(teacher_cfg), layout=args.layout)
            result = collect(problems, options, teacher=teacher, sources=sources)
        else:
            result = collect(problems, options, agent_factory=SCRIPTED[agent], sources=sources)
        print(result.table)
        print(f"\n-> {options.out} (+ {options.out.name}.summary.json)\n")
        code = max(code, _report_problems(result, options.out))
        if result.stopped:
            print(
                f"stopped early: {result.stopped}; {result.unfinished} problems left — rerun to continue",
                file=sys.stderr,
            )
            code = max(code, EXIT_STOPPED)
    return code


def _report_problems(result: RunResult, out: Path) -> int:
    """Say plainly on stderr what a user must act on; the exit code it calls for (0 if none)."""
    if result.skipped:
        ids = [s.problem_id for s in result.skipped]
        shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
        print(
            f"skipped {len(ids)} problem(s) whose model is already OPTIMAL at reset (nothing to debug, "
            f"not written; listed under 'skipped' in the summary): {shown}",
            file=sys.stderr,
        )
    if result.errors_held:
        print(
            f"{result.errors_held} problem(s) in {out} hold an error record (an infrastructure failure, "
            f"not an attempt); replay them by rerunning the same command with --retry-errors "
            f"(make collect ... RETRY_ERRORS=1)",
            file=sys.stderr,
        )
    if result.all_failed:
        print(
            f"error: every one of the {len(result.collected)} problem(s) attempted in this run ended in an "
            f"error (see 'failure_reasons' in the summary); fix the cause, then rerun with --retry-errors",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if not result.collected and result.errors_held and not result.usable_held:
        print(
            f"error: nothing was collected and {out} holds no usable trajectory for these problems, only "
            f"error records; rerun with --retry-errors to replay them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print(
            "interrupted: every finished trajectory is saved; rerun the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
