"""What the reward gives the first actions of known policies: a check that it ranks them as eval does.

    python -m rl.first_actions --problems tests/data/or_debug_bench/test [--policies heuristic,drop_first,random]

Each policy answers the initial observation of every problem (legacy layout, the benchmark's eight
actions, as the RL stage plays); its answer is scored by ``rl.reward.SolverReward``. ``random`` picks
one of the eight actions and a name from the prompt with a seeded generator. Prints the mean reward
and each term per policy (a table), so a reward that rewards the wrong thing shows at once.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence

from eval.policies import make_baseline
from foundation.cli import cli_main
from foundation.tables import markdown_table
from ordebug.actions import PARAMS, ActionName
from ordebug.answer import format_answer
from ordebug.benchmark_actions import BENCHMARK_ACTIONS
from ordebug.problems import Problem, load_problems
from play.episode import PlaySettings
from rl.export import state_row
from rl.reward import SolverReward

TERMS = ("reward", "format", "outcome", "op", "fp", "diagnosis")


def random_answer(rng: random.Random, row: dict) -> str:
    """One of the eight actions with names from the prompt and a random amount (seeded)."""
    name = ActionName(rng.choice(sorted(BENCHMARK_ACTIONS)))
    constraints = json.loads(row["constraint_names"]) or ["c0"]
    numbers = sorted(round(rng.uniform(0.1, 10), 1) for _ in PARAMS[name])  # > 0 (RELAX needs it); lb <= ub
    args = [rng.choice(constraints) if kind == "name" else str(numbers.pop(0)) for _, kind in PARAMS[name]]
    return format_answer("A random choice.", f"{name}({', '.join(args)})")


def first_answers(policy: str, problems: Sequence[Problem], rows: Sequence[dict], seed: int = 0) -> list[str]:
    """The answer text of ``policy`` on each problem's initial state."""
    from ordebug.episode import DebugEnv

    if policy == "random":
        rng = random.Random(seed)
        return [random_answer(rng, r) for r in rows]
    scripted = make_baseline(policy, layout="legacy")
    out = []
    for problem in problems:
        obs, info = DebugEnv(layout="legacy").reset(problem)
        out.append(scripted.turn(obs, info["state"], problem).raw_output)
    return out


@cli_main
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rl.first_actions", description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", nargs="+", required=True)
    p.add_argument("--policies", default="heuristic,drop_first,random")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    problems = [q for q in load_problems(args.problems)]
    settings = PlaySettings(layout="legacy")
    pairs = [(q, state_row(q, settings, "", [], "all")) for q in problems]
    pairs = [(q, r) for q, r in pairs if r["status"] == "INFEASIBLE"]
    problems, rows = [q for q, _ in pairs], [r for _, r in pairs]
    columns = {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}
    table = []
    with SolverReward() as reward:
        for policy in args.policies.split(","):
            reward(first_answers(policy, problems, rows, args.seed), **columns)
            scores = reward.last_scores
            means = {t: sum(getattr(s, t) for s in scores) / len(scores) for t in TERMS}
            table.append([policy, *(f"{means[t]:.3f}" for t in TERMS)])
    print(f"{len(rows)} initial states of {' '.join(args.problems)}\n")
    print("\n".join(markdown_table(["policy", *(f"mean {t}" for t in TERMS)], table, align="lrrrrrr")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
