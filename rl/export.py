"""``make rl-data``: GRPO prompt JSONL in the same format as a given SFT dataset.

    python -m rl.export --problems DIR --like data/<sft name> --out data/rl/<name> [--split train]
                        [--trajectories FILE ...]

Every row is one state to act in: ``prompt`` = [system, user] messages, rendered by
``ordebug``'s environment with the SFT dataset's layout, system prompt and action offer (read
from its ``card.json``), plus the columns the reward reads (``rl.reward.RewardRow``). Rows come
from each problem's initial model and, with ``--trajectories``, from every later step of those
trajectories (the action prefix already applied is a column; the reward replays it).

Splits follow the SFT dataset: a problem listed in one of the card's splits stays there; any other
problem gets the split the card's rule gives its id (``converters.core.split.split_of``, the same
seed and fractions; holdout error types go to ``holdout``), so no held-out problem enters RL
training. Writes ``<out>/<split>.jsonl`` and ``<out>/card.json`` atomically.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tqdm import tqdm

from converters.core.split import SPLIT_RULE, split_of
from foundation.atomic import write_atomic, write_json_atomic
from foundation.cli import cli_main
from foundation.jsonl import iter_jsonl
from foundation.provenance import git_info, utc_now
from ordebug.errors import OrDebugError
from ordebug.problems import Problem, load_problems
from ordebug.prompts import user_message
from play.episode import PlaySettings
from rl.errors import RLError

RL_CARD_VERSION = 1
WHATIF_WARNING = (
    "the SFT dataset offered the what-if actions (WHATIF_*), so its system prompt lists them; the RL "
    "stage knows the benchmark's eight actions only and scores a WHATIF_* answer as a syntax error"
)
SPLITS = ("train", "val", "test", "holdout")


class SftCardSettings(BaseModel):
    """The parts of an SFT dataset card (converters/sft/card.py) that fix the RL prompt format."""

    model_config = ConfigDict(extra="ignore")
    name: str
    layout: str
    system: str
    whatif: bool = False
    seed: int = 0
    fractions: dict[str, float] = Field(default_factory=lambda: {"val": 0.1, "test": 0.1})
    holdout: dict[str, list[str]] = Field(default_factory=dict)
    splits: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def split_of(self, problem: Problem) -> str:
        """The split this problem has (or would have) in the SFT dataset."""
        for name, split in self.splits.items():
            if problem.problem_id in (split.get("problem_ids") or []):
                return name
        if problem.error_type and problem.error_type in self.holdout.get("types", []):
            return "holdout"
        return split_of(
            problem.problem_id, seed=self.seed, val=self.fractions.get("val", 0.0),
            test=self.fractions.get("test", 0.0),
        )  # fmt: skip


def read_sft_card(like: str | Path) -> SftCardSettings:
    """The settings of the SFT dataset at ``like`` (its folder, or its card.json)."""
    path = Path(like)
    path = path / "card.json" if path.is_dir() else path
    if not path.is_file():
        raise RLError(
            f"no dataset card at {path}", fix="pass LIKE=data/<name> of a dataset `make convert` wrote"
        )
    try:
        return SftCardSettings.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise RLError(f"{path}: key {key!r}: {first['msg']}", fix="re-run `make convert` to rewrite the card") from None


def read_prefixes(paths: Sequence[str | Path]) -> dict[str, list[list[str]]]:
    """Per problem id, the action prefixes of every mid-episode step of the trajectories
    (valid actions only, in order; the empty prefix is the initial state and always exported)."""
    out: dict[str, list[list[str]]] = {}
    for path in paths:
        for lineno, row in iter_jsonl(path, error=RLError, fix="pass trajectory files `make collect` wrote"):
            pid, steps = row.get("problem_id"), row.get("steps")
            if not isinstance(pid, str) or not isinstance(steps, list):
                raise RLError(
                    "not a trajectory (needs 'problem_id' and 'steps')", where=f"{path}:{lineno}",
                    fix="pass trajectory files `make collect` wrote",
                )  # fmt: skip
            done: list[str] = []
            for step in steps[:-1]:  # the last step's successor state is the end of the episode
                if step.get("action"):
                    done.append(step["action"])
                    if done not in out.setdefault(pid, []):
                        out[pid].append(list(done))
    return out


def _column_json(values: Sequence[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def state_row(problem: Problem, settings: PlaySettings, system: str, prefix: Sequence[str], split: str) -> dict:
    """One prompt row: the state after ``prefix`` rendered as the SFT data renders it, and its columns."""
    env = settings.make_env()
    obs, info = env.reset(problem)
    for action in prefix:
        obs, _, done, _, info = env.step(action)
        if not info["valid"] or done:
            raise RLError(
                f"{problem.problem_id}: the trajectory's action {action!r} does not replay "
                f"({info['error'] or 'the episode ended'})",
                fix="export from trajectories of this problem set, or leave --trajectories out",
            )  # fmt: skip
    state = info["state"]
    meta = problem.metadata
    return {
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": user_message(obs)}],
        "problem_id": problem.problem_id,
        "model_file": str(Path(problem.model_path).resolve()),
        "iis_constraints": _column_json(state.iis_constraints),
        "iis_bounds": _column_json(state.iis_bounds),
        "constraint_names": _column_json(state.constraint_names),
        "difficulty": problem.difficulty or "",
        "error_type": problem.error_type or "",
        "problem_description": str(meta.get("problem_nl") or ""),
        "original_objective": problem.original_objective,
        "target_names": _column_json(problem.target_names()),
        "ground_truth_fix": problem.ground_truth_fix,
        "prefix_actions": _column_json(prefix),
        "status": state.status,
        "layout": settings.layout,  # the reward replays the prefix in the same episode settings
        "whatif": settings.whatif,
        "split": split,
    }


def export(
    problems: Sequence[Problem],
    card: SftCardSettings,
    *,
    split: str,
    prefixes: dict[str, list[list[str]]] | None = None,
    progress: bool = True,
) -> tuple[list[dict], dict[str, Any]]:
    """The rows of ``split`` and the counts for the card (problems per split, rows, skips)."""
    settings = PlaySettings(layout=card.layout, whatif=card.whatif)
    rows: list[dict] = []
    by_split: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for problem in tqdm(problems, desc=f"rl-data {split}", unit="problem", disable=not progress):
        where = card.split_of(problem)
        by_split[where] += 1
        if where != split:
            continue
        for prefix in [[], *(prefixes or {}).get(problem.problem_id, [])]:
            try:
                row = state_row(problem, settings, card.system, prefix, split)
            except OrDebugError as exc:  # over the licence, unreadable: counted, named in the card
                skipped[f"{type(exc).__name__}: {exc}"[:200]] += 1
                continue
            if row["status"] == "OPTIMAL":
                skipped["feasible at this state (nothing to repair)"] += 1
                continue
            rows.append(row)
    return rows, {"problems_by_split": dict(sorted(by_split.items())), "skipped": dict(skipped)}


def build_card(
    rows: Sequence[dict], counts: dict[str, Any], card: SftCardSettings, opts: dict[str, Any], previous: dict | None
) -> dict:
    """The RL card: the settings, and per exported split its counts (earlier splits' entries are kept
    when they were exported like the same SFT dataset)."""
    splits = dict(previous.get("splits", {})) if previous and previous.get("like", {}).get("dataset") == card.name else {}
    splits[opts["split"]] = {
        "file": f"{opts['split']}.jsonl",
        "command": opts["command"],
        "problems": opts["problems"],
        "rows": len(rows),
        "problem_ids": sorted({r["problem_id"] for r in rows}),
        "mid_episode_rows": sum(1 for r in rows if r["prefix_actions"] != "[]"),
        "by_error_type": dict(sorted(Counter(r["error_type"] or "?" for r in rows).items())),
        "by_difficulty": dict(sorted(Counter(r["difficulty"] or "?" for r in rows).items())),
        "skipped": counts["skipped"],
    }
    warnings = [WHATIF_WARNING] if card.whatif else []
    return {
        "card_version": RL_CARD_VERSION,
        "kind": "grpo_prompts",
        "warnings": warnings,
        "created_at": utc_now(),
        "git": git_info().model_dump(),
        "like": {"dataset": card.name, "card": opts["like"], "layout": card.layout, "whatif": card.whatif},
        "system": card.system,
        "split_rule": f"the SFT dataset's: listed problems keep their split; others by its rule. {SPLIT_RULE}",
        "problems_by_split": counts["problems_by_split"],
        "columns": sorted(rows[0]) if rows else [],
        "splits": dict(sorted(splits.items())),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rl.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", nargs="+", required=True, help="benchmark set(s) or model files (as `make collect`)")
    p.add_argument("--like", required=True, help="the SFT dataset to match: data/<name> (its card.json)")
    p.add_argument("--out", required=True, help="output folder: <split>.jsonl and card.json")
    p.add_argument("--split", default="train", choices=SPLITS, help="which split of the SFT dataset's rule to export")
    p.add_argument("--trajectories", nargs="*", default=[], help="trajectory JSONL: add mid-episode states")
    p.add_argument("--overwrite", action="store_true", help="replace an existing <split>.jsonl")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    import sys

    args = build_parser().parse_args(argv)
    card = read_sft_card(args.like)
    out = Path(args.out)
    target = out / f"{args.split}.jsonl"
    if target.exists() and not args.overwrite:
        raise RLError(f"{target} exists", fix="pass OVERWRITE=1 (--overwrite) or another OUT")
    problems = load_problems(args.problems)
    prefixes = read_prefixes(args.trajectories) if args.trajectories else None
    rows, counts = export(problems, card, split=args.split, prefixes=prefixes, progress=not args.quiet)
    if not rows:
        raise RLError(
            f"no {args.split} rows: the SFT dataset's split rule puts {counts['problems_by_split']} of these problems",
            fix="pick another --split or --problems",
        )
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    opts = {"command": ["python", "-m", "rl.export", *(argv if argv is not None else sys.argv[1:])],
            "like": str(args.like), "problems": list(args.problems), "split": args.split}  # fmt: skip
    card_path = out / "card.json"
    previous = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else None
    write_json_atomic(card_path, build_card(rows, counts, card, opts, previous))
    if card.whatif:
        print(f"warning: {WHATIF_WARNING}", file=sys.stderr)
    print(f"{len(rows)} {args.split} prompts -> {target} (problems by split: {counts['problems_by_split']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
