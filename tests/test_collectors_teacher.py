"""Teacher collection end to end: the real openai client, a loopback server, injected faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.runner import RunOptions, collect
from ordebug.problems import load_problems
from play.agents.teacher import TeacherAgent
from play.llm import LLMClient
from play.llm_config import LLMConfig
from tests.collectors_helpers import files_contain, ids, make_bench, read_trajectories
from tests.support.loopback import (
    ChatRequest,
    Faults,
    LoopbackServer,
    Reply,
    drop_first_responder,
    fixed_responder,
)

SECRET = "sk-loopback-NEVER-WRITTEN-7"


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    return load_problems(make_bench(tmp_path_factory.mktemp("bench") / "set"))


def teacher(url: str, **kw) -> TeacherAgent:
    base = {
        "base_url": url,
        "model": "loop-1",
        "api_key": SECRET,
        "temperature": 0.3,
        "seed": 7,
        "timeout_s": 1.0,
        "max_retries": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    return TeacherAgent(LLMClient(LLMConfig(**{**base, **kw})))


def options(out: Path, **kw) -> RunOptions:
    return RunOptions(**{"out": out, "workers": 1, "concurrency": 8, "progress": False, **kw})


def test_every_problem_ends_as_success_or_recorded_failure_under_faults(problems, tmp_path) -> None:
    down, babbling = problems[0].problem_id, problems[1].problem_id
    base = drop_first_responder(reasoning_field=True)

    def respond(request: ChatRequest) -> Reply:
        if f"ID: {down}\n" in request.last_user:
            return Reply(status=500, raw_body='{"error": {"message": "down for this problem"}}')
        if f"ID: {babbling}\n" in request.last_user:
            return Reply(content="Let me think about the constraints some more.")
        return base(request)

    faults = Faults(
        rate_429=0.1, rate_500=0.1, rate_timeout=0.03, rate_garbage=0.05, timeout_delay_s=1.5, seed=1
    )
    out = tmp_path / "teacher.jsonl"
    with LoopbackServer(respond, faults=faults, api_key=SECRET) as srv:
        result = collect(problems, options(out), teacher=teacher(srv.base_url))
        calls_for_down = sum(1 for body in srv.requests if f"ID: {down}\n" in body["messages"][1]["content"])

    trajs = {t.problem_id: t for t in read_trajectories(out)}
    assert sorted(ids(out)) == sorted(p.problem_id for p in problems)  # each exactly once
    assert srv.stats()["by_fault"], "the fault injection must have fired"

    failed = trajs[down]
    assert failed.outcome.terminated_by == "error" and not failed.outcome.success
    assert "LLM call failed: gave up after" in failed.outcome.error
    assert calls_for_down <= 4  # 1 try + max_retries=3, whatever the faults in between

    stuck = trajs[babbling]
    assert stuck.outcome.terminated_by == "agent_gave_up" and len(stuck.steps) == 3
    assert all(s.action is None and s.parse_error for s in stuck.steps)
    assert stuck.steps[0].raw_output == "Let me think about the constraints some more."

    for pid, traj in trajs.items():
        if pid in (down, babbling):
            continue
        assert traj.outcome.success, (pid, traj.outcome)
        assert all(s.usage is not None and s.usage.retries <= 3 for s in traj.steps)
        assert traj.steps[0].reasoning.startswith("The IIS holds")  # the server's reasoning_content
        assert traj.steps[0].raw_output.startswith("Action: DROP_CONSTRAINT(")
    cfg = trajs[problems[2].problem_id].agent_config
    assert (cfg["temperature"], cfg["seed"], cfg["model"]) == (0.3, 7, "loop-1")
    assert result.summary["problems"] == len(problems) and result.summary["failures"] >= 2
    assert files_contain(tmp_path, SECRET) == []


@pytest.mark.parametrize(
    ("responder", "expected"),
    [
        (drop_first_responder(), "The IIS holds"),  # <think> in the content
        (drop_first_responder(think=False), "The IIS holds"),  # plain text before the action line
        (fixed_responder("Action: SUBMIT()"), ""),  # no reasoning at all: none is invented
    ],
)
def test_reasoning_is_the_models_own(problems, tmp_path, responder, expected) -> None:
    out = tmp_path / "t.jsonl"
    with LoopbackServer(responder) as srv:
        collect(problems[:2], options(out), teacher=teacher(srv.base_url))
    trajs = read_trajectories(out)
    assert len(trajs) == 2
    for traj in trajs:
        first = traj.steps[0]
        assert first.reasoning.startswith(expected) if expected else first.reasoning == ""
        assert "<think>" not in first.reasoning and first.action is not None


def test_budget_stops_cleanly_and_a_rerun_finishes(problems, tmp_path) -> None:
    out = tmp_path / "t.jsonl"
    prices = {"loop-1": {"input": 0.0, "output": 1_000_000.0}}  # $1 per completion token
    answer = drop_first_responder()

    def respond(request: ChatRequest) -> Reply:
        reply = answer(request)
        reply.completion_tokens = 1
        return reply

    with LoopbackServer(respond, latency_s=0.02) as srv:
        first = collect(
            problems, options(out, concurrency=2), teacher=teacher(srv.base_url, prices=prices, budget_usd=6)
        )
        assert first.stopped and "budget" in first.stopped and first.unfinished > 0
        done_first = ids(out)
        assert 0 < len(done_first) < len(problems)
        assert all(
            t.outcome.terminated_by != "budget" for t in read_trajectories(out)
        )  # cut episodes are not written
        second = collect(
            problems, options(out), teacher=teacher(srv.base_url, prices=prices, budget_usd=10_000)
        )
    assert second.stopped is None
    assert sorted(ids(out)) == sorted(p.problem_id for p in problems)
    assert ids(out)[: len(done_first)] == done_first


def test_mixing_teacher_models_in_one_file_is_refused(problems, tmp_path) -> None:
    out = tmp_path / "t.jsonl"
    with LoopbackServer(drop_first_responder()) as srv:
        collect(problems[:1], options(out), teacher=teacher(srv.base_url))
        with pytest.raises(
            Exception, match="holds trajectories of agent 'teacher:loop-1', not 'teacher:other'"
        ):
            collect(problems[:2], options(out), teacher=teacher(srv.base_url, model="other"))
