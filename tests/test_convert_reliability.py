"""converters.sft under the inputs and situations of issue 11: concurrent runs, feasible models,
invented names, non-UTF-8 bytes, file modes, help text. Real processes, real gurobipy, real files."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from converters.core.registry import load_dataset_info
from converters.search_traces.cli import read_jsonl
from converters.sft.cli import build_parser
from converters.sft.pipeline import ConvertOptions, convert
from converters.tool_traces.events import read_events
from tests.support.synthetic import write_trajectories

REPO = Path(__file__).resolve().parents[1]


def run(root: Path, inputs: list, **kw) -> dict:
    kw.setdefault("length_check", False)
    return convert(ConvertOptions(inputs=[str(p) for p in inputs], root=root, progress=False, **kw))


def sft(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "converters.sft", "--root", str(root), "--no-length-check", "--quiet", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


def all_rows(root: Path, name: str = "ordebug") -> list[dict]:
    return [json.loads(line) for p in (root / "data" / name).glob("*.jsonl") for line in p.open(encoding="utf-8")]


# ------------------------------------------------------------------ item 3: one dataset name, one writer


def _open_files(pid: int) -> set[str]:
    fds = Path(f"/proc/{pid}/fd")
    out = set()
    for fd in fds.iterdir() if fds.exists() else []:
        try:
            out.add(os.readlink(fd))
        except OSError:
            continue
    return out


def test_a_second_convert_of_the_same_name_fails_clearly_while_the_first_runs(tmp_path: Path) -> None:
    big = write_trajectories(tmp_path / "in" / "teacher.jsonl", 3000)
    small = write_trajectories(tmp_path / "in" / "other.jsonl", 40, seed=1)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "converters.sft", "--root", str(tmp_path), "--no-length-check", "--quiet"]
    first = subprocess.Popen([*cmd, "--in", str(big), "--name", "same"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while str(big) not in _open_files(first.pid):  # the first run is reading its input: mid-convert
            assert first.poll() is None and time.monotonic() < deadline, "the first convert never read its input"
            time.sleep(0.005)
        first.send_signal(signal.SIGSTOP)  # hold it there, whatever the machine's load
        second = sft(tmp_path, "--in", str(small), "--name", "same")
    finally:
        first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stdout
    assert "dataset 'same' is being written by another convert" in second.stderr
    assert "another --name" in second.stderr and "Traceback" not in second.stderr
    # the data and registry are the first run's, whole; the lock is gone with it
    card = json.loads((tmp_path / "data" / "same" / "card.json").read_text())
    assert [i["path"] for i in card["inputs"]] == [str(big)]
    assert set(load_dataset_info(tmp_path)) == {"same_train", "same_val", "same_test"}
    assert not (tmp_path / "data" / ".same.lock").exists()
    # and once it is done, the name is free again
    assert sft(tmp_path, "--in", str(small), "--name", "same").returncode == 0


# ------------------------------------------------------------------ item 4: a feasible model is no repair


def test_a_trajectory_optimal_at_reset_is_never_a_sample(shared_data: Path, tmp_path: Path) -> None:
    netlib = shared_data / "netlib"
    out = tmp_path / "trajectories" / "heuristic.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    collected = subprocess.run(
        [sys.executable, "-m", "collectors", "--agent", "heuristic", "--no-progress", "--out", str(out),
         "--problems", str(netlib / "feasible" / "afiro.mps"), str(netlib / "infeasible" / "itest6.mps")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert collected.returncode == 0, collected.stderr
    lines = out.read_text().splitlines()
    assert not any('"afiro"' in line for line in lines)  # today's collectors skip it (summary only)
    # what collectors wrote for it before they skipped feasible models: SUBMIT() at an OPTIMAL reset
    infeasible = json.loads(lines[0])
    old = json.loads(json.dumps(infeasible))
    first = old["steps"][0]
    first.update(
        observation=first["observation"].replace("Status: INFEASIBLE", "Status: OPTIMAL"),
        state={**first["state"], "status": "OPTIMAL"},
        raw_output="<think>\nThe model is OPTIMAL.\n</think>\n\nAction: SUBMIT()",
        reasoning="The model is OPTIMAL.", action="SUBMIT()", result="Submitted.", status="OPTIMAL",
    )
    old.update(problem_id="afiro", steps=[first])
    old["outcome"].update(success=True, steps=1, changes=[], diagnosis=[])
    # a step-less record of a feasible model (what a collector that skips such problems may write)
    stepless = json.loads(json.dumps(old))
    stepless.update(problem_id="afiro_stepless", steps=[])
    stepless["outcome"].update(steps=0)
    marked = json.loads(json.dumps(stepless))  # or one marked skipped, whatever its outcome says
    marked["problem"]["skipped"] = "feasible_at_reset"
    marked["outcome"].update(success=False, final_status="", terminated_by="agent_gave_up")
    marked["problem_id"] = "afiro_marked"
    out.write_text("\n".join([*lines, json.dumps(old), json.dumps(stepless), json.dumps(marked)]) + "\n")

    card = run(tmp_path, [out])
    rows = all_rows(tmp_path)
    assert {r["metadata"]["problem_id"] for r in rows} == {"itest6"}
    assert all(r["metadata"]["problem_id"] != "afiro" for r in rows)
    assert card["dropped"]["already_optimal"]["count"] == 3
    assert "trajectory_failed" not in card["dropped"]
    # with failures kept too: a feasible model is still no debugging problem
    card = run(tmp_path, [out], keep_failures=True)
    assert card["dropped"]["already_optimal"]["count"] == 3


# ------------------------------------------------------------------ item 5: names the model does not have


def test_actions_on_elements_the_model_lacks_are_dropped_and_counted(shared_data: Path, tmp_path: Path) -> None:
    legacy = shared_data / "legacy_sft"
    data = json.loads((legacy / "sft_gpt52chat.json").read_text(encoding="utf-8"))
    samples = data["data"]
    bounds = [i for i, s in enumerate(samples) if "Action: UPDATE_BOUNDS(" in s["output"]]
    assert bounds, "the legacy file has UPDATE_BOUNDS samples (their variables are checked in the models)"

    def with_action(i: int, action: str) -> None:
        samples[i]["output"] = samples[i]["output"].rsplit("Action:", 1)[0] + f"Action: {action}"

    with_action(7, "DROP_CONSTRAINT(no_such_constraint_xyz)")
    with_action(8, "RELAX_CONSTRAINT(no_such_constraint_xyz, 1.0)")
    with_action(bounds[0], "UPDATE_BOUNDS(no_such_variable_xyz, 0, 10)")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "models").symlink_to(legacy / "models")  # models/<problem_id>.mps beside the file
    path = tmp_path / "in" / "sft.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    card = run(tmp_path, [path])
    dropped = card["dropped"]["unknown_target"]
    assert dropped["count"] == 3 and card["total"]["samples"] == len(samples) - 3
    assert any("no_such_variable_xyz" in e and ".mps" in e for e in dropped["examples"])
    outputs = [r["output"] for r in all_rows(tmp_path)]
    assert not any("_xyz" in o for o in outputs)
    assert sum("UPDATE_BOUNDS(" in o for o in outputs) == len(bounds) - 1  # real variables stay


# ------------------------------------------------------------------ item 8: bytes that are not UTF-8


@pytest.fixture
def bad_inputs(shared_data: Path, tmp_path: Path) -> dict[str, tuple[Path, int]]:
    """(file, 1-based line of the bad byte) per input kind; one bad record each."""
    legacy = json.loads((shared_data / "legacy_sft" / "sft_gpt52chat.json").read_text(encoding="utf-8"))["data"][:40]
    lines = [json.dumps(s, ensure_ascii=False).encode() for s in legacy]
    lines[3] = lines[3].replace(b"Debug", b"Deb\xff\xfeug", 1)
    alpaca = tmp_path / "bad_alpaca.jsonl"
    alpaca.write_bytes(b"\n".join(lines) + b"\n")
    whole = tmp_path / "bad.json"
    whole.write_bytes(json.dumps({"data": legacy}, indent=1).encode().replace(b"Debug", b"De\xe9bug", 1))
    trajs = write_trajectories(tmp_path / "t.jsonl", 30).read_bytes().splitlines(keepends=True)
    trajs[0] = trajs[0].replace(b"INFEASIBLE", b"INFEAS\xc3IBLE", 1)  # a truncated 2-byte sequence
    traj = tmp_path / "bad_traj.jsonl"
    traj.write_bytes(b"".join(trajs))
    line_of_json = whole.read_bytes()[: whole.read_bytes().index(b"\xe9")].count(b"\n") + 1
    return {"alpaca": (alpaca, 4), "json": (whole, line_of_json), "trajectories": (traj, 1)}


@pytest.mark.parametrize("kind", ["alpaca", "json", "trajectories"])
def test_non_utf8_input_names_file_line_and_byte(bad_inputs: dict, tmp_path: Path, kind: str) -> None:
    path, line = bad_inputs[kind]
    offset = path.read_bytes().index(b"\xff" if kind == "alpaca" else b"\xe9" if kind == "json" else b"\xc3")
    done = sft(tmp_path / "root", "--in", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert str(path) in done.stderr and f"line {line}," in done.stderr
    assert f"byte offset {offset}" in done.stderr and "--skip-bad-lines" in done.stderr
    assert not (tmp_path / "root" / "data").exists()  # nothing written, not even an empty data/

    kept = sft(tmp_path / "root", "--in", str(path), "--skip-bad-lines")
    assert kept.returncode == 0, kept.stderr
    card = json.loads((tmp_path / "root" / "data" / "ordebug" / "card.json").read_text())
    assert card["dropped"]["not_utf8"]["count"] == 1
    assert not any("\ufffd" in json.dumps(r, ensure_ascii=False) for r in all_rows(tmp_path / "root"))


def test_workload_readers_count_non_utf8_lines_without_replacing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b'{"event": "start", "task": "caf\xe9"}\n{"event": "end", "task": "ok"}\n')
    offset = path.read_bytes().index(b"\xe9")
    events, bad = read_events(path)
    assert [e.kind for e in events] == ["end"]
    assert bad == [(1, f"not valid UTF-8 (line 1, byte offset {offset} in the file)")]
    drops: Counter[str] = Counter()
    examples: list[str] = []
    assert [n for n, _ in read_jsonl(path, drops, examples)] == [2]
    assert drops["unreadable_line"] == 1 and f"byte offset {offset}" in examples[0]


# ------------------------------------------------------------------ item 14: modes follow the umask


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask022", "umask002"])
def test_dataset_files_follow_the_umask_and_keep_an_existing_mode(tmp_path: Path, umask: int) -> None:
    trajs = write_trajectories(tmp_path / "t.jsonl", 20)
    old = os.umask(umask)
    try:
        run(tmp_path, [trajs])
        info, data = tmp_path / "dataset_info.json", tmp_path / "data" / "ordebug"

        def mode(p: Path) -> int:
            return stat.S_IMODE(p.stat().st_mode)

        assert mode(info) == 0o666 & ~umask and mode(data) == 0o777 & ~umask
        assert {mode(p) for p in data.iterdir()} == {0o666 & ~umask}
        info.chmod(0o640)
        data.chmod(0o750)
        run(tmp_path, [trajs])  # a re-run keeps what the owner chose
        assert mode(info) == 0o640 and mode(data) == 0o750
    finally:
        os.umask(old)


# ------------------------------------------------------------------ item 15: help that means something


def test_help_shows_no_default_for_flags() -> None:
    text = " ".join(build_parser().format_help().split())
    assert "(default: True)" not in text and "(default: False)" not in text
    assert "(default: None)" not in text
    assert "--no-register write the files but leave dataset_info.json alone --skip-bad-lines" in text
    assert "--cutoff CUTOFF LLaMA-Factory cutoff_len to check against (default: 2048)" in text



def test_a_bad_byte_deep_in_a_trajectory_file_gets_its_one_line_number(tmp_path: Path) -> None:
    """Line 7 once read ':7' and then '(line 1, ...)' (issue 23, probe 11)."""
    lines = write_trajectories(tmp_path / "t.jsonl", 10).read_bytes().splitlines(keepends=True)
    lines[6] = lines[6].replace(b"INFEASIBLE", b"INFEAS\xc3IBLE", 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines))
    offset = bad.read_bytes().index(b"\xc3IBLE")
    done = sft(tmp_path / "root", "--in", str(bad))
    assert done.returncode == 2, done.stderr
    assert f"{bad}:7:" in done.stderr and f"(line 7, byte offset {offset} " in done.stderr
    assert "line 1," not in done.stderr


@pytest.mark.parametrize(("option", "value"), [("--holdout-type", "Z"), ("--holdout-family", "nosuch")])
def test_a_holdout_value_no_sample_has_is_an_error_naming_the_values(shared_data: Path, tmp_path: Path,
                                                                       option: str, value: str) -> None:
    """`--holdout-type Z` and `--holdout-family nosuch` exited 0 without a holdout split (issue 23, probe 10)."""
    trajs = write_trajectories(tmp_path / "t.jsonl", 12)
    done = sft(tmp_path / "root", "--in", str(trajs), option, value)
    assert done.returncode == 2, done.stderr
    assert f"{option} {value}: no sample" in done.stderr and "use one of:" in done.stderr
    assert not (tmp_path / "root" / "data").exists()
