"""Datasets load through LLaMA-Factory's own data pipeline exactly as intended.

For every dataset registered in the repository's dataset_info.json (whose files exist here) and
for datasets this test converts (Alpaca and ShareGPT, jsonl and parquet, legacy + trajectories):
``llamafactory.data.get_dataset`` with the real Qwen3 tokenizer and the project's ``qwen3_think``
template keeps every row, and the tokens that carry loss are exactly the assistant text
(``<think>`` included) plus the template's end-of-turn, nothing of the prompt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converters.core.registry import alpaca_entry, load_dataset_info
from converters.sft.checks import qwen3_tokenizer_dir
from converters.sft.pipeline import ConvertOptions, convert
from tests.support.synthetic import write_trajectories

MAX_ROWS = 64  # per dataset: enough to cover every source, small enough for CI
IGNORE_INDEX = -100


@pytest.fixture(scope="module")
def lf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    from recipes.template import register

    register()
    tokenizer = AutoTokenizer.from_pretrained(str(qwen3_tokenizer_dir()))
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template="qwen3_think"))
    return {"tokenizer": tokenizer, "template": template, "tmp": tmp_path_factory.mktemp("lf")}


def load(
    lf: dict[str, Any], dataset_dir: str, names: list[str], max_samples: int | None = MAX_ROWS
) -> tuple[list[dict], list[dict]]:
    """(aligned rows, tokenized rows) of registered datasets (concatenated in order) through
    LLaMA-Factory's loader. One get_dataset call for all: each call hashes the tokenizer (seconds)."""
    from llamafactory.data import get_dataset
    from llamafactory.data.loader import _get_merged_dataset
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    model_args = ModelArguments(
        model_name_or_path=str(qwen3_tokenizer_dir()), cache_dir=str(lf["tmp"] / "cache")
    )
    data_args = DataArguments(
        dataset=names,
        dataset_dir=dataset_dir,
        template="qwen3_think",
        cutoff_len=1 << 16,
        max_samples=max_samples,
        overwrite_cache=True,
    )
    training_args = Seq2SeqTrainingArguments(output_dir=str(lf["tmp"] / "out"), report_to=[])
    aligned = _get_merged_dataset(names, model_args, data_args, training_args, "sft")
    module = get_dataset(
        lf["template"], model_args, data_args, training_args, stage="sft", tokenizer=lf["tokenizer"]
    )
    return list(aligned), list(module["train_dataset"])


def expected_label_ids(lf: dict[str, Any], row: dict) -> list[int]:
    """Token ids of every answer turn as the template writes it (content + end of turn)."""
    template, tokenizer = lf["template"], lf["tokenizer"]
    ids: list[int] = []
    for turn in row["_prompt"] + row["_response"]:
        if turn["role"] == "assistant":
            slots = template.format_assistant.apply(content=turn["content"])
        elif turn["role"] == "function":
            slots = template.format_function.apply(
                content=turn["content"],
                thought_words=template.thought_words,
                tool_call_words=template.tool_call_words,
            )
        else:
            continue
        ids += tokenizer.encode("".join(s for s in slots if isinstance(s, str)), add_special_tokens=False)
    return ids


def assert_labels_are_the_answers(
    lf: dict[str, Any], aligned: list[dict], tokenized: list[dict], name: str
) -> None:
    tokenizer = lf["tokenizer"]
    assert len(tokenized) == len(aligned) > 0, f"{name}: LLaMA-Factory dropped rows"
    think_id = tokenizer.convert_tokens_to_ids("<think>")
    for i, (row, ex) in enumerate(zip(aligned, tokenized, strict=True)):
        labels, input_ids = ex["labels"], ex["input_ids"]
        labelled = [t for t in labels if t != IGNORE_INDEX]
        assert all(lab == tok for lab, tok in zip(labels, input_ids, strict=True) if lab != IGNORE_INDEX)
        assert labelled == expected_label_ids(lf, row), f"{name} row {i}: loss is not exactly the answers"
        answers = [t["content"] for t in row["_prompt"] + row["_response"] if t["role"] == "assistant"]
        if any("<think>" in a for a in answers):
            assert think_id in labelled, f"{name} row {i}: <think> lost"
        text = tokenizer.decode(labelled)
        for answer in answers:
            assert answer in text
        prompt_text = tokenizer.decode(
            [t for t, lab in zip(input_ids, labels, strict=True) if lab == IGNORE_INDEX]
        )
        user = next(t["content"] for t in row["_prompt"] if t["role"] == "user")
        assert user in prompt_text and (not row["_system"] or row["_system"] in prompt_text)


def test_every_registered_dataset_loads_with_loss_on_the_answers(
    lf: dict[str, Any], shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the tracked dataset_info.json is {} (datasets are generated): build a registry the way
    # make convert does, beside an entry the user already had, and load every entry it holds
    legacy = shared_data / "legacy_sft" / "sft_gpt52chat.json"
    wrapped = json.loads(legacy.read_text(encoding="utf-8"))
    alpaca = tmp_path / "in" / "legacy.json"
    alpaca.parent.mkdir()
    alpaca.write_text(json.dumps({"data": wrapped["data"][:12]}), encoding="utf-8")
    trajectories = write_trajectories(tmp_path / "trajectories" / "teacher.jsonl", 12, success=True)
    (tmp_path / "data" / "mine").mkdir(parents=True)
    (tmp_path / "data" / "mine" / "rows.jsonl").write_text(json.dumps(wrapped["data"][20]) + "\n")
    (tmp_path / "dataset_info.json").write_text(json.dumps({"mine": alpaca_entry("data/mine/rows.jsonl", system=False)}))
    convert(
        ConvertOptions(inputs=[str(trajectories), str(alpaca)], root=tmp_path, name="reg", format="sharegpt",
                       holdout_types=["A"], progress=False, length_check=False)
    )
    info = load_dataset_info(tmp_path)
    assert list(info) == ["mine", "reg_train", "reg_val", "reg_test", "reg_holdout"]
    monkeypatch.chdir(tmp_path)
    aligned, tokenized = load(lf, ".", list(info))
    assert len(aligned) == 1 + sum(
        min(MAX_ROWS, sum(1 for _ in (tmp_path / e["file_name"]).open())) for n, e in info.items() if n != "mine"
    )
    assert_labels_are_the_answers(lf, aligned, tokenized, ", ".join(info))


@pytest.mark.parametrize(
    ("fmt", "file_format"),
    [("alpaca", "jsonl"), ("sharegpt", "parquet")],  # each call costs ~30 s on 2 cores
)
def test_converted_datasets_load_with_loss_on_the_answers(
    lf: dict[str, Any],
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    file_format: str,
) -> None:
    # a slice of each of OR-Debug-Bench's legacy files (the whole files round-trip in test_convert.py)
    legacy_dir = shared_data / "legacy_sft"
    wrapped = json.loads((legacy_dir / "sft_gpt52chat.json").read_text(encoding="utf-8"))
    alpaca = tmp_path / "in" / "sft_gpt52chat.json"
    alpaca.parent.mkdir()
    alpaca.write_text(
        json.dumps({"metadata": wrapped["metadata"], "data": wrapped["data"][:40]}), encoding="utf-8"
    )
    messages = tmp_path / "in" / "sft_qwen_chat.val.jsonl"
    messages.write_text(
        "".join((legacy_dir / messages.name).read_text(encoding="utf-8").splitlines(True)[:20])
    )
    teacher = write_trajectories(tmp_path / "trajectories" / "teacher.jsonl", 15, success=True)
    heuristic = write_trajectories(
        tmp_path / "trajectories" / "heuristic.jsonl", 15, start=15, agent="heuristic"
    )
    card = convert(
        ConvertOptions(
            inputs=[str(teacher), str(heuristic), str(alpaca), str(messages)],
            root=tmp_path,
            format=fmt,
            file_format=file_format,
            progress=False,
            length_check=False,
        )
    )
    monkeypatch.chdir(tmp_path)  # the project convention: dataset_dir "." at the root
    import pandas as pd

    splits = ("train", "val", "test")
    aligned, tokenized = load(lf, ".", [f"ordebug_{s}" for s in splits], max_samples=None)  # every row
    assert len(tokenized) == sum(card["splits"][s]["samples"] for s in splits)
    assert_labels_are_the_answers(lf, aligned, tokenized, "ordebug_train/val/test")
    rows = []
    for split in splits:
        path = tmp_path / card["splits"][split]["file"]
        rows += (
            pd.read_parquet(path).to_dict("records")
            if file_format == "parquet"
            else [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        )
    for row, got in zip(rows, aligned, strict=True):
        # one rule for every source: the model sees instruction + "\n" + input, the layout's system prompt
        user = row["instruction"] + "\n" + row["input"] if fmt == "alpaca" else row["messages"][1]["content"]
        assert got["_prompt"] == [{"role": "user", "content": user}]
        assert got["_system"] == card["system"]
    assert set(card["total"]["by_source"]) == {"teacher", "heuristic", "legacy"}
