"""`python -m demo`: the whole chain, as the CLIs a user types, on the CPU.

The slow test runs `python -m demo --quick --out <tmp>` end to end (tiny model, benchmark,
heuristic + oracle trajectories, grouped splits, tiny_cpu_sft training, five evaluations, report)
and checks what a user would look at: every artefact is there, REPORT.md's headline numbers are
the ones in the results.json files, the held-out problems are the card's test split, and the
repository's own dataset_info.json is untouched.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from demo.cli import main
from demo.report import EVALUATIONS, HEADLINE, fmt


def test_refuses_the_repository_root(repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out . would put the demo's dataset_info.json over the repository's own."""
    assert main(["--out", str(repo_root)]) == 1
    err = capsys.readouterr().err
    assert "repository root" in err and "demo failed" in err


def test_failed_step_names_step_and_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A step that fails stops the demo with one line naming the step and its command."""
    from demo import cli as demo

    step = demo.Step("generate a benchmark", [demo.py("ordebug.generate", "--n", "3")])  # no --out: exit 2
    with pytest.raises(demo.StepFailed) as info:
        demo.run_step(2, 7, step, 0.0, keep=False)
    msg = str(info.value)
    assert "step 2/7 (generate a benchmark)" in msg
    assert "`python -m ordebug.generate --n 3` exited with status 2" in msg


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _headline_rows(report: str) -> dict[str, list[str]]:
    """The rows of the first table (the one whose header starts with 'evaluation')."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| evaluation "))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path: Path, repo_root: Path) -> None:
    info = repo_root / "dataset_info.json"
    before = _sha(info) if info.exists() else None
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--quick", "--out", str(out)],
        cwd=repo_root,
        capture_output=True,
        check=False,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (_sha(info) if info.exists() else None) == before, (
        "the demo changed the repository's dataset_info.json"
    )

    # numbered steps with the elapsed time and the steps left, and where the report is
    headers = re.findall(
        r"^=== \[(\d)/7\] .*\(elapsed \d+:\d\d, (\d) of 7 steps left\)$", proc.stdout, flags=re.MULTILINE
    )
    assert headers == [(str(i), str(8 - i)) for i in range(1, 8)]
    assert proc.stdout.rstrip().endswith(f"open {out / 'REPORT.md'}")

    # artefacts
    for name in EVALUATIONS:
        assert (out / "eval" / name / "results.json").is_file()
        assert (out / "eval" / name / "report.md").is_file()
    for path in ("REPORT.md", "headline.png", "eval/summary.md", "eval/summary.csv", "dataset_info.json"):
        assert (out / path).is_file(), path
    assert json.loads((out / "runs" / "tiny" / "manifest.json").read_text())["status"] == "finished"

    # every policy played exactly the card's held-out test problems
    card = json.loads((out / "data" / "ordebug" / "card.json").read_text())
    test_ids = sorted(card["splits"]["test"]["problem_ids"])
    results = {n: json.loads((out / "eval" / n / "results.json").read_text()) for n in EVALUATIONS}
    for name, res in results.items():
        assert sorted(ep["problem_id"] for ep in res["episodes"]) == test_ids, name
    train_ids = set(card["splits"]["train"]["problem_ids"])
    assert not train_ids & set(test_ids)

    # the untrained row is the base model played through --base-model; the trained row is the run
    assert results["untrained"]["policy"] == "base:tiny-qwen3-demo"
    assert results["untrained"]["config"]["base_model"] == str(repo_root / "models" / "tiny-qwen3-demo")
    assert results["trained"]["config"]["run"]["path"] == str(out / "runs" / "tiny")

    # the headline numbers are the results.json numbers
    report = (out / "REPORT.md").read_text()
    rows = _headline_rows(report)
    assert list(rows) == list(EVALUATIONS)
    for name, cells in rows.items():
        summary = results[name]["summary"]
        assert cells[2 : 2 + len(HEADLINE)] == [fmt(summary[key]) for key, _ in HEADLINE], name
    before_fmt = fmt(results["untrained"]["summary"]["format_ok"])
    after_fmt = fmt(results["trained"]["summary"]["format_ok"])
    headline = next(line for line in report.splitlines() if line.startswith("**Headline.**"))
    assert before_fmt in headline and after_fmt in headline

    # --keep reuses every finished step (5 of 7: the tiny model and the report always run) and
    # rebuilds the same report from the same results
    again = subprocess.run(
        [sys.executable, "-m", "demo", "--quick", "--keep", "--out", str(out)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("kept: its outputs are already there (--keep)") == 5
    assert _headline_rows((out / "REPORT.md").read_text()) == rows


def test_report_shows_the_cards_grounding_line() -> None:
    """REPORT.md's setup shows the dataset card's grounding summary when the card has one, and says
    plainly that an older card does not report it (never a made-up share)."""
    from demo.report import grounding_line

    card = {
        "grounding": {
            "numbers_total": 200,
            "numbers_grounded": 150,
            "numbers_grounded_share": 0.75,
            "samples_total": 40,
            "samples_grounded": 10,
            "samples_grounded_share": 0.25,
            "warning": "only 25% of samples are fully grounded",
        }
    }
    line = grounding_line(card)
    assert line.startswith("grounding: numbers 75.0% (150/200), samples fully grounded 25.0% (10/40)")
    assert "warning: only 25% of samples are fully grounded" in line
    assert grounding_line({"splits": {}}) == "grounding: not reported by this card"


def test_demo_shape_is_its_own_model(tmp_path: Path) -> None:
    """`recipes.tiny_model --shape demo` builds the demo's 4-layer model; its stamp tells it apart from
    the tests' 2-layer tiny model, so neither folder is ever reused as the other."""
    from recipes.tiny_model import DEMO_CONFIG, TINY_CONFIG, is_built
    from recipes.tiny_model import main as build_main

    out = tmp_path / "tiny-qwen3-demo"
    assert build_main(["--shape", "demo", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (4, 64)
    assert config["vocab_size"] == TINY_CONFIG["vocab_size"]  # same vocabulary and tokenizer
    assert (out / "tokenizer.json").is_file()
    assert is_built(out, 0, DEMO_CONFIG) and not is_built(out, 0, TINY_CONFIG)
    assert TINY_CONFIG["num_hidden_layers"] == 2  # what the other tests build by default


def test_the_card_counts_samples_against_the_cutoff_the_demo_trains_with() -> None:
    """The convert step's --cutoff is demo_cpu_sft's cutoff_len, so the card's "over cutoff" count is
    the number of samples LLaMA-Factory will cut; and the recipe computes logits at labels only."""
    from demo.cli import DEMO_CUTOFF, FULL, RECIPE
    from recipes.recipe import load_recipe

    recipe = load_recipe(RECIPE)
    assert recipe.args["cutoff_len"] == DEMO_CUTOFF
    assert recipe.args["max_steps"] == FULL.train_steps
    assert recipe.logits_on_labels_only
