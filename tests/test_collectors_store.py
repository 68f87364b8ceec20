"""The append-only JSONL store: lock, torn-tail repair, resume set, atomic rewrites."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.store import JsonlStore, StoreFormatError, StoreLockedError, StorePathError


def key(record: dict) -> str:
    return record["id"]


def write_lines(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_append_then_resume_sees_done(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    with JsonlStore(out, key) as store:
        store.append({"id": "p1", "x": 1})
        store.append({"id": "p2", "x": 2})
    with JsonlStore(out, key, project=lambda r: r["x"]) as store:
        assert store.done == {"p1", "p2"}
        assert store.kept == [1, 2]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["p1", "p2"]


def test_torn_last_line_is_cut_and_its_unit_is_pending_again(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    write_lines(out, '{"id": "p1"}\n{"id": "p2"}\n{"id": "p3", "steps": [1, 2')
    with JsonlStore(out, key) as store:
        assert store.done == {"p1", "p2"}
        assert store.torn_bytes == len('{"id": "p3", "steps": [1, 2')
        store.append({"id": "p3"})
    lines = out.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["p1", "p2", "p3"]


def test_a_file_that_is_only_a_torn_line_becomes_empty(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    write_lines(out, '{"id": "p1", "unfinished')
    with JsonlStore(out, key) as store:
        assert store.done == set()
    assert out.read_text() == ""


def test_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    with (
        JsonlStore(out, key),
        pytest.raises(StoreLockedError, match=r"another collector \(pid \d+\) is writing this file"),
    ):
        JsonlStore(out, key).open()


def test_lock_holds_across_processes_and_is_released_on_exit(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    code = (
        "import sys; from collectors.store import JsonlStore\n"
        "s = JsonlStore(sys.argv[1], lambda r: r['id']); s.open(); print('locked', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError, match=str(holder.pid)):
            JsonlStore(out, key).open()
    finally:
        holder.kill()  # SIGKILL: the kernel drops the flock with the process
        holder.wait()
    with JsonlStore(out, key) as store:
        assert store.done == set()


def test_invalid_complete_line_names_file_and_line(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    write_lines(out, '{"id": "p1"}\nnot json\n{"id": "p3"}\n')
    with pytest.raises(StoreFormatError, match=r"a\.jsonl:2: not valid JSON"):
        JsonlStore(out, key).open()
    # the failed open released the lock
    with JsonlStore(out, key, overwrite=True) as store:
        assert store.done == set()


def test_duplicate_key_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    write_lines(out, '{"id": "p1"}\n{"id": "p1"}\n')
    with pytest.raises(StoreFormatError, match=r":2: 'p1' appears twice"):
        JsonlStore(out, key).open()


def test_overwrite_starts_afresh(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    write_lines(out, '{"id": "p1"}\n')
    with JsonlStore(out, key, overwrite=True) as store:
        assert store.done == set()
    assert out.read_text() == ""


def failed(record: dict) -> bool:
    return not record["ok"]


def test_retry_replaces_a_failed_line_only_once_its_replacement_is_written(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    write_lines(out, '{"id": "p1", "ok": true}\n{"id": "p2", "ok": false}\n{"id": "p3", "ok": false}\n')
    with JsonlStore(out, key, replaceable=failed, retry=True, project=lambda r: r["ok"]) as store:
        assert store.done == {"p1"} and store.retrying == {"p2", "p3"}
        assert out.read_text().count("\n") == 3  # nothing leaves the file on open
        store.append({"id": "p2", "ok": True})
        assert store.kept == [True, False, True]  # p3 is still there, p2 moved to the end
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # p3 was never replaced (e.g. outside --limit): its line stays
    assert [(r["id"], r["ok"]) for r in lines] == [("p1", True), ("p3", False), ("p2", True)]


def test_a_crash_between_replacement_and_compaction_keeps_the_later_line(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    # what the file holds if the process died after appending p2's replacement, before close
    write_lines(out, '{"id": "p1", "ok": true}\n{"id": "p2", "ok": false}\n{"id": "p2", "ok": true}\n')
    with JsonlStore(out, key, replaceable=failed) as store:
        assert store.done == {"p1", "p2"}
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"id": "p1", "ok": True},
        {"id": "p2", "ok": True},
    ]
    # a successful line is never superseded: two of them is a hand-merged file
    write_lines(out, '{"id": "p1", "ok": true}\n{"id": "p1", "ok": false}\n')
    with pytest.raises(StoreFormatError, match="appears twice"):
        JsonlStore(out, key, replaceable=failed).open()


def test_a_directory_as_output_is_refused_without_a_lock(tmp_path: Path) -> None:
    out = tmp_path / "trajectories"
    out.mkdir()
    with pytest.raises(StorePathError, match="is a directory; the output must be a file"):
        JsonlStore(out, key).open()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trajectories"]


def test_append_refuses_a_key_twice_and_partial_lines(tmp_path: Path) -> None:
    with JsonlStore(tmp_path / "a.jsonl", key) as store:
        store.append({"id": "p1"})
        with pytest.raises(ValueError, match="already in"):
            store.append({"id": "p1"})
        with pytest.raises(ValueError, match="exactly one line"):
            store.append_line('{"id": "p2"}', "p2")
