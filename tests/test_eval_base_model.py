"""`python -m eval --base-model PATH`: a local model with no training run (the untrained baseline).

The options are validated before anything loads: each mistake is one line on stderr and exit 2.
Playing a real base model end to end is exercised by tests/test_demo.py (the demo's untrained row).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.cli import main


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_missing_model_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-model"
    assert main(["--base-model", str(missing), "--problems", str(tmp_path)]) == 2
    err = _error(capsys)
    assert str(missing) in err and "config.json" in err and "make tiny-model" in err


def test_folder_without_config_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(b"")
    assert main(["--base-model", str(tmp_path / "model")]) == 2
    assert "no model folder there" in _error(capsys)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--run", "runs/x"], "--run"),
        (["--policy", "heuristic"], "--policy"),
        (["--predictions", "p.jsonl"], "--predictions"),
        (["--tool-calls", "c.jsonl"], "--tool-calls"),
    ],
)
def test_base_model_goes_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "qwen3"}))
    assert main(["--base-model", str(model), *extra]) == 2
    err = _error(capsys)
    assert "--base-model" in err and named in err


def test_template_needs_base_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--policy", "heuristic", "--template", "qwen3_think"]) == 2
    assert "--template goes with --base-model" in _error(capsys)


def test_base_model_limits_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    assert main(["--base-model", str(model), "--max-steps", "0"]) == 2
    assert "--max-steps" in _error(capsys)


def test_help_lists_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--base-model PATH" in out and "--template" in out
