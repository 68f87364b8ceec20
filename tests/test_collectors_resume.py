"""Crash safety: SIGKILL a collecting process mid-run, rerun, and compare with an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.collectors_helpers import REPO, ids, make_bench, read_trajectories, run_cli
from tests.support.loopback import LoopbackServer, drop_first_responder


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return make_bench(tmp_path_factory.mktemp("bench") / "set", n=54, seed=5)


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "collectors", *args],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_after_lines(proc: subprocess.Popen, out: Path, n: int, timeout: float = 120) -> None:
    """SIGKILL ``proc`` once ``out`` holds at least ``n`` bytes-worth lines (mid-run, mid-write maybe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= n:
            break
        if proc.poll() is not None:
            pytest.fail(f"collector ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def comparable(path: Path) -> dict[str, tuple]:
    """What must not depend on being killed: per problem, the actions, their results, the outcome."""
    return {
        t.problem_id: (
            tuple((s.raw_output, s.action, s.result) for s in t.steps),
            t.outcome.model_dump(),
            t.metrics,
        )
        for t in read_trajectories(path)
    }


def test_sigkill_heuristic_midrun_then_resume_equals_uninterrupted(bench, tmp_path) -> None:
    common = ["--agent", "heuristic", "--problems", str(bench), "--workers", "2", "--no-progress"]
    full = tmp_path / "full.jsonl"
    assert run_cli("collectors", *common, "--out", str(full)).returncode == 0

    killed = tmp_path / "killed.jsonl"
    proc = start([*common, "--out", str(killed)])
    kill_after_lines(proc, killed, 10)
    partial = killed.read_bytes()
    assert 10 <= partial.count(b"\n") < 54, "the kill must land mid-run"

    rerun = run_cli("collectors", *common, "--out", str(killed))
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(ids(killed)) == sorted(ids(full))  # every problem exactly once
    assert killed.read_bytes().startswith(
        partial[: partial.rfind(b"\n") + 1]
    )  # finished lines kept as they were
    assert comparable(killed) == comparable(full)


def test_torn_last_line_is_discarded_on_resume(bench, tmp_path) -> None:
    out = tmp_path / "h.jsonl"
    common = [
        "--agent",
        "heuristic",
        "--problems",
        str(bench),
        "--limit",
        "6",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert run_cli("collectors", *common).returncode == 0
    lines = out.read_bytes().splitlines(keepends=True)
    kept = ids(out)[:4]
    out.write_bytes(b"".join(lines[:4]) + lines[4][: len(lines[4]) // 2])  # a write cut by a crash
    rerun = run_cli("collectors", *common)
    assert rerun.returncode == 0, rerun.stderr
    assert ids(out)[:4] == kept and len(set(ids(out))) == 6
    assert len(read_trajectories(out)) == 6
    assert (
        '"torn_bytes_discarded": ' + str(len(lines[4]) // 2)
        in out.with_name("h.jsonl.summary.json").read_text()
    )


def test_sigkill_teacher_midrun_then_resume(bench, tmp_path) -> None:
    out = tmp_path / "teacher.jsonl"
    args = ["--agent", "teacher", "--problems", str(bench), "--workers", "1", "--concurrency", "4",
            "--no-progress", "--out", str(out)]  # fmt: skip
    with LoopbackServer(drop_first_responder(reasoning_field=True), latency_s=0.03) as srv:
        env = {"ORDEBUG_TEACHER_BASE_URL": srv.base_url, "ORDEBUG_TEACHER_MODEL": "loop"}
        proc = start(args, env)
        kill_after_lines(proc, out, 8)
        rerun = run_cli("collectors", *args, env=env)
    assert rerun.returncode == 0, rerun.stderr
    trajs = read_trajectories(out)
    assert sorted(t.problem_id for t in trajs) == sorted(p.stem for p in (bench / "models").glob("*.mps"))
    assert all(t.outcome.success for t in trajs)


def test_a_second_collector_on_the_same_file_fails_clearly(bench, tmp_path) -> None:
    out = tmp_path / "teacher.jsonl"
    args = ["--agent", "teacher", "--problems", str(bench), "--workers", "1", "--concurrency", "1",
            "--no-progress", "--out", str(out)]  # fmt: skip
    with LoopbackServer(drop_first_responder(), latency_s=0.05) as srv:
        env = {"ORDEBUG_TEACHER_BASE_URL": srv.base_url, "ORDEBUG_TEACHER_MODEL": "loop"}
        first = start(args, env)
        try:
            lock = out.with_name(out.name + ".lock")
            deadline = time.monotonic() + 60
            while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
                time.sleep(0.01)
            second = run_cli("collectors", *args, env=env)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
    assert second.returncode == 2
    assert f"another collector (pid {first.pid}) is writing this file" in second.stderr
    assert second.stderr.count("\n") == 1  # one readable line, no traceback
