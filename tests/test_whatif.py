"""The what-if extension: strict grammar, answers checked against gurobipy, offered only on request,
and scripted agents that write only numbers their observation shows."""

from __future__ import annotations

import re
from pathlib import Path

import gurobipy as gp
import pytest

from collectors.runner import RunOptions, collect
from ordebug.actions import CORE_ACTIONS, EXTENDED_ACTIONS, WHATIF_ACTIONS, Action, ActionName, parse_action
from ordebug.episode import DebugEnv
from ordebug.errors import ActionParseError, EpisodeError
from ordebug.observation import fmt_num
from ordebug.problems import load_problems
from ordebug.prompts import DIAGNOSTICS_NOTE, SYSTEM_PROMPT_EXTENDED, system_prompt
from ordebug.solver import gurobi_env
from play.agents import SCRIPTED
from tests.collectors_helpers import make_bench, read_trajectories
from tests.ordebug_models import bound_conflict, capacity_demand

A = ActionName


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WHATIF_RELAX(cap)", Action(name=A.WHATIF_RELAX, target="cap")),
        ("WHATIF_DROP('a b')", Action(name=A.WHATIF_DROP, target="a b")),
        ("WHATIF_RELAX(x[1,2])", Action(name=A.WHATIF_RELAX, target="x[1,2]")),
        ("WHATIF_IIS()", Action(name=A.WHATIF_IIS)),
    ],
)
def test_whatif_actions_parse_strictly_and_round_trip(text: str, expected: Action) -> None:
    action = parse_action(text)
    assert action == expected and action.is_whatif and not action.changes_model
    assert parse_action(str(action)) == action


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("WHATIF_IIS(c1)", "WHATIF_IIS takes no arguments, got 1"),
        ("WHATIF_RELAX()", "WHATIF_RELAX takes 1 argument (name), got 0"),
        ("WHATIF_RELAX(c1, 2.0)", "WHATIF_RELAX takes 1 argument (name), got 2"),
        ("whatif_iis()", "action names are upper case"),
    ],
)
def test_malformed_whatif_actions_say_why(text: str, error: str) -> None:
    with pytest.raises(ActionParseError, match=re.escape(error)):
        parse_action(text)


def test_whatif_is_its_own_action_group() -> None:
    assert set(CORE_ACTIONS) | set(EXTENDED_ACTIONS) | set(WHATIF_ACTIONS) == set(ActionName)
    assert not set(WHATIF_ACTIONS) & (set(CORE_ACTIONS) | set(EXTENDED_ACTIONS))


def _solve_with(problem, edit) -> tuple[int, float | None]:
    """Status and objective of the problem's model after ``edit(model)``, straight from gurobipy."""
    model = gp.read(str(problem.model_path), env=gurobi_env())
    edit(model)
    model.update()
    model.optimize()
    return model.Status, (model.ObjVal if model.SolCount else None)


def test_env_answers_whatif_relax_and_drop_as_gurobipy_does(tmp_path: Path) -> None:
    problem = capacity_demand(tmp_path)
    env = DebugEnv(layout="rich", whatif=True)
    env.reset(problem)

    obs, _, _, _, info = env.step("WHATIF_RELAX(dem)")
    # the least relaxation of dem (x + y >= 6, with cap x + y <= 4) is 2, and from 6 on it no longer binds
    _, least = _solve_with(problem, lambda m: setattr(m.getConstrByName("dem"), "RHS", 4))
    _, free = _solve_with(problem, lambda m: setattr(m.getConstrByName("dem"), "RHS", 0))
    assert info["valid"] and "RELAX_CONSTRAINT(dem, 2.0) restores feasibility" in info["result"]
    assert f"objective {fmt_num(least)}" in info["result"]
    assert f"RELAX_CONSTRAINT(dem, 6.0) no longer limits the objective: {fmt_num(free)}" in info["result"]
    assert f"Last Result: {info['result']}" in obs  # the answer is in the next observation

    _, _, _, _, info = env.step("WHATIF_DROP(cap)")
    status, dropped = _solve_with(problem, lambda m: m.remove(m.getConstrByName("cap")))
    assert status == gp.GRB.OPTIMAL
    assert info["result"] == f"What-if (model unchanged): without cap the model is OPTIMAL, objective {fmt_num(dropped)}."
    _, _, _, _, info = env.step("WHATIF_DROP(side)")
    assert "without side the model is INFEASIBLE" in info["result"]

    _, _, _, _, info = env.step("WHATIF_IIS()")
    assert info["result"].startswith("What-if for each IIS member alone (model unchanged; 2 of 2 members checked):")
    assert "- cap (<= 4): RELAX_CONSTRAINT(cap, 2.0) restores feasibility" in info["result"]
    assert "- dem (>= 6): RELAX_CONSTRAINT(dem, 2.0)" in info["result"]

    record = env.record()
    assert record.final_status == "INFEASIBLE" and record.changes == [] and record.blamed == []
    assert record.n_kept_constraints == 3 and record.whatif
    assert all(s.solver_calls > 0 for s in record.steps)  # the probes are charged to the agent (TE)


def test_whatif_relax_of_a_variable_moves_its_bound(tmp_path: Path) -> None:
    problem = bound_conflict(tmp_path)
    env = DebugEnv(layout="rich", whatif=True)
    env.reset(problem)
    _, _, _, _, info = env.step("WHATIF_RELAX(x)")
    _, objective = _solve_with(problem, lambda m: setattr(m.getVarByName("x"), "UB", 5))
    assert "x ([0, 3]): UPDATE_BOUNDS(x, 0.0, 5.0) restores feasibility" in info["result"]
    assert f"objective {fmt_num(objective)}" in info["result"]
    _, _, _, _, info = env.step("WHATIF_RELAX(nope)")
    assert not info["valid"] and "unknown variable 'nope'" in info["error"]


def test_whatif_not_offered_is_an_invalid_step_that_says_so(tmp_path: Path) -> None:
    env = DebugEnv(layout="rich")
    env.reset(capacity_demand(tmp_path))
    _, reward, _, _, info = env.step("WHATIF_IIS()")
    assert not info["valid"] and reward < 0
    assert "WHATIF_IIS is a what-if extension action that this episode does not offer" in info["error"]
    assert info["solver_calls"] == 0 and env.record().n_invalid == 1


def test_whatif_needs_the_layout_that_shows_its_answers() -> None:
    with pytest.raises(EpisodeError, match="what-if actions need the rich layout"):
        DebugEnv(layout="legacy", whatif=True)
    with pytest.raises(ValueError, match="need the rich layout"):
        system_prompt("legacy", whatif=True)


def test_the_system_prompt_lists_whatif_actions_only_when_offered() -> None:
    assert "WHATIF_" not in system_prompt("rich") and "WHATIF_" not in system_prompt("legacy")
    offered = system_prompt("rich", whatif=True)
    assert offered.startswith(SYSTEM_PROMPT_EXTENDED) and offered.endswith(DIAGNOSTICS_NOTE)
    assert system_prompt("rich") == SYSTEM_PROMPT_EXTENDED + DIAGNOSTICS_NOTE
    assert all(f"- {a}(" in offered for a in WHATIF_ACTIONS)


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w])")


@pytest.mark.parametrize("whatif", [False, True], ids=["diagnostics", "whatif"])
@pytest.mark.parametrize("agent", ["heuristic", "oracle"])
def test_scripted_agents_write_only_numbers_their_observation_shows(agent: str, whatif: bool, tmp_path: Path) -> None:
    """Every number in a step's reasoning and action occurs in what that step was shown: by default
    (the diagnostics section, the benchmark's actions) and with the opt-in what-if actions."""
    problems = load_problems(make_bench(tmp_path / "set", n=18, seed=5))
    out = tmp_path / f"{agent}.jsonl"
    collect(problems, RunOptions(out=out, workers=1, progress=False, whatif=whatif), agent_factory=SCRIPTED[agent])
    trajs = read_trajectories(out)
    assert len(trajs) == len(problems) and all(t.env.whatif == whatif and t.layout == "rich" for t in trajs)
    assert sum(t.outcome.success for t in trajs) == len(trajs)
    prompt_numbers = set(_NUMBER.findall(system_prompt("rich", whatif=whatif)))
    asked = 0
    for traj in trajs:
        for step in traj.steps:
            shown = set(_NUMBER.findall(step.observation)) | prompt_numbers
            written = _NUMBER.findall(step.reasoning + " " + (step.action or ""))
            missing = [n for n in written if n not in shown and float(n) not in (0.0, 1.0)]
            assert not missing, (traj.problem_id, step.index, missing, step.reasoning)
            asked += step.action.startswith("WHATIF_")
    if whatif:
        assert asked >= len(trajs) - 2  # they ask before they change (a lone DROP needs no number)
    else:
        assert asked == 0  # the evidence is on screen: no question is spent


def _run_with_card(root: Path, card_extra: dict) -> Path:
    """A run directory whose recipe trained on one converted dataset with this card (no model needed)."""
    import json

    import yaml

    from tests.eval_problems import write_hand_set

    problems = write_hand_set(root / "bench")
    data = root / "data" / "wi"
    data.mkdir(parents=True)
    (data / "train.jsonl").write_text("", encoding="utf-8")
    card = {
        "name": "wi", "format": "alpaca", "multi_turn": False, "layout": "rich",
        "splits": {"test": {"problem_ids": [p.problem_id for p in problems]}},
        "problem_sources": {p.problem_id: str(p.model_path) for p in problems}, **card_extra,
    }  # fmt: skip
    (data / "card.json").write_text(json.dumps(card), encoding="utf-8")
    (root / "dataset_info.json").write_text(json.dumps({"wi_train": {"file_name": "data/wi/train.jsonl"}}))
    run = root / "runs" / "r"
    run.mkdir(parents=True)
    recipe = {"dataset": "wi_train", "dataset_dir": str(root), "template": "qwen3_think", "output_dir": str(run)}
    (run / "recipe.resolved.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return run


def test_eval_offers_the_whatif_actions_the_dataset_card_records(tmp_path: Path) -> None:
    import asyncio

    from eval.episodes import EpisodeSettings, SolverSlot, play_episode
    from eval.policies import make_baseline
    from eval.problem_sets import run_test_problems
    from eval.run_dir import load_run

    offered = run_test_problems(load_run(_run_with_card(tmp_path / "a", {"whatif": True, "whatif_samples": {"offered": 3, "total": 5}})))
    plain = run_test_problems(load_run(_run_with_card(tmp_path / "b", {})))
    assert offered.whatif and offered.whatif_mixed and not plain.whatif and not plain.whatif_mixed

    async def play(ps) -> list[str]:
        slot = SolverSlot()
        try:
            settings = EpisodeSettings(layout=ps.layout, whatif=bool(ps.whatif))
            policy = make_baseline("heuristic", layout=ps.layout, whatif=bool(ps.whatif))
            played = await play_episode(policy, ps.problems[0], slot, settings)
        finally:
            slot.close()
        assert played.record is not None and played.record.whatif == bool(ps.whatif) and played.record.success
        return [s.action for s in played.steps]

    assert asyncio.run(play(offered))[0] == "WHATIF_IIS()"  # asked, answered, then repaired
    assert not any(a.startswith("WHATIF_") for a in asyncio.run(play(plain)))


def test_converted_whatif_data_records_it_and_lists_the_actions(tmp_path: Path) -> None:
    import json

    from converters.core.errors import ConvertError
    from converters.sft.pipeline import ConvertOptions, convert

    problems = load_problems(make_bench(tmp_path / "set", n=9, seed=2))
    files = [tmp_path / f"{agent}.jsonl" for agent in ("heuristic", "oracle")]
    for path in files:
        options = RunOptions(out=path, workers=1, progress=False, whatif=True)  # the opt-in extension
        collect(problems, options, agent_factory=SCRIPTED[path.stem])
    traj = files[0]
    (tmp_path / "dataset_info.json").write_text("{}")
    card = convert(ConvertOptions(inputs=[str(f) for f in files], root=tmp_path, progress=False, length_check=False,
                                  require_benchmark_actions=False))  # fmt: skip
    assert card["benchmark_actions"]["by_reason"]["unknown_action"] > 0  # the card says the RL stage rejects them
    assert card["layout"] == "rich" and card["whatif"] is True
    # grounded by construction: the card's checker finds every number and name on the student's screen
    grounding = card["grounding"]
    assert grounding["numbers_grounded_share"] >= 0.99 and grounding["samples_grounded_share"] >= 0.97
    assert set(grounding["by_agent"]) == {"heuristic", "oracle"}
    assert card["system"] == system_prompt("rich", whatif=True)
    assert card["whatif_samples"]["offered"] == card["whatif_samples"]["total"] > 0
    assert "What-if actions: offered;" in (tmp_path / "data" / "ordebug" / "README.md").read_text()
    rows = [json.loads(line) for line in (tmp_path / "data" / "ordebug" / "train.jsonl").open()]
    assert rows and all(r["metadata"]["whatif"] and "WHATIF_IIS()" in r["system"] for r in rows)
    assert any("Last Result: What-if for each IIS member" in r["input"] for r in rows)
    with pytest.raises(ConvertError, match="only the rich layout shows"):
        convert(ConvertOptions(inputs=[str(traj)], root=tmp_path, progress=False, layout="legacy", name="x"))


def test_collect_cli_refuses_whatif_without_the_rich_layout(tmp_path: Path) -> None:
    from tests.collectors_helpers import run_cli

    bench = make_bench(tmp_path / "set", n=9, seed=2)
    bad = run_cli("collectors", "--problems", str(bench), "--agent", "heuristic", "--layout", "legacy",
                  "--whatif", "--out", str(tmp_path / "x.jsonl"), "--no-progress")  # fmt: skip
    assert bad.returncode == 2 and "--whatif needs --layout rich" in bad.stderr
    ok = run_cli("collectors", "--problems", str(bench), "--agent", "heuristic", "--no-whatif", "--limit", "2",
                 "--out", str(tmp_path / "plain.jsonl"), "--no-progress")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    trajs = read_trajectories(tmp_path / "plain.jsonl")
    assert trajs and all(t.layout == "rich" and not t.env.whatif for t in trajs)
    assert not any(s.action.startswith("WHATIF_") for t in trajs for s in t.steps)
