"""Search-agent traces -> multi-turn, step-split and summary datasets (docs/workloads.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from workloads_data import search_trace, write_jsonl

from converters.search_traces import cli as search_traces
from converters.search_traces.schema import parse_trace


def convert(root: Path, path: Path, *args: str) -> int:
    return search_traces.main(["--in", str(path), "--root", str(root), *args])


def table(root: Path, name: str, split: str) -> pd.DataFrame:
    path = root / "data" / name / f"{split}.parquet"
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def both(root: Path, name: str) -> pd.DataFrame:
    return pd.concat([table(root, name, "train"), table(root, name, "val")], ignore_index=True)


def test_step_split_prompt_up_to_result_i_answer_until_the_next(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "traces.jsonl", [search_trace(1, n_results=2)])
    assert convert(tmp_path, src, "--val", "0") == 0
    steps = table(tmp_path, "search_steps", "train").sort_values("step")
    assert list(steps["step"]) == [1, 2] and list(steps["n_steps"]) == [2, 2]
    first, second = steps.iloc[0], steps.iloc[1]
    assert first["instruction"] == (
        "Question: What is the answer for topic 1?\n\n<think>\nTrace 1: I need fact 0.\n</think>\n\n"
        "<search>fact 0 about topic 1</search>\n\n<result>\nFact 0 of topic 1 is 10.\n</result>")
    assert first["output"] == "<think>\nTrace 1: I need fact 1.\n</think>\n\n<search>fact 1 about topic 1</search>"
    assert second["instruction"].startswith(first["instruction"] + "\n\n" + first["output"])
    assert second["instruction"].endswith("<result>\nFact 1 of topic 1 is 11.\n</result>")
    assert second["output"] == "<think>\nI have everything.\n</think>\n\n<answer>answer-1</answer>"
    multi = table(tmp_path, "search_multiturn", "train")["messages"][0]
    assert [m["role"] for m in multi] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert multi[-1]["content"] == second["output"]
    lines = (tmp_path / "data" / "search_steps" / "steps.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]
    assert json.loads(lines[0])["schema"] == "search_step/1"


def test_accepted_variants_and_bad_lines(tmp_path: Path) -> None:
    records = [
        {"qid": "r1", "question": "Capital of France?",
         "output": "Let me look.<search>capital of France</search><information>Paris is the capital.</information>"
                   "<think>Paris.</think><answer>Paris</answer>"},
        {"trace_id": "m1", "messages": [
            {"role": "user", "content": "Tallest mountain?"},
            {"role": "assistant", "content": "<think>search</think><search>tallest mountain</search>"},
            {"role": "tool", "content": "Everest is 8849 m."},
            {"role": "assistant", "content": "<answer>Everest</answer>"}]},
        {"id": "d1", "query": "Who painted it?", "trace": [
            {"step_type": "thought", "text": "search"}, {"kind": "search_query", "query": "painter"},
            {"type": "documents", "documents": [{"title": "Mona Lisa", "contents": "by Leonardo"}, "2nd doc"]},
            {"type": "final_answer", "answer": "Leonardo"}]},
        {"id": "bad1", "question": "x", "steps": [{"type": "dance", "content": "?"}]},
        {"id": "bad2", "steps": [{"type": "answer", "content": "no question"}]},
        {"id": "bad3", "question": "starts with a result", "steps": [{"type": "result", "content": "r"}]},
        {"id": "r1", "question": "duplicate id", "steps": [{"type": "answer", "content": "a"}]},
    ]
    src = write_jsonl(tmp_path / "traces.jsonl", records, tail="{truncated json\n")
    assert convert(tmp_path, src, "--val", "0") == 0
    card = json.loads((tmp_path / "data" / "search_steps" / "card.json").read_text())
    assert card["dropped"] == {"unknown_step_type": 1, "no_question": 1, "result_before_search": 1,
                               "duplicate_id": 1, "unreadable_line": 1}
    steps = table(tmp_path, "search_steps", "train").set_index("trace_id")
    assert steps.loc["r1", "instruction"].endswith("<result>\nParis is the capital.\n</result>")
    assert steps.loc["r1", "instruction"].startswith("Question: Capital of France?\n\n<think>\nLet me look.\n</think>")
    assert steps.loc["m1", "output"] == "<answer>Everest</answer>"
    assert "<result>\nMona Lisa\nby Leonardo\n2nd doc\n</result>" in steps.loc["d1", "instruction"]
    assert steps.loc["d1", "output"] == "<answer>Leonardo</answer>"


def test_results_in_a_row_and_a_trailing_result(tmp_path: Path) -> None:
    trace = parse_trace({"id": "t", "question": "q", "steps": [
        {"type": "search", "content": "a"}, {"type": "result", "content": "r1"}, {"type": "result", "content": "r2"},
        {"type": "answer", "content": "x"}, {"type": "search", "content": "more"}, {"type": "result", "content": "r3"}]},
        "t")
    messages = search_traces.multiturn_messages(trace)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2]["content"] == "<result>\nr1\n</result>\n\n<result>\nr2\n</result>"
    from collections import Counter

    drops: Counter[str] = Counter()
    samples = search_traces.step_samples(trace, drops)
    assert [s["step"] for s in samples] == [2] and drops == {"empty_answer": 2}


def test_summary_datasets_from_summarized_steps(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "traces.jsonl", [search_trace(i, n_results=1 + i % 3) for i in range(60)])
    assert convert(tmp_path, src) == 0
    steps = both(tmp_path, "search_steps")
    assert len(steps) == sum(1 + i % 3 for i in range(60))
    val_traces = set(table(tmp_path, "search_steps", "val")["trace_id"])
    assert 1 <= len(val_traces) <= 15 and not val_traces & set(table(tmp_path, "search_steps", "train")["trace_id"])

    # what collectors.summaries writes: every field through, plus summary (null when the call failed)
    summarized = []
    for k, line in enumerate((tmp_path / "data" / "search_steps" / "steps.jsonl").read_text().splitlines()):
        rec = json.loads(line)
        ok = k % 10 != 0
        rec |= {"summary": f"Question: {rec['question']}\n\nKey facts: step {rec['step']}" if ok else None,
                "summary_parts": None, "summary_error": None if ok else "timeout", "summary_meta": {"model": "m"}}
        summarized.append(rec)
    out = write_jsonl(tmp_path / "summarized.jsonl", summarized, tail="oops\n")
    assert convert(tmp_path, out) == 0
    prefix, only = both(tmp_path, "search_summary_prefix"), both(tmp_path, "search_summary_only")
    n_ok = sum(1 for r in summarized if r["summary"])
    assert len(prefix) == len(only) == n_ok
    card = json.loads((tmp_path / "data" / "search_summary_only" / "card.json").read_text())
    assert card["dropped"] == {"missing_summary": len(summarized) - n_ok, "unreadable_line": 1}
    row = prefix.iloc[0]
    source = next(r for r in summarized if r["trace_id"] == row["trace_id"] and r["step"] == row["step"])
    assert row["instruction"] == source["prompt"]
    assert row["output"] == f"<summary>\n{source['summary']}\n</summary>\n\n{source['answer']}"
    only_row = only[(only["trace_id"] == row["trace_id"]) & (only["step"] == row["step"])].iloc[0]
    assert only_row["instruction"] == source["summary"] and only_row["output"] == source["answer"]
    # a trace keeps its split across the four datasets
    assert set(table(tmp_path, "search_summary_prefix", "val")["trace_id"]) <= val_traces
    assert not set(table(tmp_path, "search_summary_only", "train")["trace_id"]) & val_traces
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    for name in ("search_multiturn", "search_steps", "search_summary_prefix", "search_summary_only"):
        assert info[f"{name}_train"]["file_name"] == f"data/{name}/train.parquet"


def test_steps_without_summaries_are_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "traces.jsonl", [search_trace(1)])
    assert convert(tmp_path, src) == 0
    assert convert(tmp_path, tmp_path / "data" / "search_steps" / "steps.jsonl") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "make summarize" in err and "steps.jsonl" in err


@pytest.mark.parametrize("val", ["2", "-1"])
def test_val_is_a_share_below_one(tmp_path: Path, capsys: pytest.CaptureFixture[str], val: str) -> None:
    """`--val 2` once put 5 of 6 traces into val; `--val -1` gave none without a word (issue 23, probe 9)."""
    src = write_jsonl(tmp_path / "traces.jsonl", [search_trace(i) for i in range(6)])
    with pytest.raises(SystemExit) as stop:
        convert(tmp_path, src, "--val", val)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --val" in err and "[0, 1)" in err
    assert not (tmp_path / "data").exists()
