"""`python -m eval`: score a policy on held-out problems in the real solver.

python -m eval --run runs/qwen3_lora_sft                 # a trained run on its test split
python -m eval --policy drop_first --problems DIR        # a baseline
python -m eval --policy openai --model NAME --problems DIR
python -m eval --base-model models/tiny-qwen3 --problems DIR   # a local model with no training run
python -m eval --policy predictions --predictions FILE   # offline format scoring
python -m eval --tool-calls FILE [--tools FILE]          # tool-call validity (docs/workloads.md)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from eval.episodes import EpisodeSettings
from eval.errors import EvalConfigError
from eval.harness import EvalOptions, evaluate_policy, write_outputs
from eval.metric_registry import view
from eval.policies import BASELINES, POLICY_NAMES, make_baseline
from eval.problem_sets import ProblemSet, explicit_problems, run_cards, run_test_problems, with_card_settings
from eval.run_dir import RunDir, from_repo, load_run
from eval.schema import Results
from foundation.cli import cli_main
from foundation.redact import redact
from ordebug.layouts import LAYOUTS
from ordebug.prompts import system_prompt

DEFAULT_PROBLEMS = "data/bench/default"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m eval",
        description="Play held-out OR-Debug problems with a policy in Gurobi and score every step and "
        "episode "
        "(format compliance, RR@k, DA, OP, TE, FP); writes results.json and report.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    what = p.add_argument_group("what to evaluate (one of)")
    what.add_argument("--run", help="training run directory (runs/<name>): its model on its test split")
    what.add_argument(
        "--policy",
        choices=POLICY_NAMES,
        help="a baseline, an OpenAI-compatible endpoint, or a predictions file",
    )
    what.add_argument(
        "--predictions", help="JSONL of model outputs per observation (implies --policy predictions)"
    )
    what.add_argument("--tool-calls", help="JSONL of predicted tool calls to validate (tool-call trace datasets)")
    what.add_argument(
        "--base-model",
        metavar="PATH",
        help="a local model folder with no training run (e.g. the untrained base, for before/after "
        "fine-tuning), played through LLaMA-Factory with --template",
    )
    where = p.add_argument_group("problems and episodes")
    where.add_argument(
        "--problems",
        nargs="+",
        metavar="DIR|FILE",
        help=f"benchmark sets / model files, one or several (default: the run's test split, else "
        f"{DEFAULT_PROBLEMS})",
    )
    where.add_argument("--limit", type=int, help="play only the first N problems")
    where.add_argument(
        "--max-steps", type=int, default=20, help="step limit per episode (the benchmark's 20)"
    )
    where.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="observation layout (default: the run's dataset card, else legacy)",
    )
    where.add_argument(
        "--whatif",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="offer the what-if actions WHATIF_* (default: as the run's dataset card records, else off)",
    )
    where.add_argument(
        "--parse",
        choices=("lenient", "strict"),
        default="lenient",
        help="how the played action is read from an answer (format metrics always report both)",
    )
    where.add_argument("--time-limit", type=float, help="seconds per Gurobi solve (default: none)")
    where.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="episodes in flight at once (default: 64 for a run on vLLM so it batches, 16 for "
        "openai, else 4)",
    )
    where.add_argument(
        "--baselines",
        default=None,
        help=f"comma list of baselines to play on the same problems ({','.join(BASELINES)}) or "
        "'none' (default: all three for a model, none for a baseline)",
    )
    where.add_argument(
        "--no-oracle-cost",
        action="store_true",
        help="skip the oracle's minimal repair (repair-cost fields become empty)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--out", help="output directory (default: <run>/eval, else results/<policy>)")
    out.add_argument("--seed", type=int, default=0, help="bootstrap and sampling seed")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    model = p.add_argument_group("model policies (run / openai)")
    model.add_argument("--model", help="openai: model name (env ORDEBUG_EVAL_MODEL)")
    model.add_argument(
        "--base-url", help="openai: endpoint (env ORDEBUG_EVAL_BASE_URL; key: ORDEBUG_EVAL_API_KEY)"
    )
    model.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (0 = greedy)")
    model.add_argument("--top-p", type=float, default=1.0)
    model.add_argument("--max-new-tokens", type=int, default=1024, help="completion token cap per step")
    model.add_argument(
        "--backend",
        choices=("auto", "huggingface", "vllm"),
        default="auto",
        help="run: LLaMA-Factory inference backend (auto: vllm on a GPU, else huggingface)",
    )
    model.add_argument(
        "--model-kind",
        choices=("auto", "merged", "adapter"),
        default="auto",
        help="run: load the merged export or base model + LoRA adapter",
    )
    model.add_argument(
        "--multi-turn",
        action="store_true",
        default=None,
        help="send earlier turns of the episode (default: the dataset card's multi_turn)",
    )
    model.add_argument(
        "--template",
        default=None,
        help="base-model: LLaMA-Factory chat template (default qwen3_think; a run uses its own)",
    )
    model.add_argument(
        "--tools", help="tool-calls: tools schema YAML (default: converters' repo-agent tools)"
    )
    return p


def _baselines(arg: str | None, is_model: bool) -> list[str]:
    if arg is None:
        return list(BASELINES) if is_model else []
    if arg.strip().lower() in ("", "none"):
        return []
    names = [n.strip() for n in arg.split(",") if n.strip()]
    bad = [n for n in names if n not in BASELINES]
    if bad:
        raise EvalConfigError(
            f"--baselines: unknown {bad}", fix=f"use a comma list of {', '.join(BASELINES)}"
        )
    return names


def _check_base_model(args: argparse.Namespace) -> None:
    """--base-model: alone among the "what" options, and a local model folder (nothing downloads)."""
    if args.template is not None and not args.base_model:
        raise EvalConfigError(
            "--template goes with --base-model", fix="a run plays with the template it was trained with"
        )
    if not args.base_model:
        return
    others = [
        opt
        for opt, value in (
            ("--run", args.run),
            ("--policy", args.policy),
            ("--predictions", args.predictions),
            ("--tool-calls", args.tool_calls),
        )
        if value
    ]
    if others:
        raise EvalConfigError(f"use just one of --base-model or {', '.join(others)}")
    path = Path(args.base_model).expanduser()
    if not (path / "config.json").is_file():
        raise EvalConfigError(
            f"--base-model {args.base_model}: no model folder there (no config.json)",
            fix="pass a local Hugging Face model folder, e.g. models/tiny-qwen3 (make tiny-model builds it)",
        )


def _check_args(args: argparse.Namespace) -> str:
    """The mode, after refusing conflicting options (each message names them)."""
    _check_base_model(args)
    if args.base_model:
        _check_episode_limits(args)
        return "episodes"
    if args.tool_calls:
        if args.run or args.policy:
            raise EvalConfigError("use just one of --tool-calls, --run or --policy")
        return "tool_calls"
    if args.predictions and args.policy not in (None, "predictions"):
        raise EvalConfigError(f"--predictions goes with --policy predictions, not --policy {args.policy}")
    if args.policy == "predictions" or args.predictions:
        if args.run:
            raise EvalConfigError("use just one of --run or --predictions")
        if not args.predictions:
            raise EvalConfigError("--policy predictions needs --predictions FILE")
        return "predictions"
    if args.run and args.policy:
        raise EvalConfigError("use just one of --run or --policy", fix="--run plays the run's own model")
    if not args.run and not args.policy:
        raise EvalConfigError(
            "nothing to evaluate", fix="pass --run DIR, --base-model PATH or --policy NAME (see --help)"
        )
    _check_episode_limits(args)
    return "episodes"


def _check_episode_limits(args: argparse.Namespace) -> None:
    if args.max_steps < 1 or (args.concurrency is not None and args.concurrency < 1):
        raise EvalConfigError("--max-steps and --concurrency must be at least 1")


def _problems(args: argparse.Namespace, run: RunDir | None) -> ProblemSet:
    if args.problems:
        ps = explicit_problems(args.problems)
        if run is not None:  # the given problems, shown exactly as the run's training data showed them
            ps = with_card_settings(ps, run_cards(run))
    elif run is not None:
        ps = run_test_problems(run)
    else:
        default = from_repo(DEFAULT_PROBLEMS)
        if not default.exists():
            raise EvalConfigError(
                f"no --problems given and the default {DEFAULT_PROBLEMS} does not exist",
                fix="pass --problems DIR (a benchmark set or model files) or run "
                "`make generate OUT=data/bench/default`",
            )
        ps = explicit_problems(str(default))
    if args.limit is not None:
        ps.problems = ps.problems[: args.limit]
    if not ps.problems:
        raise EvalConfigError(f"{ps.spec}: no problems to play")
    return ps


def _local_policy(args: argparse.Namespace, system: str | None, multi_turn: bool, **model: Any) -> Any:
    """A LocalModelPolicy with the sampling and backend options of the command line; ``model`` names the weights."""
    from eval.policies.local_model import LocalModelPolicy

    return LocalModelPolicy(
        system=system,
        backend=None if args.backend == "auto" else args.backend,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        multi_turn=multi_turn,
        **model,
    )


def _run_policy(args: argparse.Namespace, run: RunDir, system: str | None, multi_turn: bool) -> Any:
    model_path, adapter, _kind = run.model_spec(args.model_kind)
    return _local_policy(
        args,
        system,
        multi_turn,
        model_path=model_path,
        adapter_path=adapter,
        template=run.template,
        finetuning_type=run.finetuning_type if adapter else "full",
        name=f"run:{run.name}",
    )


def _base_model_policy(args: argparse.Namespace, system: str | None, multi_turn: bool) -> Any:
    path = Path(args.base_model).expanduser().resolve()
    return _local_policy(
        args,
        system,
        multi_turn,
        model_path=path,
        template=args.template or "qwen3_think",
        finetuning_type="full",  # no adapter: the weights in the folder are played as they are
        name=f"base:{path.name}",
    )


def _default_out(args: argparse.Namespace, run: RunDir | None, mode: str) -> Path:
    if args.out:
        return Path(args.out)
    if run is not None:
        return run.path / "eval"
    if getattr(args, "base_model", None):
        return from_repo("results") / f"base-{Path(args.base_model).resolve().name}"
    name = {"tool_calls": "tool_calls", "predictions": "predictions"}.get(mode) or args.policy
    return from_repo("results") / name


def run_episodes(args: argparse.Namespace) -> tuple[Results, Path, RunDir | None]:
    # validated before anything loads
    is_model = args.run is not None or args.base_model is not None or args.policy == "openai"
    baselines = _baselines(args.baselines, is_model)
    run = load_run(args.run) if args.run else None
    ps = _problems(args, run)
    layout = args.layout or ps.layout or "legacy"
    whatif = bool(ps.whatif) if args.whatif is None else args.whatif
    if whatif and layout != "rich":
        raise EvalConfigError(
            f"the what-if actions need the rich layout, not {layout!r}", fix="pass --layout rich or --no-whatif"
        )
    system = ps.system if ps.system is not None else system_prompt(layout, whatif=whatif)
    multi_turn = ps.multi_turn if args.multi_turn is None else args.multi_turn
    if run is not None:
        policy = _run_policy(args, run, system, multi_turn)
    elif args.base_model:
        policy = _base_model_policy(args, system, multi_turn)
    elif args.policy == "openai":
        from eval.policies.openai_policy import OpenAIPolicy

        policy = OpenAIPolicy(
            system=system,
            base_url=args.base_url,
            model=args.model,
            temperature=args.temperature,
            top_p=args.top_p if args.top_p < 1 else None,
            max_tokens=args.max_new_tokens,
            seed=args.seed,
            multi_turn=multi_turn,
        )
    else:
        policy = make_baseline(args.policy, layout=layout, whatif=whatif)
    concurrency = args.concurrency or (
        64 if getattr(policy, "backend", None) == "vllm" else 16 if args.policy == "openai" else 4
    )
    opts = EvalOptions(
        settings=EpisodeSettings(
            max_steps=args.max_steps, layout=layout, whatif=whatif, parse=args.parse, time_limit=args.time_limit
        ),
        concurrency=concurrency,
        baselines=baselines,
        oracle_cost=not args.no_oracle_cost,
        seed=args.seed,
        progress=not args.no_progress,
        system=system,
        problems_spec=ps.spec,
        problems_original=ps.original,
        extra_config={
            "dataset_cards": ps.cards,
            "multi_turn": multi_turn,
            # a dataset mixing episodes with and without the what-if actions: eval offers them
            "whatif_mixed": ps.whatif_mixed,
            "limit": args.limit,
            "run": _run_config(run),
            "base_model": str(Path(args.base_model).expanduser().resolve()) if args.base_model else None,
        },
    )
    return evaluate_policy(policy, ps.problems, opts), _default_out(args, run, "episodes"), run


#: What results.json keeps of a run's manifest (provenance of the evaluated model).
MANIFEST_KEYS = ("run_name", "status", "started_at", "ended_at", "git", "template", "base_model", "datasets")


def _run_config(run: RunDir | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "path": str(run.path),
        "name": run.name,
        "recipe": run.recipe,
        "manifest": {k: run.manifest.get(k) for k in MANIFEST_KEYS if k in run.manifest},
    }


def run_offline(args: argparse.Namespace, mode: str) -> tuple[Results, Path]:
    from eval import offline

    if mode == "predictions":
        problems = explicit_problems(args.problems).problems if args.problems else []
        spec = " ".join(args.problems) if args.problems else None
        results = offline.predictions_results(args.predictions, problems, spec, seed=args.seed)
    else:
        results = offline.tool_call_results(args.tool_calls, args.tools, seed=args.seed)
    return results, _default_out(args, None, mode)


SUMMARY_KEYS = view("terminal")


def print_summary(results: Results, paths: tuple[Path, Path]) -> None:
    keys = [k for k in SUMMARY_KEYS if k in results.summary]
    width = max(len(k) for k in keys)
    print(f"{results.policy}:")
    for k in keys:
        v = results.summary[k]
        print(f"  {k:<{width}}  {'—' if v is None else (v if isinstance(v, int) else f'{v:.3f}')}")
    for name, base in results.baselines.items():
        print(
            f"  baseline {name}: rr@5 {base.summary.get('rr@5') or 0:.3f}, da_iis "
            f"{base.summary.get('da_iis') or 0:.3f}, op {base.summary.get('op') or 0:.3f}"
        )
    print(f"wrote {paths[0]} and {paths[1]}")


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        mode = _check_args(args)
        run = None
        if mode == "episodes":
            results, out, run = run_episodes(args)
        else:
            results, out = run_offline(args, mode)
        logs = run.trainer_logs() if run is not None else []
        paths = write_outputs(results, out, run_dir=run.path if run else None, trainer_logs=logs)
    except KeyboardInterrupt:
        print("interrupted; nothing written", file=sys.stderr)
        return 130
    print_summary(results, paths)
    if results.mode == "episodes" and results.episodes and results.samples.errors == len(results.episodes):
        first = next(ep.error for ep in results.episodes if ep.error)
        print(f"error: every episode failed (first: {redact(first)}); results kept in {paths[0]}", file=sys.stderr)
        return 1
    return 0
