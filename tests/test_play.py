"""The play layer: one runner, one step record and one chat policy serve collectors and eval."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from eval_problems import write_hand_set

from collectors.episodes import to_trajectory
from eval.episodes import play_all
from eval.policies import make_baseline
from eval.policies.openai_policy import OpenAIPolicy
from play.agents import SCRIPTED
from play.agents.teacher import TeacherAgent
from play.chat import ChatPolicy
from play.episode import PlaySettings
from play.llm import LLMClient
from play.llm_config import load_llm_config
from play.policy import ScriptedPolicy
from play.runner import SolverSlot, play_local
from tests.support.loopback import LoopbackServer, drop_first_responder, fixed_responder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    return write_hand_set(tmp_path_factory.mktemp("play") / "set")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_play_sits_between_ordebug_and_the_two_halves() -> None:
    """play imports ordebug only; the teacher no longer reaches up into collectors.episodes."""
    for path in sorted((REPO / "play").rglob("*.py")):  # the scripted agents in play/agents/ too
        upward = {
            n for n in _imports(path) if n.split(".")[0] in {"collectors", "eval", "converters", "recipes"}
        }
        assert not upward, f"{path.name} imports {upward}"
    teacher = _imports(REPO / "play" / "agents" / "teacher.py")
    assert not {n for n in teacher if n.startswith("collectors.episodes")}


def _run(coro):
    return asyncio.run(coro)


async def _local(policy, problem, settings):
    slot = SolverSlot()
    try:
        return await play_local(policy, problem, slot, settings)
    finally:
        slot.close()


def test_collector_and_eval_views_come_from_the_same_steps(hand) -> None:
    """The heuristic played for a trajectory and for eval: same answers, same actions, same end."""
    settings = PlaySettings(max_steps=20)
    eval_eps = _run(play_all(make_baseline("heuristic", layout="legacy"), hand, settings, progress=False))
    for problem, ev in zip(hand, eval_eps, strict=True):
        policy = ScriptedPolicy(SCRIPTED["heuristic"]())
        traj = to_trajectory(_run(_local(policy, problem, settings)), policy.name, policy.config(), "legacy")
        assert [s.raw_output for s in traj.steps] == [s.raw_output for s in ev.steps]
        assert [s.action for s in traj.steps] == [s.action for s in ev.steps]  # every step valid here
        assert traj.outcome.terminated_by == ev.terminated_by == "submit"
        assert traj.outcome.success and ev.record is not None and ev.record.success


def test_an_agent_stuck_on_bad_output_gives_up(hand) -> None:
    """max_invalid_in_a_row (the teacher's 3) ends the episode as agent_gave_up, with every step kept."""

    class Babbler:
        name = "babbler"

        def config(self):
            return {}

        async def act(self, obs, state, history, *, problem):
            return "I think the model is fine."

    settings = PlaySettings(max_steps=20, max_invalid_in_a_row=3)
    played = _run(_local(Babbler(), hand[0], settings))
    traj = to_trajectory(played, "babbler", {}, "legacy")
    assert traj.outcome.terminated_by == "agent_gave_up" and len(traj.steps) == 3
    assert all(s.action is None and s.parse_error for s in traj.steps)


def test_teacher_and_eval_endpoint_are_one_class_configured_twice(monkeypatch, hand) -> None:
    """ORDEBUG_TEACHER_* and ORDEBUG_EVAL_* both configure ChatPolicy; each sends its own key."""
    for prefix in ("ORDEBUG_TEACHER_", "ORDEBUG_EVAL_"):
        for key in ("BASE_URL", "MODEL", "API_KEY", "CONFIG", "MAX_RETRIES"):
            monkeypatch.delenv(prefix + key, raising=False)
    with (
        LoopbackServer(drop_first_responder(), api_key="sk-teacher-1") as teacher_srv,
        LoopbackServer(
            fixed_responder("<think>\nx\n</think>\n\nAction: SUBMIT()"), api_key="sk-eval-2"
        ) as eval_srv,
    ):
        monkeypatch.setenv("ORDEBUG_TEACHER_BASE_URL", teacher_srv.base_url)
        monkeypatch.setenv("ORDEBUG_TEACHER_MODEL", "teach")
        monkeypatch.setenv("ORDEBUG_TEACHER_API_KEY", "sk-teacher-1")
        monkeypatch.setenv("ORDEBUG_EVAL_BASE_URL", eval_srv.base_url)
        monkeypatch.setenv("ORDEBUG_EVAL_MODEL", "under-test")
        monkeypatch.setenv("ORDEBUG_EVAL_API_KEY", "sk-eval-2")
        monkeypatch.setenv("ORDEBUG_EVAL_MAX_RETRIES", "1")  # any LLMConfig key works under either prefix
        teacher = TeacherAgent(LLMClient(load_llm_config()))
        under_test = OpenAIPolicy(system="sys")
        assert type(teacher) is type(under_test) is ChatPolicy
        assert under_test.client.config.max_retries == 1 and under_test.client.config.model == "under-test"
        settings = PlaySettings(max_steps=2)
        t = to_trajectory(_run(_local(teacher, hand[0], settings)), teacher.name, teacher.config(), "legacy")
        e = _run(_local(under_test, hand[0], settings))
        assert t.outcome.success and t.usage.calls >= 2  # the drop_first responder repaired it over HTTP
        assert e.error is None and e.steps[0].parsed == "SUBMIT()"
        assert teacher_srv.stats()["requests"] >= 2 and eval_srv.stats()["requests"] == 1
    for cfg in (teacher.config(), under_test.config()):
        assert "sk-" not in str(cfg)
