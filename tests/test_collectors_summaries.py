"""``python -m collectors.summaries``: the search-agent workload's summary step, resumable, with the teacher's retries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.summaries import main
from tests.collectors_helpers import REPO, files_contain
from tests.support.loopback import ChatRequest, Faults, LoopbackServer, Reply, summary_responder

SECRET = "sk-summary-NEVER-WRITTEN"


def samples(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            prompt = f"Question: What is fact {i}?\n\n<search>fact {i}</search>\n\n<result>\nFact {i} is that the sky is {i} km high.\n</result>"
            fh.write(json.dumps({"schema": "search_step/1", "trace_id": f"q{i}", "step": 1, "n_steps": 1,
                                 "question": f"What is fact {i}?", "prompt": prompt, "answer": f"<answer>{i}</answer>"}) + "\n")  # fmt: skip
    return path


@pytest.fixture()
def endpoint(monkeypatch):
    def use(server: LoopbackServer) -> None:
        monkeypatch.setenv("ORDEBUG_TEACHER_BASE_URL", server.base_url)
        monkeypatch.setenv("ORDEBUG_TEACHER_MODEL", "summ")
        monkeypatch.setenv("ORDEBUG_TEACHER_API_KEY", SECRET)
        monkeypatch.setenv("ORDEBUG_TEACHER_MAX_RETRIES", "4")
        monkeypatch.delenv("ORDEBUG_TEACHER_CONFIG", raising=False)

    return use


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_sample_gets_a_summary_despite_faults(tmp_path, endpoint) -> None:
    src, out = samples(tmp_path / "in.jsonl", 12), tmp_path / "out.jsonl"
    faults = Faults(first=["429", "500", "garbage"], rate_500=0.1, retry_after_s=0.01, seed=2)
    with LoopbackServer(summary_responder(), faults=faults, api_key=SECRET) as srv:
        endpoint(srv)
        assert main(["--in", str(src), "--out", str(out), "--max-concurrent", "4", "--no-progress"]) == 0
    rows = lines(out)
    assert sorted(r["trace_id"] for r in rows) == sorted(f"q{i}" for i in range(12))  # each exactly once
    originals = {json.loads(line)["trace_id"]: json.loads(line) for line in src.read_text().splitlines()}
    for row in rows:
        assert {k: row[k] for k in originals[row["trace_id"]]} == originals[row["trace_id"]]  # copied through
        assert (
            row["summary"].startswith("Question: What is fact")
            and "Key facts from search results:" in row["summary"]
        )
        assert row["summary_parts"]["search_results_summary"].startswith('"Fact ')
        assert row["summary_meta"]["verbatim_quotes"] == [1, 1]
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["summarised"] == 12 and summary["usage"]["retries"] >= 3
    assert files_contain(tmp_path, SECRET) == []


def test_resume_and_retry_failed(tmp_path, endpoint) -> None:
    src, out = samples(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
    broken = {"q2"}

    def respond(request: ChatRequest) -> Reply:
        if any(f"fact {b[1:]}?" in request.last_user for b in broken):
            return Reply(content="Sorry, I cannot summarise this.")
        return summary_responder()(request)

    with LoopbackServer(respond) as srv:
        endpoint(srv)
        assert (
            main(
                [
                    "--in",
                    str(src),
                    "--out",
                    str(out),
                    "--limit",
                    "3",
                    "--no-progress",
                    "--max-concurrent",
                    "1",
                ]
            )
            == 0
        )
        assert len(lines(out)) == 3
        assert main(["--in", str(src), "--out", str(out), "--no-progress"]) == 0
        rows = {r["trace_id"]: r for r in lines(out)}
        assert len(rows) == 6 and rows["q2"]["summary"] is None
        assert "unparseable summary: no JSON object" in rows["q2"]["summary_error"]
        broken.clear()
        assert main(["--in", str(src), "--out", str(out), "--no-progress"]) == 0  # plain rerun: nothing to do
        assert {r["trace_id"]: r["summary"] for r in lines(out)}["q2"] is None
        assert main(["--in", str(src), "--out", str(out), "--retry-failed", "--no-progress"]) == 0
    rows = {r["trace_id"]: r for r in lines(out)}
    assert len(lines(out)) == 6 and rows["q2"]["summary"].startswith("Question: What is fact 2?")


def test_sigkill_midrun_then_resume(tmp_path) -> None:
    src, out = samples(tmp_path / "in.jsonl", 40), tmp_path / "out.jsonl"
    with LoopbackServer(summary_responder(), latency_s=0.05) as srv:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "ORDEBUG_TEACHER_BASE_URL": srv.base_url,
            "ORDEBUG_TEACHER_MODEL": "s",
        }
        args = [
            sys.executable,
            "-m",
            "collectors.summaries",
            "--in",
            str(src),
            "--out",
            str(out),
            "--max-concurrent",
            "2",
            "--no-progress",
        ]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_bytes().count(b"\n") >= 5) and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert out.read_bytes().count(b"\n") < 40
        assert subprocess.run(args, check=False, env=env, capture_output=True).returncode == 0
    ids = [r["trace_id"] for r in lines(out)]
    assert sorted(ids) == sorted(f"q{i}" for i in range(40))


def test_bad_input_fails_before_any_call(tmp_path, endpoint, capsys) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n')
    with LoopbackServer(summary_responder()) as srv:
        endpoint(srv)
        assert main(["--in", str(src), "--out", str(tmp_path / "o.jsonl"), "--no-progress"]) == 2
        assert "in.jsonl:2: id 'a' already used on line 1" in capsys.readouterr().err
        src.write_text('{"id": "a", "answer": "no prompt"}\n')
        assert main(["--in", str(src), "--out", str(tmp_path / "o.jsonl"), "--no-progress"]) == 2
        assert "has no 'prompt', 'messages' or 'question' text" in capsys.readouterr().err
        assert main(["--in", str(src), "--out", str(src), "--no-progress"]) == 2
    assert srv.stats()["requests"] == 0
