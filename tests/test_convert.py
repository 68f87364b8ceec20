"""converters.sft: trajectories and OR-Debug-Bench's legacy SFT files -> LLaMA-Factory datasets.

Real inputs: the legacy SFT files (tests/data/legacy_sft), trajectories built with the real
observation renderer and action grammar (tests.support.synthetic), the real Qwen3 tokenizer.
The LLaMA-Factory loading proof is in test_convert_llamafactory.py.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from converters.core.errors import ConvertError, RegistryError
from converters.core.registry import (
    alpaca_entry,
    load_dataset_info,
    messages_entry,
    register_datasets,
    unregister_datasets,
    validate_entry,
)
from converters.core.samples import Sample, make_meta
from converters.core.split import split_of
from converters.sft.checks import check_answer, token_counter
from converters.sft.pipeline import ConvertOptions, convert
from converters.sft.sources import ReadStats
from converters.sft.trajectories import trajectory_samples
from converters.sft.writer import jsonl_lines, to_row
from ordebug.answer import format_answer, parse_answer
from ordebug.observation import ObservationState, render
from ordebug.prompts import (
    INSTRUCTION,
    SYSTEM_PROMPT_CORE,
    SYSTEM_PROMPT_EXTENDED,
    SYSTEM_PROMPT_RICH,
    user_message,
)
from ordebug.trajectory import Trajectory
from tests.support.synthetic import synthetic_trajectory, write_trajectories

REPO = Path(__file__).resolve().parents[1]


def legacy(shared_data: Path, name: str = "sft_gpt52chat.json") -> Path:
    return shared_data / "legacy_sft" / name


def run(root: Path, inputs: list, **kw) -> dict:
    kw.setdefault("length_check", False)
    return convert(ConvertOptions(inputs=[str(p) for p in inputs], root=root, progress=False, **kw))


def rows(root: Path, name: str = "ordebug") -> dict[str, list[dict]]:
    out = {}
    for path in sorted((root / "data" / name).glob("*.jsonl")):
        out[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return out


def all_rows(root: Path, name: str = "ordebug") -> list[dict]:
    return [r for split in rows(root, name).values() for r in split]


def write_trajs(path: Path, trajs: list[Trajectory]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(t.to_json_line() for t in trajs), encoding="utf-8")
    return path


# ------------------------------------------------------------------ OR-Debug-Bench's legacy files


def test_legacy_alpaca_round_trips_every_sample(shared_data: Path, tmp_path: Path) -> None:
    original = json.loads(legacy(shared_data).read_text(encoding="utf-8"))["data"]
    card = run(tmp_path, [legacy(shared_data)])
    out = all_rows(tmp_path)
    assert len(out) == len(original) == card["total"]["samples"] > 0
    assert Counter((r["instruction"], r["input"], r["output"]) for r in out) == Counter(
        (r["instruction"], r["input"], r["output"]) for r in original
    )
    by_id = {r["metadata"]["problem_id"]: r for r in out}
    for sample in original:
        meta, got = sample["metadata"], by_id[sample["metadata"]["problem_id"]]["metadata"]
        assert (got["error_type"], got["difficulty"], got["steps"], got["step"], got["agent"]) == (
            meta["error_type"],
            meta["difficulty"],
            meta["steps"],
            meta["steps"],
            meta["agent"],
        )
        assert got["source"] == "legacy" and got["layout"] == "legacy"
    assert {r["system"] for r in out} == {SYSTEM_PROMPT_CORE}
    # DROP_CONSTRAINT(c, 0.0) and UPDATE_BOUNDS(x, lb) are read leniently: 26 in the full data
    not_strict = sum(parse_answer(r["output"]).action is None for r in original)
    assert card["dropped"] == {} and card["lenient_actions"] == not_strict > 0
    first = original[0]["metadata"]["problem_id"]
    assert card["problem_sources"][first].endswith(f"legacy_sft/models/{first}.mps")


def test_legacy_messages_are_resplit_to_the_one_join_rule(shared_data: Path, tmp_path: Path) -> None:
    alpaca = {r["metadata"]["problem_id"]: r for r in json.loads(legacy(shared_data).read_text())["data"]}
    originals = [
        json.loads(line)["messages"] for line in legacy(shared_data, "sft_qwen_chat.val.jsonl").open()
    ]
    assert all(m[1]["content"].startswith(INSTRUCTION + "\n\n") for m in originals)  # the old join

    run(tmp_path, [legacy(shared_data, "sft_qwen_chat.val.jsonl")], format="sharegpt")
    out = all_rows(tmp_path)
    assert len(out) == 78
    for row in out:
        system, user, assistant = row["messages"]
        src = alpaca[row["metadata"]["problem_id"]]
        assert system == {"role": "system", "content": SYSTEM_PROMPT_CORE}
        assert user["content"] == INSTRUCTION + "\n" + src["input"] == user_message(src["input"])
        assert assistant["content"] == src["output"]
        assert row["metadata"]["error_type"] == "A"


def test_legacy_files_mix_and_duplicates_are_dropped_once(shared_data: Path, tmp_path: Path) -> None:
    card = run(tmp_path, [legacy(shared_data), legacy(shared_data, "sft_qwen_chat.val.jsonl")])
    assert card["total"]["samples"] == len(json.loads(legacy(shared_data).read_text())["data"])
    assert card["dropped"]["duplicate"]["count"] == 78  # every messages sample is also in the Alpaca file
    assert {i["kind"] for i in card["inputs"]} == {"alpaca", "messages"}


# ------------------------------------------------------------------ trajectories -> step samples


def test_each_step_of_a_successful_trajectory_is_one_sample(tmp_path: Path) -> None:
    trajs = [synthetic_trajectory(i, n_steps=3, success=i % 4 != 0) for i in range(40)]
    path = write_trajs(tmp_path / "trajectories" / "teacher.jsonl", trajs)
    card = run(tmp_path, [])  # no --in: trajectories/*.jsonl under the root, as make convert does
    assert card["inputs"][0]["path"] == str(path)
    by_key = {(r["metadata"]["problem_id"], r["metadata"]["step"]): r for r in all_rows(tmp_path)}
    expected = [(t, s) for t in trajs if t.outcome.success for s in t.steps]
    assert len(by_key) == len(expected) == 30 * 3
    for traj, step in expected:
        row = by_key[(traj.problem_id, step.index)]
        assert row["output"] == format_answer(step.reasoning, step.action)
        assert row["output"].startswith("<think>\n") and "\n</think>\n\nAction: " in row["output"]
        assert row["input"] == step.observation and row["instruction"] == INSTRUCTION
        meta = row["metadata"]
        assert meta["steps"] == 3 and meta["agent"] == "teacher:synthetic" and meta["source"] == "teacher"
        assert meta["error_type"] == traj.problem["error_type"] and meta["success"] is True
    assert card["dropped"]["trajectory_failed"]["count"] == 10

    card = run(tmp_path, [path], keep_failures=True)
    assert card["total"]["samples"] == 120
    assert sum(not r["metadata"]["success"] for r in all_rows(tmp_path)) == 30


def test_a_relative_root_is_taken_from_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    # `python -m converters.sft --root demo` from the repo root: files land in demo/data/<name>/ and
    # demo/dataset_info.json names them relative to demo/, as LLaMA-Factory's dataset_dir "demo" reads them.
    trajs = [synthetic_trajectory(i, n_steps=2, success=True) for i in range(12)]
    write_trajs(tmp_path / "demo" / "trajectories" / "heuristic.jsonl", trajs)
    monkeypatch.chdir(tmp_path)
    run(Path("demo"), [])
    info = json.loads((tmp_path / "demo" / "dataset_info.json").read_text())
    assert info["ordebug_train"]["file_name"] == "data/ordebug/train.jsonl"
    assert (tmp_path / "demo" / "data" / "ordebug" / "train.jsonl").is_file()


def test_steps_without_action_or_with_bad_reasoning_are_counted_not_trained(tmp_path: Path) -> None:
    traj = synthetic_trajectory(1, n_steps=4, success=True)
    traj.steps[0].action, traj.steps[0].parse_error = None, "no action line"
    traj.steps[1].reasoning = "<think>nested</think>"
    traj.steps[2].reasoning = " \n "
    card = run(tmp_path, [write_trajs(tmp_path / "t.jsonl", [traj, synthetic_trajectory(2, success=True)])])
    assert card["dropped"]["step_without_action"]["count"] == 1
    assert card["dropped"]["reasoning_has_tags"]["count"] == 1
    assert card["dropped"]["think_empty"]["count"] == 1
    assert [
        r["metadata"]["step"] for r in all_rows(tmp_path) if r["metadata"]["problem_id"] == traj.problem_id
    ] == [4]


def test_trajectory_answers_carry_the_verdict_check_answer_gives() -> None:
    stats = ReadStats()
    for i in range(60):
        traj = synthetic_trajectory(i, success=True)
        traj.steps[-1].reasoning = ["  padded  ", "Action: DROP_CONSTRAINT(c1) inside think", "x"][i % 3]
        for sample in trajectory_samples(traj, where="t", layout=None, keep_failures=False, stats=stats):
            assert sample.verdict == check_answer(sample.output)


def test_rich_layout_is_rendered_from_the_step_state(shared_data: Path, tmp_path: Path) -> None:
    trajs = [synthetic_trajectory(i, layout="legacy", success=True) for i in range(10)]
    path = write_trajs(tmp_path / "t.jsonl", trajs)
    card = run(tmp_path, [path], layout="rich")
    assert card["layout"] == "rich" and card["system"] == SYSTEM_PROMPT_RICH
    states = {(t.problem_id, s.index): s.state for t in trajs for s in t.steps}
    out = all_rows(tmp_path)
    assert {(r["metadata"]["problem_id"], r["metadata"]["step"]) for r in out} == set(states)  # every step, once
    assert len(out) == len(states)
    for row in out:
        state = states[(row["metadata"]["problem_id"], row["metadata"]["step"])]
        assert row["input"] == render(ObservationState.model_validate(state), "rich")
        assert row["system"] == SYSTEM_PROMPT_RICH and row["metadata"]["layout"] == "rich"
    with pytest.raises(ConvertError, match="only be converted with --layout legacy"):
        run(tmp_path, [legacy(shared_data)], layout="rich", name="bad")
    assert not (tmp_path / "data" / "bad").exists()


# ------------------------------------------------------------------ splits: grouped, deterministic


def _split_of_problems(root: Path) -> dict[str, set[str]]:
    where: dict[str, set[str]] = {}
    for split, split_rows in rows(root).items():
        for r in split_rows:
            where.setdefault(r["metadata"]["problem_id"], set()).add(split)
    return where


def test_split_is_grouped_by_problem_and_deterministic(tmp_path: Path) -> None:
    a = tmp_path / "in" / "a.jsonl"
    b = tmp_path / "in" / "b.jsonl"
    write_trajectories(a, 150, success=True)
    write_trajectories(b, 150, start=150, success=True, agent="heuristic")
    card = run(tmp_path, [a, b])
    where = _split_of_problems(tmp_path)
    assert all(len(s) == 1 for s in where.values()), "a problem straddles splits"
    assert len(where) == 300 and sum(len(t) > 1 for t in rows(tmp_path).values()) == 3
    for pid, (split,) in where.items():
        assert split == split_of(pid, seed=0, val=0.1, test=0.1)  # recomputable from the id alone
    assert set(card["splits"]["test"]["problem_ids"]) == {p for p, s in where.items() if s == {"test"}}
    assert 10 <= card["splits"]["test"]["problems"] <= 50 and 10 <= card["splits"]["val"]["problems"] <= 50
    hashes = {n: s["sha256"] for n, s in card["splits"].items()}

    again = run(tmp_path, [a, b])
    assert {n: s["sha256"] for n, s in again["splits"].items()} == hashes  # same seed, same bytes
    run(tmp_path, [b, a])  # input order changes row order, never a problem's split
    assert _split_of_problems(tmp_path) == where
    run(tmp_path, [a, b], seed=1)
    assert _split_of_problems(tmp_path) != where


def test_tiny_inputs_still_get_val_and_test(tmp_path: Path) -> None:
    card = run(
        tmp_path,
        [write_trajs(tmp_path / "t.jsonl", [synthetic_trajectory(i, success=True) for i in range(4)])],
    )
    assert all(card["splits"][s]["problems"] >= 1 for s in ("train", "val", "test"))
    assert card["split_notes"]


def test_holdout_by_error_type_and_family(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_trajectories(path, 90, success=True)
    card = run(tmp_path, [path], holdout_types=["f"])
    out = rows(tmp_path)
    assert {r["metadata"]["error_type"] for r in out["holdout"]} == {"F"}
    assert all(r["metadata"]["error_type"] != "F" for s in ("train", "val", "test") for r in out[s])
    assert "ordebug_holdout" in load_dataset_info(tmp_path) and card["splits"]["holdout"]["problems"] == 10

    run(tmp_path, [path], holdout_families=["knapsack"])
    out = rows(tmp_path)
    assert {r["metadata"]["family"] for r in out["holdout"]} == {"knapsack"}
    run(tmp_path, [path])
    assert "ordebug_holdout" not in load_dataset_info(tmp_path)  # stale entries are removed


def test_mixing_weights_and_caps(shared_data: Path, tmp_path: Path) -> None:
    teacher = tmp_path / "teacher.jsonl"
    write_trajectories(teacher, 60, success=True, n_steps=2)
    n_legacy = len(json.loads(legacy(shared_data).read_text())["data"])
    card = run(tmp_path, [teacher, legacy(shared_data)], caps={"legacy": 100}, weights={"teacher": 2.0})
    assert card["total"]["by_source"]["legacy"] == 100
    out = rows(tmp_path)
    teacher_train = [r for r in out["train"] if r["metadata"]["source"] == "teacher"]
    n_teacher_problems = card["splits"]["train"]["by_source"]["teacher"] // 4
    assert len(teacher_train) == 4 * n_teacher_problems  # 2 steps x 2 copies, in train only
    for split in ("val", "test"):
        keys = [(r["input"], r["output"]) for r in out[split]]
        assert len(keys) == len(set(keys))
    assert card["dropped"]["mix_cap"]["count"] == n_legacy - 100

    card = run(tmp_path, [legacy(shared_data)], weights={"legacy": 0.25})
    assert card["total"]["samples"] == round(0.25 * n_legacy)
    with pytest.raises(ConvertError, match="source 'oracle'"):
        run(tmp_path, [legacy(shared_data)], caps={"oracle": 5})


def test_the_order_episodes_finished_in_does_not_change_the_dataset(tmp_path: Path) -> None:
    """Collectors append episodes as they finish; the same episodes in another order must give the
    same files (the demo trained differently from run to run before)."""
    collected = tmp_path / "collected.jsonl"
    write_trajectories(collected, 12, success=True, n_steps=2)
    lines = collected.read_text(encoding="utf-8").splitlines(keepends=True)
    reordered = tmp_path / "reordered.jsonl"
    reordered.write_text("".join(lines[1::2] + lines[0::2][::-1]), encoding="utf-8")
    run(tmp_path / "a", [collected])
    run(tmp_path / "b", [reordered])
    files = sorted(p.name for p in (tmp_path / "a" / "data" / "ordebug").glob("*.jsonl"))
    assert files
    def rows_without_origin(root: Path, name: str) -> list[dict]:  # origin names the file and line
        out = [json.loads(x) for x in (root / "data" / "ordebug" / name).read_text(encoding="utf-8").splitlines()]
        for row in out:
            row["metadata"].pop("origin")
        return out

    for name in files:
        assert rows_without_origin(tmp_path / "a", name) == rows_without_origin(tmp_path / "b", name), name


def test_a_source_mixed_at_zero_does_not_take_the_samples_it_shares(tmp_path: Path) -> None:
    """`--mix heuristic=0` with the heuristic first: its copy of a sample the oracle also wrote
    must not win the dedup and then be left out (the demo lost every first step that way)."""
    shared = tmp_path / "shared.jsonl"
    write_trajectories(shared, 12, success=True, n_steps=2)
    alone = run(tmp_path / "alone", [f"oracle={shared}"])
    card = run(tmp_path / "mixed", [f"heuristic={shared}", f"oracle={shared}"], weights={"heuristic": 0})
    assert card["total"]["samples"] == alone["total"]["samples"] > 0
    assert set(card["total"]["by_source"]) == {"oracle"}
    assert card["dropped"]["duplicate"]["count"] == alone["total"]["samples"]  # the heuristic's copies


# ------------------------------------------------------------------ bad input


def test_bad_lines_name_file_and_line_and_write_nothing(shared_data: Path, tmp_path: Path) -> None:
    good = synthetic_trajectory(1, success=True).to_json_line()
    info_before = {"other_dataset": alpaca_entry("data/other.jsonl")}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "other.jsonl").write_text("{}\n")
    register_datasets(info_before, root=tmp_path)
    cases = {
        "broken.jsonl": (good + "{not json\n", r"broken.jsonl:2: not valid JSON"),
        "schema.jsonl": (
            good + good.replace('"schema": 1', '"schema": 99'),
            r"schema.jsonl:2: unknown trajectory schema 99",
        ),
        "field.jsonl": (good.replace('"agent": "teacher:synthetic", ', ""), r"field.jsonl:1: field 'agent'"),
        "empty.jsonl": ("", r"empty.jsonl is empty"),
        "blank.jsonl": ("\n\n", r"blank.jsonl is empty"),
        "alpaca.json": (
            json.dumps({"data": [{"instruction": "i", "output": "o"}, {"instruction": "i"}]}),
            r"alpaca.json:data\[1\]: key 'output' is missing",
        ),
        "meta.json": (
            json.dumps([{"instruction": "i", "output": "o", "metadata": {"step": "two"}}]),
            r"meta.json:\[0\]: metadata: invalid literal",
        ),
        "nodata.json": (json.dumps({"metadata": {}, "data": []}), r"holds no samples"),
        "msgs.jsonl": (
            '{"messages": [{"role": "user", "content": "u"}]}\n',
            r"msgs.jsonl:1: expected \[system,\] user, assistant",
        ),
        "other.txt": ("x", r"unsupported file type"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConvertError, match=message):
            run(tmp_path, [legacy(shared_data), path])
        assert not (tmp_path / "data" / "ordebug").exists(), name
        assert load_dataset_info(tmp_path) == info_before, name
    with pytest.raises(ConvertError, match="does not exist"):
        run(tmp_path, [tmp_path / "missing.jsonl"])
    with pytest.raises(ConvertError, match="no inputs"):
        run(tmp_path, [])


def test_cli_reports_one_line_and_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schema": 1}\n{oops\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "converters.sft",
            "--in",
            str(bad),
            "--no-length-check",
            "--quiet",
            "--root",
            str(tmp_path),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"{bad}:1" in lines[0]
    assert (
        subprocess.run(
            [sys.executable, "-m", "converters.sft", "--help"], check=False, capture_output=True, cwd=REPO
        ).returncode
        == 0
    )


def test_skip_bad_lines_counts_them_and_a_torn_tail_is_skipped(tmp_path: Path) -> None:
    good = [synthetic_trajectory(i, success=True).to_json_line() for i in range(5)]
    path = tmp_path / "t.jsonl"
    path.write_text(good[0] + "{bad\n" + "".join(good[1:]) + good[0][:50], encoding="utf-8")  # torn last line
    with pytest.raises(ConvertError, match=":2:"):
        run(tmp_path, [path])
    card = run(tmp_path, [path], skip_bad_lines=True)
    assert card["dropped"]["bad_line"]["count"] == 1 and card["dropped"]["bad_line"]["examples"] == [
        f"{path}:2"
    ]
    assert card["dropped"]["torn_tail"]["count"] == 1
    assert (
        card["splits"]["train"]["problems"]
        + card["splits"]["val"]["problems"]
        + card["splits"]["test"]["problems"]
        == 5
    )


# ------------------------------------------------------------------ checks


ANSWERS = {
    "<think>\nok\n</think>\n\nAction: GET_IIS()": (True, None, False),
    "<think>\nok\n</think>\n\nAction: DROP_CONSTRAINT(c_key_lower, 0.0)": (True, None, True),
    "<think>\nok\n</think>\n\nAction: UPDATE_BOUNDS(x0, -1000000.0)": (True, None, True),
    "Action: GET_IIS()": (False, "think_missing", False),
    "<think>\nok\n\nAction: GET_IIS()": (False, "think_unbalanced", False),
    "<think>\na</think><think>b</think>\nAction: GET_IIS()": (False, "think_unbalanced", False),
    "</think>\n<think>\nAction: GET_IIS()": (False, "think_unbalanced", False),
    "<think>\n  \n</think>\n\nAction: GET_IIS()": (False, "think_empty", False),
    "Sure!\n<think>\nok\n</think>\n\nAction: GET_IIS()": (False, "think_not_first", False),
    "<think>\nok\n</think>\n\nI would drop c1.": (False, "action_missing", False),
    "<think>\nok\n</think>\n\nAction: EXPLODE(c1)": (False, "action_invalid", False),
    "<think>\nok\n</think>\n\nAction: GET_IIS()\nAction: SUBMIT()": (False, "action_invalid", False),
    "<think>\nok\n</think>\n\nAction: RELAX_CONSTRAINT(c1, -1)": (False, "action_invalid", False),
}


@pytest.mark.parametrize("text", list(ANSWERS))
def test_check_answer(text: str) -> None:
    verdict = check_answer(text)
    assert (verdict.ok, verdict.reason, verdict.lenient) == ANSWERS[text]
    strict = parse_answer(text)
    assert (verdict.ok and not verdict.lenient) == strict.ok  # the same rules eval scores with
    if verdict.lenient:  # kept legacy forms: the trained shape, one action line the lenient grammar reads
        assert (
            strict.think_ok and strict.n_actions == 1 and parse_answer(text, lenient=True).action is not None
        )


def test_invalid_answers_in_files_are_dropped_with_reasons(tmp_path: Path) -> None:
    samples = [
        {"instruction": INSTRUCTION, "input": f"ID: p{i}", "output": text} for i, text in enumerate(ANSWERS)
    ]
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(samples))
    card = run(tmp_path, [path], val=0, test=0)
    expected = Counter(reason for ok, reason, _ in ANSWERS.values() if not ok)
    assert {r: d["count"] for r, d in card["dropped"].items()} == expected
    assert card["total"]["samples"] == 3 and card["lenient_actions"] == 2
    run(tmp_path, [path], val=0, test=0, canonical_actions=True)
    outputs = {r["output"].rsplit("\n", 1)[1] for r in all_rows(tmp_path)}
    assert outputs == {
        "Action: GET_IIS()",
        "Action: DROP_CONSTRAINT(c_key_lower)",
        "Action: UPDATE_BOUNDS(x0, -1000000.0)",
    }


EDGE_TEXTS = [
    "plain",
    "  leading spaces\n  indented line\n\n\nthree newlines",
    "tabs\tand\ttrailing \n\tnext",
    "unicode: 最优化模型不可行 — café naïve e\u0301 Ω≤∞",
    "<think>\ninner <think> tag </think> twice\n</think>\n\nAction: GET_IIS()",
    "code:\n```python\nx = [1, 2]\n```\n'quoted' \"double\" it's we'll",
    "numbers 123456789 3.14159e-10 -0.0 x[1,2]",
    "emoji 😀🎉 and <|im_end|> in text\r\nwindows line",
    "\n\nstarts with newlines",
]


def test_fast_token_count_equals_the_template_encoding(shared_data: Path) -> None:
    counter = token_counter()
    data = json.loads(legacy(shared_data).read_text())["data"]
    triples = [(SYSTEM_PROMPT_CORE, user_message(r["input"], r["instruction"]), r["output"]) for r in data]
    triples += [(s, u, a) for s in ("", SYSTEM_PROMPT_EXTENDED) for u in EDGE_TEXTS for a in EDGE_TEXTS[:5]]
    counter.verify = 0  # compare every sample here, not the runtime spot check
    try:
        fast = counter.count(triples)
    finally:
        counter.verify = 64
    assert counter.mode == "fast"
    assert fast == [counter.exact(*t) for t in triples]
    text = "\n".join(EDGE_TEXTS)
    assert counter.text_tokens(text) == len(counter.tokenizer.encode(text, add_special_tokens=False))


def test_token_pieces_match_the_tokenizer_on_random_text() -> None:
    import random
    import string

    counter = token_counter()
    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t\n" * 4 + "éΩ最😀\x0b"
    words = [
        "'s",
        "'LL",
        "'re",
        "<think>",
        "</think>",
        "<|im_end|>",
        "  ",
        "\n\n",
        "x[1,2]",
        "1e-05",
        "Action:",
    ]
    for _ in range(1500):
        parts = [
            rng.choice(words) if rng.random() < 0.2 else "".join(rng.choices(alphabet, k=rng.randint(1, 12)))
            for _ in range(rng.randint(1, 12))
        ]
        text = "".join(parts)
        assert counter.text_tokens(text) == len(counter.tokenizer.encode(text, add_special_tokens=False)), (
            repr(text)
        )


def test_length_check_reports_and_drops_over_cutoff(shared_data: Path, tmp_path: Path) -> None:
    counter = token_counter()
    data = json.loads(legacy(shared_data).read_text())["data"]
    exact = [counter.exact(SYSTEM_PROMPT_CORE, user_message(r["input"]), r["output"]) for r in data]
    cutoff = sorted(exact)[len(exact) * 3 // 4]
    card = run(tmp_path, [legacy(shared_data)], length_check=True, cutoff=cutoff)
    length = card["length"]
    assert length["over_cutoff"] == sum(n > cutoff for n in exact) > 0
    assert (length["max"], length["mode"], length["distribution"]) == (max(exact), "fast", "all samples")
    assert length["p50"] == sorted(exact)[(len(exact) - 1) // 2] and card["total"]["samples"] == len(exact)

    card = run(tmp_path, [legacy(shared_data)], length_check=True, cutoff=cutoff, drop_over_cutoff=True)
    assert card["dropped"]["over_cutoff"]["count"] == length["over_cutoff"]
    assert card["total"]["samples"] == len(exact) - length["over_cutoff"]

    card = run(tmp_path, [legacy(shared_data)], length_check=True, cutoff=cutoff, length_sample=100)
    assert card["length"]["over_cutoff"] == length["over_cutoff"]  # exact even when stats are sampled
    assert card["length"]["distribution"] == "uniform sample of 100 (seed 0)"


# ------------------------------------------------------------------ outputs, card, registry


def test_rows_are_plain_json_and_parquet_works(shared_data: Path, tmp_path: Path) -> None:
    sample = Sample(
        INSTRUCTION,
        'obs é 😀 "q" \\ \u2028',
        "<think>\nr\n</think>\n\nAction: SUBMIT()",
        SYSTEM_PROMPT_CORE,
        make_meta(problem_id="p", step=2, success=False, origin="f:1"),
    )
    for fmt in ("alpaca", "sharegpt"):
        assert list(jsonl_lines([sample], fmt)) == [
            json.dumps(to_row(sample, fmt), ensure_ascii=False) + "\n"
        ]
    card = run(tmp_path, [legacy(shared_data)], file_format="parquet", format="sharegpt")
    import pandas as pd

    frame = pd.read_parquet(tmp_path / card["splits"]["train"]["file"])
    assert len(frame) == card["splits"]["train"]["samples"] and list(frame.columns) == [
        "messages",
        "metadata",
    ]
    assert load_dataset_info(tmp_path)["ordebug_train"]["file_name"] == "data/ordebug/train.parquet"


def test_card_describes_the_dataset(shared_data: Path, tmp_path: Path) -> None:
    teacher = tmp_path / "teacher.jsonl"
    write_trajectories(teacher, 30, success=True)
    card = run(tmp_path, [teacher, legacy(shared_data)])
    directory = tmp_path / "data" / "ordebug"
    on_disk = json.loads((directory / "card.json").read_text())
    assert on_disk["splits"] == card["splits"]
    import hashlib

    for split in card["splits"].values():
        assert hashlib.sha256((tmp_path / split["file"]).read_bytes()).hexdigest() == split["sha256"]
    for item in card["inputs"]:
        assert hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest() == item["sha256"]
    assert set(card["total"]["by_source"]) == {"legacy", "teacher"}
    assert sum(card["total"]["by_action"].values()) == card["total"]["samples"]
    assert card["layout"] == "legacy" and card["format"] == "alpaca" and card["multi_turn"] is False
    assert card["seed"] == 0 and "sha256" in card["split_rule"]
    readme = (directory / "README.md").read_text()
    for text in (
        "ordebug_train",
        card["splits"]["test"]["sha256"],
        "## Split rule",
        "DROP_CONSTRAINT",
        "## Dropped",
    ):
        assert text in readme


def test_registry_merges_without_clobbering(tmp_path: Path) -> None:
    (tmp_path / "data" / "x").mkdir(parents=True)
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / "data" / "x" / name).write_text("{}\n")
    (tmp_path / "dataset_info.json").write_text(json.dumps({"theirs": {"hf_hub_url": "org/set"}}))
    changes = register_datasets({"mine": alpaca_entry(str(tmp_path / "data/x/a.jsonl"))}, root=tmp_path)
    assert changes == {"mine": "added"}
    info = load_dataset_info(tmp_path)
    assert list(info) == ["theirs", "mine"] and info["mine"]["file_name"] == "data/x/a.jsonl"
    assert register_datasets({"mine": messages_entry("data/x/b.jsonl")}, root=tmp_path) == {
        "mine": "replaced"
    }
    assert load_dataset_info(tmp_path)["mine"]["tags"]["role_tag"] == "role"
    assert unregister_datasets(["mine", "nope"], root=tmp_path) == ["mine"]
    assert load_dataset_info(tmp_path) == {"theirs": {"hf_hub_url": "org/set"}}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"file_name": "data/x/missing.jsonl"}, "does not exist"),
        ({"file_name": "data/x/a.jsonl", "formatting": "chatml"}, "formatting 'chatml'"),
        ({"file_name": "data/x/a.jsonl", "formatting": "sharegpt"}, "need columns.messages"),
        (
            {"file_name": "data/x/a.jsonl", "columns": {"prompt": "instruction"}, "tags": {"role_tag": "r"}},
            "take no tags",
        ),
        ({"file_name": "data/x/a.jsonl", "columns": {"question": "q"}}, "unknown column keys"),
        ({"file_name": "data/x/a.jsonl", "colums": {}}, "unknown keys"),
        ({}, "needs exactly one of"),
    ],
)
def test_registry_rejects_invalid_entries(tmp_path: Path, entry: dict, message: str) -> None:
    (tmp_path / "data" / "x").mkdir(parents=True)
    (tmp_path / "data" / "x" / "a.jsonl").write_text("{}\n")
    with pytest.raises(RegistryError, match=message):
        register_datasets({"bad": entry}, root=tmp_path)
    assert not (tmp_path / "dataset_info.json").exists()
    with pytest.raises(RegistryError, match="outside the dataset root"):
        register_datasets({"x": alpaca_entry(str(tmp_path.parent / "elsewhere.jsonl"))}, root=tmp_path)
    (tmp_path / "dataset_info.json").write_text("{broken")
    with pytest.raises(RegistryError, match="not valid JSON"):
        register_datasets({"ok": alpaca_entry("data/x/a.jsonl")}, root=tmp_path)
    assert (tmp_path / "dataset_info.json").read_text() == "{broken"


def _register_many(root: str, prefix: str) -> None:
    for i in range(15):
        register_datasets({f"{prefix}{i}": alpaca_entry("data/a.jsonl")}, root=root)


def test_concurrent_registrations_lose_nothing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text("{}\n")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_register_many, args=(str(tmp_path), p)) for p in ("x", "y")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert set(load_dataset_info(tmp_path)) == {f"{p}{i}" for p in "xy" for i in range(15)}


def test_registered_entries_are_valid_and_point_at_the_dataset_files(tmp_path: Path) -> None:
    # the tracked dataset_info.json is {}: check a registry that converts actually wrote
    trajs = write_trajectories(tmp_path / "t.jsonl", 30)
    cards = [run(tmp_path, [trajs], name="a"), run(tmp_path, [trajs], name="b", format="sharegpt",
                                                   file_format="parquet", holdout_types=["B"])]
    info = load_dataset_info(tmp_path)
    assert list(info) == [f"{c['name']}_{s}" for c in cards for s in c["splits"] if c["splits"][s]["file"]]
    assert {"a_val", "b_holdout"} <= set(info)
    for card in cards:
        for split, summary in card["splits"].items():
            if summary["file"] is None:
                continue
            entry = info[f"{card['name']}_{split}"]
            validate_entry(f"{card['name']}_{split}", entry, root=tmp_path)  # the file exists under the root
            assert entry["file_name"] == summary["file"] and entry == card["dataset_info"][f"{card['name']}_{split}"]
            assert entry["formatting"] == ("alpaca" if card["format"] == "alpaca" else "sharegpt")
