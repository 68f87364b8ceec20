"""A study file is checked like a recipe before anything trains: every problem at once, file:line, did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.cli import main
from studies.spec import STUDIES_DIR, read_study
from tests.recipe_helpers import write_dataset_dir


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def tiny_env(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`overrides:` pointing every cell at a tiny model and a small registered dataset."""
    from recipes.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("study_env")
    tiny = build_tiny_model(root / "tiny")
    data = write_dataset_dir(shared_data, root / "ds", n=4)
    return f"overrides: {{model_name_or_path: {tiny}, dataset_dir: {data}}}\n"


def test_bad_input_is_reported_all_at_once_with_file_line_before_anything_trains(
        tmp_path: Path, tiny_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    path = _write(tmp_path, f"""\
baseline: tiny_cpu_sft
variants:
  - tiny_cpu_sf
  - name: fast
    recipe: tiny_cpu_sft
    overrides: {{lora_rnk: 8}}
  - name: fast
    recipe: tiny_cpu_sft
seeds: [0, 1]
problems: {tmp_path / 'nowhere'}
metrics: [rr@5, da_iss]
out: {out}
evals: {{}}
""" + tiny_env)
    assert main(["--study", str(path)]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("  - ")]
    assert "has 6 problems (nothing was trained)" in err, err
    expect = [
        ("study.yaml:3: variants.0.recipe: no recipe named 'tiny_cpu_sf'", "did you mean tiny_cpu_sft"),
        ("study.yaml:6: variants.1.overrides.lora_rnk: not a recipe key", "did you mean lora_rank?"),
        ("study.yaml:7: name: two arms are named 'fast' (first at", "give one of them its own `name:`"),
        ("study.yaml:10: problems:", "does not exist; fix: generate it (make generate OUT="),
        ("study.yaml:11: metrics.1: unknown metric 'da_iss'", "did you mean da_iis"),
        ("study.yaml:13: evals: unknown key", "did you mean eval"),
    ]
    for head, fix in expect:
        assert any(head in ln and fix in ln for ln in lines), f"missing {head!r} ... {fix!r} in:\n{err}"
    assert not out.exists()


def test_unknown_study_name_lists_close_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--study", "rnak"]) == 2
    err = capsys.readouterr().err
    assert "no study named 'rnak'" in err and "did you mean rank" in err


def test_the_study_owns_seed_and_output_dir(tmp_path: Path) -> None:
    path = _write(tmp_path, f"baseline: tiny_cpu_sft\nvariants: [{{recipe: tiny_cpu_sft, name: b, overrides: "
                            f"{{seed: 3}}}}]\nproblems: {tmp_path}\nseeds: [1, 1]\n")
    _, problems = read_study(str(path))
    text = "\n".join(map(str, problems))
    assert "variants.0.overrides.seed: set by the study for every cell" in text
    assert "seeds: a seed is listed twice" in text


@pytest.mark.parametrize("path", sorted(STUDIES_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_studies_read_cleanly_but_for_their_generated_problem_sets(path: Path) -> None:
    study, problems = read_study(str(path))
    assert study is not None and study.variants
    assert all(p.key == "problems" for p in problems), problems  # problems are generated, not shipped


def test_dry_run_validates_every_cell_and_prints_the_plan(
        tmp_path: Path, tiny_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "problems").mkdir()
    out = tmp_path / "out"
    path = _write(tmp_path, f"""\
baseline: tiny_cpu_sft
variants:
  - {{name: lr3e-3, recipe: tiny_cpu_sft, overrides: {{learning_rate: 3.0e-3}}}}
seeds: [0, 1]
problems: {tmp_path / 'problems'}
out: {out}
""" + tiny_env)
    assert main(["--study", str(path), "--dry-run", "--gpus", "0,1"]) == 0
    text = capsys.readouterr().out
    assert "2 arms x 2 seeds = 4 cells, 4 to run" in text
    for cell in ("tiny_cpu_sft/seed0", "tiny_cpu_sft/seed1", "lr3e-3/seed0", "lr3e-3/seed1"):
        assert any(cell in ln and "train+eval" in ln and "new" in ln for ln in text.splitlines()), text
    assert "4 cell(s) needing <=1 GPU run one per GPU on 0,1" in text
    assert "dry run OK: 4 cells validated; nothing was trained" in text
    assert not out.exists()
