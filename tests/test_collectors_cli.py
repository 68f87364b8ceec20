"""``python -m collectors``: help, the plain default run, shards, limits and refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from collectors.cli import main
from collectors.runner import RunOptions, Shard, collect, select
from ordebug.problems import load_problems
from play.agents import SCRIPTED
from tests.collectors_helpers import ids, make_bench, read_trajectories, run_cli


@pytest.mark.parametrize("module", ["collectors", "collectors.summaries", "tests.support.loopback"])
def test_every_cli_has_help(module: str) -> None:
    result = run_cli(module, "--help")
    assert result.returncode == 0 and "usage: python -m " + module in result.stdout
    assert "--" in result.stdout


def test_plain_invocation_generates_the_default_benchmark_and_runs_heuristic_and_oracle(
    tmp_path: Path,
) -> None:
    env = {"ORDEBUG_TEACHER_BASE_URL": "", "ORDEBUG_TEACHER_CONFIG": ""}
    first = run_cli("collectors", "--no-progress", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "data/bench/default/dataset.json").is_file()
    for agent in ("heuristic", "oracle"):
        out = tmp_path / "trajectories" / f"{agent}.jsonl"
        summary = json.loads((tmp_path / "trajectories" / f"{agent}.jsonl.summary.json").read_text())
        assert len(read_trajectories(out)) == summary["problems"] == 45
        assert summary["this_run"]["collected"] == 45
        assert f"## Collection: {agent}" in first.stdout and "| Error type |" in re.sub(" +", " ", first.stdout)
    assert not (tmp_path / "trajectories" / "teacher.jsonl").exists()  # no endpoint configured
    again = run_cli("collectors", "--agent", "heuristic", "--no-progress", cwd=tmp_path, env=env)
    assert again.returncode == 0
    summary = json.loads((tmp_path / "trajectories" / "heuristic.jsonl.summary.json").read_text())
    assert summary["this_run"]["collected"] == 0 and summary["this_run"]["already_done"] == 45


def test_shards_partition_the_problems_deterministically(tmp_path: Path) -> None:
    problems = load_problems(make_bench(tmp_path / "set"))
    shards = [select(problems, Shard.parse(f"{i}/3"), None) for i in (1, 2, 3)]
    chosen = [p.problem_id for shard in shards for p in shard]
    assert sorted(chosen) == sorted(p.problem_id for p in problems)  # disjoint and complete
    assert [p.problem_id for p in select(list(reversed(problems)), Shard(2, 3), None)] == [
        p.problem_id for p in reversed(shards[1])
    ]  # membership does not depend on order
    out = tmp_path / "s.jsonl"
    collect(
        problems,
        RunOptions(out=out, shard=Shard(2, 3), limit=2, progress=False),
        agent_factory=SCRIPTED["heuristic"],
    )
    assert sorted(ids(out)) == sorted(p.problem_id for p in shards[1][:2])  # lines in finishing order


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "4/3"], "--shard '4/3': need 1 <= i <= n"),
        (["--shard", "half"], "expected i/n, e.g. 1/4"),
        (["--out", "x.jsonl"], "--out names one file but 2 agents would run"),
        (["--agent", "heuristic", "--workers", "0"], "--workers must be at least 1"),
        (["--agent", "heuristic", "--limit", "0"], "--limit must be at least 1"),  # not an empty "success"
        (["--agent", "teacher"], "teacher base_url is not set"),
        (["--agent", "heuristic", "--problems", "no/such/dir"], "no/such/dir"),
    ],
)
def test_bad_options_fail_with_one_clear_line(
    tmp_path, monkeypatch, capsys, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDEBUG_TEACHER_BASE_URL", raising=False)
    monkeypatch.delenv("ORDEBUG_TEACHER_CONFIG", raising=False)
    assert main([*args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "data").exists()  # refused before any work


def test_refuses_to_mix_agents_in_one_file(tmp_path: Path) -> None:
    bench = make_bench(tmp_path / "set", n=9)
    out = tmp_path / "mixed.jsonl"
    assert (
        run_cli(
            "collectors", "--agent", "heuristic", "--problems", str(bench), "--out", str(out), "--no-progress"
        ).returncode
        == 0
    )
    result = run_cli(
        "collectors", "--agent", "oracle", "--problems", str(bench), "--out", str(out), "--no-progress"
    )
    assert result.returncode == 2
    assert (
        "holds trajectories of agent 'heuristic', not 'oracle'" in result.stderr
        and "--overwrite" in result.stderr
    )
    result = run_cli(
        "collectors",
        "--agent",
        "oracle",
        "--problems",
        str(bench),
        "--out",
        str(out),
        "--overwrite",
        "--no-progress",
    )
    assert result.returncode == 0 and {t.agent for t in read_trajectories(out)} == {"oracle"}
