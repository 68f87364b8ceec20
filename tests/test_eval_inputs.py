"""What eval accepts and what it leaves out: several problem sets, feasible models, bad encodings."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from eval.cli import main
from tests.eval_problems import write_hand_set

QUIET = ["--baselines", "none", "--no-oracle-cost", "--no-progress"]


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_several_problem_sets_are_accepted_like_collect(shared_data, tmp_path) -> None:
    hand = tmp_path / "hand"
    write_hand_set(hand)
    netlib = shared_data / "netlib" / "infeasible" / "itest6.mps"
    out = tmp_path / "out"
    argv = ["--policy", "drop_first", "--problems", str(hand), str(netlib), "--out", str(out), *QUIET]
    assert main(argv) == 0
    res = results(out)
    assert sorted(ep["problem_id"] for ep in res["episodes"]) == ["itest6", "one_conflict", "two_conflicts"]
    assert res["config"]["problems"]["spec"] == f"{hand} {netlib}"


def test_a_feasible_model_is_listed_apart_and_kept_out_of_every_metric(shared_data, tmp_path, capsys) -> None:
    folder = tmp_path / "lps"
    folder.mkdir()
    for path in (
        shared_data / "netlib" / "feasible" / "afiro.mps",
        shared_data / "netlib" / "infeasible" / "itest6.mps",
    ):
        shutil.copy(path, folder)
    out = tmp_path / "out"
    assert main(["--policy", "drop_first", "--problems", str(folder), "--out", str(out), *QUIET]) == 0
    res = results(out)
    assert [ep["problem_id"] for ep in res["episodes"]] == ["itest6"]
    assert res["skipped"] == [
        {"problem_id": "afiro", "source": res["skipped"][0]["source"], "reason": "feasible_at_reset"}
    ]
    assert res["summary"]["n"] == 1 and res["samples"]["effective"] == 1 and res["samples"]["skipped"] == 1
    itest6 = res["episodes"][0]["metrics"]["rr@5"]
    assert res["summary"]["rr@5"] == itest6  # afiro's free "recovery" is not averaged in
    assert "| afiro | feasible_at_reset |" in re.sub(" +", " ", (out / "report.md").read_text(encoding="utf-8"))
    assert "already OPTIMAL at reset" in capsys.readouterr().err

    only_feasible = tmp_path / "feasible"
    only_feasible.mkdir()
    shutil.copy(shared_data / "netlib" / "feasible" / "afiro.mps", only_feasible)
    assert (
        main(
            [
                "--policy",
                "drop_first",
                "--problems",
                str(only_feasible),
                "--out",
                str(tmp_path / "o2"),
                *QUIET,
            ]
        )
        == 2
    )
    assert "every problem is already OPTIMAL at reset" in capsys.readouterr().err
    assert not (tmp_path / "o2" / "results.json").exists()


def test_a_predictions_file_that_is_not_utf8_names_the_line_and_byte(tmp_path, capsys) -> None:
    path = tmp_path / "preds.jsonl"
    first = b'{"predict": "Action: SUBMIT()"}\n'
    before = b'{"predict": "caf'
    path.write_bytes(first + before + b'\xe9"}\n')  # Latin-1 "é", as a Windows editor may save it
    assert main(["--predictions", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:2: not UTF-8 text (byte {len(first) + len(before)} of the file")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "results.json").exists()
