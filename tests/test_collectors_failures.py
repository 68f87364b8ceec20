"""Runs that cannot work, error lines and replays, feasible problems, bad output paths (issue 11).

The teacher cases use the real ``openai`` client against the loopback server, which answers 401
for a wrong or missing key and 404 for an unknown model, as real endpoints do.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from collectors.cli import main
from collectors.runner import RunOptions, collect, summary_path
from ordebug.errors import OrDebugError
from ordebug.problems import load_problems
from play.agents import SCRIPTED
from play.agents.teacher import TeacherAgent
from play.llm import LLMClient
from play.llm_config import LLMConfig
from tests.collectors_helpers import REPO, ids, make_bench, run_cli
from tests.support.loopback import LoopbackServer, Reply, drop_first_responder

KEY = "sk-loopback-right-key-3"
EXIT_DOMAIN, EXIT_FAILED = 2, 4  # collectors.cli's documented exit codes (README, docs/collecting.md)


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return make_bench(tmp_path_factory.mktemp("failures") / "set", n=9, seed=5)


def teacher_yaml(path: Path, url: str, **kw: object) -> Path:
    """A teacher config with quick retries (the key comes from the environment, never the file)."""
    cfg = {"base_url": url, "model": "loop-1", "max_retries": 1, "backoff_base_s": 0.01,
           "backoff_max_s": 0.02, "timeout_s": 5, **kw}  # fmt: skip
    path.write_text("".join(f"{k}: {v}\n" for k, v in cfg.items()), encoding="utf-8")
    return path


def collect_teacher(bench: Path, out: Path, config: Path, key: str | None, *extra: str):
    env = {"ORDEBUG_TEACHER_BASE_URL": "", "ORDEBUG_TEACHER_CONFIG": "", "ORDEBUG_TEACHER_API_KEY": key or ""}
    return run_cli(
        "collectors", "--agent", "teacher", "--problems", str(bench), "--out", str(out),
        "--teacher-config", str(config), "--workers", "1", "--concurrency", "2", "--no-progress", *extra,
        env=env,
    )  # fmt: skip


def test_a_wrong_key_stops_the_run_at_once_and_a_fixed_rerun_collects_everything(bench, tmp_path) -> None:
    out = tmp_path / "teacher.jsonl"
    with LoopbackServer(drop_first_responder(), api_key=KEY) as srv:
        config = teacher_yaml(tmp_path / "teacher.yaml", srv.base_url)
        bad = collect_teacher(bench, out, config, "sk-wrong")
        assert bad.returncode == EXIT_DOMAIN, bad.stderr
        errors = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in bad.stderr
        assert "HTTP 401" in errors[0] and "check the API key in $ORDEBUG_TEACHER_API_KEY" in errors[0]
        assert "rerun the same command" in errors[0]
        refused = srv.stats()["by_status"]
        assert list(refused) == [401] and refused[401] <= 2  # the calls in flight, not one per problem
        assert not out.exists() or out.read_text() == ""  # nothing recorded
        assert json.loads(summary_path(out).read_text())["this_run"]["aborted"].startswith("HTTP 401")

        good = collect_teacher(bench, out, config, KEY)
    assert good.returncode == 0, good.stderr
    assert len(ids(out)) == 9 and "error record" not in good.stderr


def test_no_key_and_an_unknown_model_are_named_with_their_fix(bench, tmp_path) -> None:
    with LoopbackServer(drop_first_responder(), api_key=KEY, models=["loop-1"]) as srv:
        no_key = collect_teacher(
            bench, tmp_path / "a.jsonl", teacher_yaml(tmp_path / "a.yaml", srv.base_url), None
        )
        config = teacher_yaml(tmp_path / "b.yaml", srv.base_url, model="no-such-model")
        unknown = collect_teacher(bench, tmp_path / "b.jsonl", config, KEY)
    assert no_key.returncode == unknown.returncode == EXIT_DOMAIN
    assert "no API key is set: export ORDEBUG_TEACHER_API_KEY=<your key>" in no_key.stderr
    assert "HTTP 404" in unknown.stderr and "check the model name 'no-such-model'" in unknown.stderr
    assert ids(tmp_path / "a.jsonl") == [] and ids(tmp_path / "b.jsonl") == []


def test_an_endpoint_that_is_down_stops_the_run(bench, tmp_path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    cfg = LLMConfig(base_url=url, model="m", api_key=KEY, max_retries=1, backoff_base_s=0.01, timeout_s=2)
    out = tmp_path / "t.jsonl"
    problems = load_problems(bench)
    with pytest.raises(OrDebugError, match=r"connection error.*check that the server at .* is running"):
        collect(problems, RunOptions(out=out, workers=1, concurrency=2, progress=False),
                teacher=TeacherAgent(LLMClient(cfg)))  # fmt: skip
    assert ids(out) == []


def test_a_run_where_every_attempt_errs_exits_nonzero_and_says_how_to_replay(bench, tmp_path) -> None:
    out = tmp_path / "t.jsonl"
    broken = LoopbackServer(lambda request: Reply(status=500, raw_body='{"error": {"message": "down"}}'))
    with broken as srv:
        config = teacher_yaml(tmp_path / "t.yaml", srv.base_url)
        first = collect_teacher(bench, out, config, KEY, "--limit", "3")
        again = collect_teacher(bench, out, config, KEY, "--limit", "3")  # a plain rerun
    assert first.returncode == EXIT_FAILED, first.stderr
    assert "every one of the 3 problem(s) attempted in this run ended in an error" in first.stderr
    assert f"3 problem(s) in {out} hold an error record" in first.stderr and "--retry-errors" in first.stderr
    assert again.returncode == EXIT_FAILED  # never an empty collection with exit 0
    assert "nothing was collected" in again.stderr and "--retry-errors" in again.stderr
    assert json.loads(summary_path(out).read_text())["errors_held"] == 3
    with LoopbackServer(drop_first_responder()) as srv:
        fixed = collect_teacher(bench, out, teacher_yaml(tmp_path / "t.yaml", srv.base_url), KEY,
                                "--limit", "3", "--retry-errors")  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    summary = json.loads(summary_path(out).read_text())
    assert (
        summary["errors_held"] == 0
        and summary["successes"] == 3
        and summary["this_run"]["errors_retried"] == 3
    )


def test_retry_errors_with_a_limit_keeps_the_error_lines_outside_it(bench, tmp_path) -> None:
    problems = load_problems(shutil.copytree(bench, tmp_path / "set"))
    broken = [problems[0], problems[1]]
    saved = {p.problem_id: Path(p.model_path).read_bytes() for p in broken}
    for p in broken:
        Path(p.model_path).write_text("NOT AN MPS FILE\n", encoding="utf-8")
    out = tmp_path / "h.jsonl"
    collect(problems, RunOptions(out=out, workers=1, progress=False), agent_factory=SCRIPTED["heuristic"])
    assert json.loads(summary_path(out).read_text())["failures"] == 2
    for p in broken:  # the cause is fixed; the user replays one of the two
        Path(p.model_path).write_bytes(saved[p.problem_id])
    result = collect(
        problems,
        RunOptions(out=out, workers=1, progress=False, limit=1, retry_errors=True),
        agent_factory=SCRIPTED["heuristic"],
    )
    lines = {json.loads(line)["problem_id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert len(lines) == 9 == len(out.read_text().splitlines())  # every problem still has its one line
    assert lines[broken[0].problem_id]["outcome"]["success"]  # replayed
    assert lines[broken[1].problem_id]["outcome"]["terminated_by"] == "error"  # outside the limit: kept
    assert result.summary["failures"] == 1 and result.summary["successes"] == 8
    assert result.errors_held == 0 and result.summary["this_run"]["errors_retried"] == 1


def test_a_feasible_model_is_skipped_and_reported_not_counted(shared_data, tmp_path) -> None:
    problems = load_problems(
        [
            shared_data / "netlib" / "feasible" / "afiro.mps",
            shared_data / "netlib" / "infeasible" / "itest6.mps",
        ]
    )
    out = tmp_path / "h.jsonl"
    result = collect(
        problems, RunOptions(out=out, workers=1, progress=False), agent_factory=SCRIPTED["heuristic"]
    )
    assert ids(out) == ["itest6"]  # nothing is written for the feasible one
    assert result.summary["skipped"] == {"feasible_at_reset": ["afiro"]}
    assert result.summary["problems"] == 1 and result.summary["this_run"]["skipped"] == 1
    assert "| feasible_at_reset | 1 |" in re.sub(" +", " ", result.table)
    # the teacher skips it too, without a single call
    with LoopbackServer(drop_first_responder()) as srv:
        cfg = LLMConfig(base_url=srv.base_url, model="m", api_key=KEY)
        teacher = collect(problems[:1], RunOptions(out=tmp_path / "t.jsonl", workers=1, progress=False),
                          teacher=TeacherAgent(LLMClient(cfg)))  # fmt: skip
        assert srv.stats()["requests"] == 0
    assert teacher.summary["skipped"] == {"feasible_at_reset": ["afiro"]} and ids(tmp_path / "t.jsonl") == []


def test_a_directory_as_out_is_one_clear_error_and_leaves_no_lock(bench, tmp_path, capsys) -> None:
    target = tmp_path / "trajectories"
    target.mkdir()
    code = main(["--agent", "heuristic", "--problems", str(bench), "--out", str(target), "--no-progress"])
    assert code == EXIT_DOMAIN
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: {target} is a directory; the output must be a file") and err.count("\n") == 1
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trajectories"] and not any(target.iterdir())


def test_no_user_facing_text_points_at_a_folder_users_do_not_have() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    hits = [
        name
        for name in tracked.stdout.splitlines()
        if name.endswith((".py", ".md", ".yaml", "Makefile"))
        and name != "tests/test_collectors_failures.py"
        and "/work/agents" in (REPO / name).read_text(encoding="utf-8")
    ]
    assert hits == []


def test_teacher_workers_are_bounded_by_the_problems_left_and_the_machine(bench, tmp_path) -> None:
    """`--workers 1000 --limit 1` once started 101 episode hosts of ~77 MiB each (issue 23, probe 7)."""
    import os

    from collectors.episode_hosts import host_count

    out = tmp_path / "t.jsonl"
    with LoopbackServer(drop_first_responder()) as srv:
        config = teacher_yaml(tmp_path / "t.yaml", srv.base_url)
        env = {"ORDEBUG_TEACHER_BASE_URL": "", "ORDEBUG_TEACHER_CONFIG": "", "ORDEBUG_TEACHER_API_KEY": KEY}
        done = run_cli("collectors", "--agent", "teacher", "--problems", str(bench), "--out", str(out),
                       "--teacher-config", str(config), "--workers", "1000", "--limit", "1", "--no-progress",
                       env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--workers 1000: 1 episode host(s), bounded by 1 problem(s) left" in done.stderr
    assert len(ids(out)) == 1
    n, why = host_count(1000, 10_000)
    assert 1 <= n <= len(os.sched_getaffinity(0)) and why is not None and "bounded by" in why
    assert host_count(1, 10) == (1, None)
