"""The openai policy: the real `openai` client against a loopback HTTP server this test starts."""

from __future__ import annotations

import json

import pytest
from eval_problems import write_hand_set

from eval.cli import main
from ordebug.prompts import SYSTEM_PROMPT_CORE, user_message
from tests.support.loopback import Faults, LoopbackServer, drop_first_responder, fixed_responder

SECRET = "sk-loopback-secret-123"


@pytest.fixture(scope="module")
def hand_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval_openai") / "set"
    write_hand_set(d)
    return d


def _cli(hand_dir, out, *extra: str) -> int:
    return main(
        [
            "--policy",
            "openai",
            "--model",
            "loop-model",
            "--problems",
            str(hand_dir),
            "--out",
            str(out),
            "--no-progress",
            "--no-oracle-cost",
            *extra,
        ]
    )


def test_openai_policy_matches_scripted_drop_first(hand_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ORDEBUG_EVAL_API_KEY", SECRET)
    # reasoning arrives in reasoning_content (vLLM reasoning parser style): merged back into <think>;
    # the first two requests fail (429, 500) and the client's retries absorb them.
    with LoopbackServer(
        drop_first_responder(reasoning_field=True), api_key=SECRET, faults=Faults(first=["429", "500"])
    ) as srv:
        rc = _cli(hand_dir, tmp_path, "--base-url", srv.base_url, "--baselines", "drop_first")
        stats = srv.stats()
        bodies = list(srv.requests)
    assert rc == 0
    assert stats["by_fault"] == {"429": 1, "500": 1}
    res = json.loads((tmp_path / "results.json").read_text())
    mine, base = res["summary"], res["baselines"]["drop_first"]["summary"]
    for key in ("rr@5", "rr@10", "rr@20", "da_iis", "da_target", "op", "te", "fp", "steps"):
        assert mine[key] == base[key], key  # same decisions over HTTP as the scripted agent
    assert mine["format_ok"] == 1.0  # reasoning_content became a <think> block
    assert res["episodes"][0]["steps"][0]["raw_output"].startswith("<think>\nThe IIS holds 2 constraint(s)")
    # the prompt is the training prompt: legacy system prompt + instruction/observation user turn
    first = next(b for b in bodies if "one_conflict" in b["messages"][-1]["content"])
    assert first["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT_CORE}
    assert first["messages"][1]["content"] == user_message(res["episodes"][0]["steps"][0]["observation"])
    assert first["temperature"] == 0.0 and first["model"] == "loop-model"
    cfg = res["config"]["policy"]
    assert cfg["model"] == "loop-model" and cfg["sampling"]["temperature"] == 0.0
    # the key is never written anywhere
    for name in ("results.json", "report.md"):
        assert SECRET not in (tmp_path / name).read_text()


def test_openai_unparseable_answers_are_invalid_steps(hand_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("ORDEBUG_EVAL_API_KEY", raising=False)
    with LoopbackServer(fixed_responder("I think the model is fine.")) as srv:
        rc = _cli(hand_dir, tmp_path, "--base-url", srv.base_url, "--max-steps", "3", "--baselines", "none")
    assert rc == 0
    res = json.loads((tmp_path / "results.json").read_text())
    s = res["summary"]
    assert s["invalid_action_rate"] == 1.0 and s["format_ok"] == 0.0 and s["rr@20"] == 0.0
    assert s["n_steps"] == 6  # 2 problems x 3 steps, each rejected
    assert all(ep["terminated_by"] == "step_limit" for ep in res["episodes"])


def test_openai_wrong_key_fails_loudly(hand_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ORDEBUG_EVAL_API_KEY", "sk-wrong")
    with LoopbackServer(drop_first_responder(), api_key=SECRET) as srv:
        rc = _cli(hand_dir, tmp_path, "--base-url", srv.base_url, "--baselines", "none")
    err = capsys.readouterr().err
    assert rc == 1
    assert "AuthenticationError" in err and "sk-wrong" not in err
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["samples"]["errors"] == 2


def test_openai_needs_endpoint(tmp_path, monkeypatch, capsys, hand_dir):
    monkeypatch.delenv("ORDEBUG_EVAL_BASE_URL", raising=False)
    assert _cli(hand_dir, tmp_path) == 2
    assert "ORDEBUG_EVAL_BASE_URL" in capsys.readouterr().err
