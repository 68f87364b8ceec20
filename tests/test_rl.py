"""The SFT→RL hand-off: prompts in the SFT data's own format and split, a solver-verified reward.

Real parts: heuristic trajectories collected on an OR-Debug-Bench set (tests/data), converted by the real
converter (its card), real Gurobi behind the reward, real TRL GRPOTrainer on the tiny model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gurobipy as gp
import pytest

from ordebug.problems import load_problems
from rl.config import RewardConfig
from rl.errors import RLError
from rl.export import WHATIF_WARNING, export, read_sft_card
from rl.export import main as export_main
from rl.reward import SolverReward, parse_completion

REPO = Path(__file__).resolve().parents[1]
N_PROBLEMS = 24


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, check=False,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def sft(shared_data: Path, tmp_path_factory) -> dict:
    """An SFT dataset converted from heuristic trajectories on the shared test set, and its RL export."""
    root = tmp_path_factory.mktemp("rl")
    traj = root / "traj.jsonl"
    problems = shared_data / "or_debug_bench" / "test"
    _run("-m", "collectors", "--problems", str(problems), "--agent", "heuristic", "--out", str(traj),
         "--workers", "1", "--limit", str(N_PROBLEMS))  # fmt: skip
    _run("-m", "converters.sft", "--in", str(traj), "--root", str(root), "--name", "sft", "--quiet",
         "--no-length-check", "--val", "0.2", "--test", "0.2")  # fmt: skip
    like, out = root / "data" / "sft", root / "rl"
    args = ["--problems", str(problems), "--like", str(like), "--out", str(out), "--quiet"]
    assert export_main([*args, "--trajectories", str(traj)]) == 0
    assert export_main([*args, "--split", "test"]) == 0
    read = lambda p: [json.loads(x) for x in p.read_text().splitlines()]
    return {"root": root, "like": like, "out": out, "problems": problems, "card": json.loads((like / "card.json").read_text()),
            "sft_train": read(like / "train.jsonl"), "train": read(out / "train.jsonl"), "test": read(out / "test.jsonl")}  # fmt: skip


def test_prompts_are_the_sft_samples_own_text_and_follow_its_split(sft):
    card, train, test = sft["card"], sft["train"], sft["test"]
    samples = {s["metadata"]["problem_id"]: s for s in sft["sft_train"] if s["metadata"]["step"] == 1}
    initial = [r for r in train if r["prefix_actions"] == "[]"]
    assert initial and samples
    matched = 0
    for row in initial:
        sample = samples.get(row["problem_id"])
        if sample is None:
            continue
        matched += 1
        system, user = row["prompt"]
        assert system == {"role": "system", "content": sample["system"]} == {"role": "system", "content": card["system"]}
        assert user == {"role": "user", "content": f"{sample['instruction']}\n{sample['input']}"}
    assert matched == len(samples)  # every SFT train problem's first prompt, byte for byte
    train_ids = set(card["splits"]["train"]["problem_ids"])
    held_out = set(card["splits"]["test"]["problem_ids"]) | set(card["splits"]["val"]["problem_ids"])
    assert {r["problem_id"] for r in train} >= train_ids and not {r["problem_id"] for r in train} & held_out
    assert {r["problem_id"] for r in test} >= set(card["splits"]["test"]["problem_ids"])
    row = train[0]
    assert Path(row["model_file"]).is_absolute() and json.loads(row["iis_constraints"])
    # mid-episode states come from the trajectories: every one carries its prefix and still needs a repair
    mid = [r for r in train if r["prefix_actions"] != "[]"]
    assert all(r["status"] != "OPTIMAL" for r in mid)
    rl_card = json.loads((sft["out"] / "card.json").read_text())
    assert rl_card["like"]["layout"] == card["layout"] and rl_card["splits"]["train"]["rows"] == len(train)
    assert rl_card["splits"]["test"]["rows"] == len(test)
    assert rl_card["warnings"] == ([WHATIF_WARNING] if card["whatif"] else [])


def test_a_mid_episode_state_is_exported_after_its_prefix_and_a_repaired_one_is_not(sft):
    """The default agents repair at their first step, so the fixture's trajectories may hold no
    infeasible mid-episode state: this builds both kinds of prefix by hand."""
    card = read_sft_card(sft["like"])
    problem = next(p for p in load_problems(sft["problems"]) if card.split_of(p) == "train")
    initial = export([problem], card, split="train", progress=False)[0][0]
    iis = json.loads(initial["iis_constraints"])
    still = [f"CHECK_SLACK({iis[0]})"]  # a query: the model is unchanged, still infeasible
    repaired = [f"DROP_CONSTRAINT({name})" for name in iis]  # drop the whole IIS: feasible
    rows, counts = export([problem], card, split="train", prefixes={problem.problem_id: [still, repaired]},
                          progress=False)  # fmt: skip
    assert [json.loads(r["prefix_actions"]) for r in rows] == [[], still]
    assert rows[1]["status"] == "INFEASIBLE" and rows[1]["prompt"][1]["content"].count(iis[0])
    assert counts["skipped"] == {"feasible at this state (nothing to repair)": 1}


def test_bad_input_is_one_clear_error_and_writes_nothing(sft, tmp_path, capsys):
    assert export_main(["--problems", str(sft["problems"]), "--like", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no dataset card at" in capsys.readouterr().err and not (tmp_path / "o").exists()
    with pytest.raises(RLError, match=r"column 'model_file': .*relative"):
        SolverReward(RewardConfig(workers=0))(["x"], problem_id=["p"], model_file=["models/p.mps"],
                                               iis_constraints=['["c1"]'])  # fmt: skip


def _answer(action: str) -> str:
    return f"<think>\nThe IIS shows the conflict.\n</think>\n\nAction: {action}"


def _columns(rows: list[dict]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in rows[0] if k != "prompt"}


def test_reward_orders_repairs_and_parses_as_the_rl_stage_does(sft):
    row = next(r for r in sft["train"] if r["prefix_actions"] == "[]" and json.loads(r["target_names"])
               and set(json.loads(r["iis_constraints"])) - set(json.loads(r["target_names"])))  # fmt: skip
    target = json.loads(row["target_names"])[0]
    other = next(c for c in json.loads(row["iis_constraints"]) if c != target)
    completions = [
        _answer(f"DROP_CONSTRAINT({target})"),
        [{"role": "assistant", "content": _answer(f"DROP_CONSTRAINT({target})")}],  # TRL's conversational form
        _answer(f"DROP_CONSTRAINT({other})"),
        f"Action: drop_constraint({target})",  # found (case-insensitive) but not the strict format
        _answer("DROP_CONSTRAINT(no_such_row)"),
        _answer("WHATIF_IIS()"),  # not one of the eight: the RL stage's syntax error
        "I would drop it.",
    ]
    with SolverReward(RewardConfig(workers=0)) as reward:
        r = reward(completions, **_columns([row] * len(completions)))
        scores = reward.last_scores
    assert r[0] == r[1] and scores[0].format == 1.0 and scores[0].diagnosis == 1.0
    assert r[0] > r[2] >= r[4] > r[5] and r[0] > r[3]
    assert scores[3].format == 0.0 and "unbalanced <think>" in scores[3].reason
    assert scores[4].reason.startswith("invalid action: unknown constraint 'no_such_row'")
    assert r[5] == r[6] == -1.0 and "not one of the eight" in scores[5].reason
    assert parse_completion("<think>Action: GET_IIS()</think> Action: SUBMIT()").action.name == "GET_IIS"


def test_reward_in_worker_processes_equals_in_process_and_repeats(sft):
    rows = [r for r in sft["train"]][:6]
    completions = [_answer(f"DROP_CONSTRAINT({json.loads(r['iis_constraints'])[0]})") for r in rows]
    completions += [_answer(f"RELAX_CONSTRAINT({json.loads(r['iis_constraints'])[-1]}, 5.0)") for r in rows]
    cols = _columns(rows * 2)
    with SolverReward(RewardConfig(workers=0)) as local, SolverReward(RewardConfig(workers=2)) as pooled:
        first = pooled(completions, **cols)
        assert first == local(completions, **cols) == pooled(completions, **cols)
    assert any(s.outcome == 1.0 and s.action.startswith("RELAX") for s in pooled.last_scores)  # relaxations verified


def test_reward_terms_are_what_evals_environment_gives_on_many_completions(shared_data):
    # The reward's environment skips the IIS nobody reads; outcome, OP, FP and the reason of every
    # completion must still be exactly what the default environment (eval's, IIS after every solve)
    # gives, on initial and mid-episode states, for repairs, other actions, policies' and random answers.
    from ordebug.episode import DebugEnv
    from ordebug.metrics import episode_metrics
    from play.episode import PlaySettings
    from rl.export import state_row
    from rl.first_actions import first_answers

    problems = load_problems(shared_data / "or_debug_bench" / "test")[:8]
    settings = PlaySettings(layout="legacy")
    initial = [state_row(problem, settings, "", [], "all") for problem in problems]
    cases = []
    for policy in ("heuristic", "drop_first"):
        cases += zip(problems, initial, first_answers(policy, problems, initial), strict=True)
    for problem, first in zip(problems, initial, strict=True):
        iis = json.loads(first["iis_constraints"])
        for row in (first, state_row(problem, settings, "", [f"RELAX_CONSTRAINT({iis[0]}, 1.0)"], "all")):
            if row["status"] != "INFEASIBLE":
                continue  # a repaired state is not exported
            actions = [f"DROP_CONSTRAINT({c})" for c in iis] + [f"RELAX_CONSTRAINT({c}, 1000.0)" for c in iis]
            actions += [f"UPDATE_RHS({iis[-1]}, 0.0)", f"CHECK_SLACK({iis[0]})", "GET_IIS()", "SUBMIT()",
                        "RESET()", "DROP_CONSTRAINT(no_such_row)"]  # fmt: skip
            texts = [_answer(a) for a in actions] + first_answers("random", [problem], [row] * 3)
            cases += [(problem, row, text) for text in texts]
    with SolverReward(RewardConfig(workers=0)) as reward:
        reward([t for _, _, t in cases], **_columns([r for _, r, _ in cases]))
        scores = reward.last_scores
    assert len(cases) > 100 and sum(json.loads(r["prefix_actions"]) != [] for _, r, _ in cases) > 30
    assert {s.outcome for s in scores} == {0.0, 1.0} and any("invalid action" in (s.reason or "") for s in scores)
    for (problem, row, text), score in zip(cases, scores, strict=True):
        action = parse_completion(text).action
        env = DebugEnv(max_steps=len(json.loads(row["prefix_actions"])) + 1, auto_submit=True)
        env.reset(problem)
        for prior in json.loads(row["prefix_actions"]):
            env.step(prior)
        *_, info = env.step(action)
        record = env.record()
        metrics = episode_metrics(record, problem, ["op", "fp"])
        expected = (float(info["valid"] and record.final_status == "OPTIMAL"), metrics["op"] or 0.0, metrics["fp"] or 0.0)
        assert (score.outcome, score.op, score.fp) == expected, (row["prefix_actions"], text)
        assert (score.reason or "").endswith(info["error"] or "") and (info["error"] is None) == (
            "invalid action" not in (score.reason or "")
        )


def test_a_model_over_the_licence_scores_zero_with_the_reason(tmp_path):
    model = gp.Model()
    xs = model.addVars(2100, ub=1.0)
    model.addConstr(xs.sum() >= 3000, name="too_much")
    path = tmp_path / "big.mps"
    model.write(str(path))
    with SolverReward(RewardConfig(workers=0)) as reward:
        out = reward([_answer("DROP_CONSTRAINT(too_much)")], problem_id=["big"], model_file=[str(path)],
                     iis_constraints=['["too_much"]'])  # fmt: skip
    assert out == [0.0] and "LicenseLimitError" in reward.last_scores[0].reason


def test_grpo_trainer_runs_two_steps_on_the_tiny_model_with_exported_prompts(sft, tmp_path):
    from recipes.tiny_model import build_tiny_model
    from rl.config import load_run
    from rl.train import train

    tiny = build_tiny_model(tmp_path / "tiny")
    run = load_run(REPO / "rl" / "configs" / "grpo_tiny_cpu.yaml", {
        "model": str(tiny), "data": str(sft["out"] / "train.jsonl"), "grpo.output_dir": str(tmp_path / "grpo"),
        "grpo.max_completion_length": 12,
    })  # fmt: skip
    result = train(run)
    steps = [e for e in result["log_history"] if "loss" in e]
    assert [e["step"] for e in steps] == [1, 2]
    assert all("reward" in e and "reward_std" in e and "rewards/solver_reward/mean" in e for e in steps)
    assert (tmp_path / "grpo" / "adapter_config.json").is_file()


def test_reset_reusing_the_initial_solve_gives_the_same_first_state(sft):
    from ordebug.episode import DebugEnv
    from ordebug.problems import load_problems

    problem = load_problems(sft["problems"])[0]
    env = DebugEnv(max_steps=3)
    fresh, info = env.reset(problem)
    env.step(f"DROP_CONSTRAINT({info['state'].iis_constraints[0]})")
    again, info2 = env.reset(problem, options={"reuse_initial": True})
    assert again == fresh and info2["state"] == info["state"] and env.record().steps == []
    assert env.record().n_kept_constraints == env.record().n_original_constraints  # the drop is gone
