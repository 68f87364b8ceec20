"""A failed cell is reported with its error and does not stop the others (fast: the real eval CLI fails
before any model loads)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_problems import write_hand_set

from studies.cells import EVAL_STAMP, make_cells
from studies.runner import run_cells
from studies.spec import load_study


def test_a_failed_cell_is_reported_and_the_others_go_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_hand_set(tmp_path / "bench")
    study_file = tmp_path / "s.yaml"
    study_file.write_text(f"baseline: tiny_cpu_sft\nvariants: [{{name: b, recipe: tiny_cpu_sft}}]\n"
                          f"seeds: [0]\nproblems: {tmp_path / 'bench'}\nout: {tmp_path / 'out'}\n")
    study = load_study(str(study_file))
    broken, kept = make_cells(study)
    # a run directory whose dataset has no card: `python -m eval --run` refuses it before loading a model
    broken.run_dir.mkdir(parents=True)
    (broken.run_dir / "recipe.resolved.yaml").write_text("dataset: nocard\ndataset_dir: .\n")
    broken.train, broken.evaluate, broken.why = "reuse", "run", "not evaluated yet"
    kept.train, kept.evaluate = "reuse", "reuse"
    failed, reused = run_cells(study, [broken, kept])
    assert (failed.state, reused.state) == ("failed", "reused")
    assert failed.error is not None and failed.error.startswith("evaluation exited 2: error: no card.json")
    assert str(broken.log("eval")) in failed.error
    assert not (broken.eval_dir / EVAL_STAMP).exists()  # never marked done
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[0/2] tiny_cpu_sft/seed0: evaluate (not evaluated yet)"
    assert out[1].startswith("[1/2] tiny_cpu_sft/seed0: failed in 0:") and "no card.json" in out[1]
    assert out[2].startswith("[2/2] b/seed0: reused in 0:00")


def test_with_gpus_single_gpu_cells_share_them_and_multi_gpu_cells_follow(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_hand_set(tmp_path / "bench")
    study_file = tmp_path / "s.yaml"
    study_file.write_text(f"baseline: tiny_cpu_sft\nvariants: [{{name: b, recipe: tiny_cpu_sft}}]\n"
                          f"seeds: [0, 1]\nproblems: {tmp_path / 'bench'}\nout: {tmp_path / 'out'}\n")
    study = load_study(str(study_file))
    cells = make_cells(study)
    for cell in cells:  # every cell's evaluation fails fast (no dataset card)
        cell.run_dir.mkdir(parents=True)
        (cell.run_dir / "recipe.resolved.yaml").write_text("dataset: nocard\ndataset_dir: .\n")
        cell.train, cell.evaluate, cell.why = "reuse", "run", "x"
    cells[2].gpus = 2  # b/seed0 needs both GPUs: it runs after the others, on all of them
    outcomes = run_cells(study, cells, ["0", "1"])
    assert [o.state for o in outcomes] == ["failed"] * 4
    starts = [ln for ln in capsys.readouterr().out.splitlines() if ln.endswith("(x)")]
    assert len(starts) == 4 and "b/seed0: evaluate on GPU 0,1 (x)" in starts[-1]
    assert sorted(ln.split(" on GPU ")[1] for ln in starts[:2]) == ["0 (x)", "1 (x)"]
