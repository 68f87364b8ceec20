"""The reward's scores on a wide set of completions, written to JSON, to compare two versions of the code.

    PYTHONPATH=. .venv/bin/python benchmarks/reward_parity.py --out after.json [--compare before.json]

A change that makes ``rl.reward`` faster must not change a single score. Completions, on the
initial state of every problem (and on mid-episode states after a ``GET_IIS()`` or a
``RELAX_CONSTRAINT`` prefix): the heuristic's and drop_first's first answers, seeded random answers
(``rl.first_actions``), every IIS constraint dropped, relaxed (a little, a lot) and its rhs set,
the other actions of the eight, malformed text (no action, an unknown name, lowercase, two actions,
an unbalanced ``<think>``, bad arguments, unknown names), and a model over the Gurobi licence.
Every term and reason of every score goes to ``--out``; ``--compare`` prints the differences
(exit 1 if any).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from dataclasses import asdict
from pathlib import Path

import gurobipy as gp

from ordebug.answer import format_answer
from ordebug.errors import ActionParseError
from ordebug.problems import load_problems
from play.episode import PlaySettings
from rl.config import RewardConfig
from rl.export import state_row
from rl.first_actions import first_answers, random_answer
from rl.reward import SolverReward

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ORDEBUG_SHARED_DATA", REPO.parent / "shared" / "data"))
MALFORMED = [
    "I would drop it.",
    "<think>\nno action\n</think>\n\nAction: FIX_IT(c)",
    "Action: drop_constraint({c})",
    "<think>\nfirst\n</think>\n\nAction: GET_IIS()\nAction: DROP_CONSTRAINT({c})",
    "<think>\nunbalanced\n\nAction: DROP_CONSTRAINT({c})",
    "<think>\nAction: DROP_CONSTRAINT({c})\n</think>\n\nAction: SUBMIT()",
    "<think>\nbad\n</think>\n\nAction: RELAX_CONSTRAINT({c}, -1)",
    "<think>\nbad\n</think>\n\nAction: DROP_CONSTRAINT()",
    "<think>\nbad\n</think>\n\nAction: DROP_CONSTRAINT(no_such_row)",
    "<think>\nbad\n</think>\n\nAction: UPDATE_BOUNDS({c}, 0, 1)",
    "<think>\nbad\n</think>\n\nAction: UPDATE_BOUNDS(no_such_var, 0, 1)",
    "<think>\nbad\n</think>\n\nAction: WHATIF_IIS()",
]


def completions_for(row: dict, rng: random.Random) -> list[str]:
    iis = json.loads(row["iis_constraints"]) or json.loads(row["constraint_names"])[:1] or ["c0"]
    out = []
    while len(out) < 4:
        try:
            out.append(random_answer(rng, row))
        except ActionParseError:  # a drawn amount of 0.0: format_answer refuses RELAX_CONSTRAINT(c, 0.0)
            continue
    for c in iis:
        for action in (f"DROP_CONSTRAINT({c})", f"RELAX_CONSTRAINT({c}, 1.0)", f"RELAX_CONSTRAINT({c}, 1000000.0)",
                       f"UPDATE_RHS({c}, 0.0)", f"CHECK_SLACK({c})"):  # fmt: skip
            out.append(format_answer("From the IIS.", action))
    out += [format_answer("Look.", a) for a in ("GET_IIS()", "SUBMIT()", "RESET()")]
    out += [m.replace("{c}", iis[0]) for m in MALFORMED]
    return out


def build(problem_specs: list[str], limit: int | None) -> tuple[list[str], list[dict]]:
    problems = load_problems(problem_specs)[:limit]
    settings = PlaySettings(layout="legacy")
    rng = random.Random(0)
    texts, rows = [], []
    initial = [(q, state_row(q, settings, "", [], "all")) for q in problems]
    initial = [(q, r) for q, r in initial if r["status"] == "INFEASIBLE"]
    for policy in ("heuristic", "drop_first"):
        answers = first_answers(policy, [q for q, _ in initial], [r for _, r in initial])
        texts += answers
        rows += [r for _, r in initial]
    for q, row in initial:
        iis = json.loads(row["iis_constraints"])
        states = [row, state_row(q, settings, "", ["GET_IIS()"], "all")]
        if iis:
            states.append(state_row(q, settings, "", [f"RELAX_CONSTRAINT({iis[0]}, 1.0)"], "all"))
        for state in states:
            if state["status"] != "INFEASIBLE" and state is not row:
                continue
            batch = completions_for(state, rng)
            texts += batch
            rows += [state] * len(batch)
    return texts, rows


def over_licence_row(folder: Path) -> dict:
    model = gp.Model()
    xs = model.addVars(2100, ub=1.0)
    model.addConstr(xs.sum() >= 3000, name="too_much")
    path = folder / "big.mps"
    model.write(str(path))
    model.dispose()
    return {"problem_id": "big", "model_file": str(path), "iis_constraints": '["too_much"]'}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problems", nargs="+", default=[str(SHARED / "or_debug_bench" / "test")])
    p.add_argument("--limit", type=int, default=None, help="first N problems only")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--compare", type=Path, help="scores JSON of another version of the code")
    args = p.parse_args()
    texts, rows = build(args.problems, args.limit)
    keys = ("problem_id", "model_file", "iis_constraints", "target_names", "original_objective", "prefix_actions",
            "layout", "whatif")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        big = over_licence_row(Path(tmp))
        texts.append(format_answer("Too big.", "DROP_CONSTRAINT(too_much)"))
        rows.append(big)
        columns = {
            k: [r.get(k, "[]" if k in ("target_names", "prefix_actions") else None) for r in rows]
            for k in keys
        }
        columns["layout"] = [v or "legacy" for v in columns["layout"]]
        columns["whatif"] = [bool(v) for v in columns["whatif"]]
        with SolverReward(RewardConfig(workers=args.workers)) as reward:
            reward(texts, **columns)
            scores = [asdict(s) for s in reward.last_scores]
        for s in scores:  # the temporary folder's name differs from run to run
            s["reason"] = s["reason"] and s["reason"].replace(tmp, "<tmp>")
    records = [{"problem_id": r["problem_id"], "prefix": r.get("prefix_actions", "[]"), "text": t, **s}
               for t, r, s in zip(texts, rows, scores, strict=True)]  # fmt: skip
    args.out.write_text(json.dumps(records, indent=0), encoding="utf-8")
    print(
        f"{len(records)} completions on {len({(r['problem_id'], r['prefix']) for r in records})} states -> {args.out}"
    )
    if args.compare:
        before = json.loads(args.compare.read_text(encoding="utf-8"))
        if len(before) != len(records):
            print(f"different completion sets: {len(before)} vs {len(records)}")
            return 1
        diff = [(a, b) for a, b in zip(before, records, strict=True) if a != b]
        for a, b in diff[:10]:
            print(f"DIFF {a['problem_id']} {a['prefix']} {a['text']!r}\n  before {a}\n  after  {b}")
        print(f"{len(diff)} of {len(records)} scores differ")
        return int(bool(diff))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
