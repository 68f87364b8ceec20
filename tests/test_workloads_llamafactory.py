"""Every dataset the workload converters write loads through LLaMA-Factory's own data pipeline.

One tmp repo root gets all of them (tool calls, search multi-turn / steps / summary prefix /
summary only, a pre-sampled parquet set); each registered name is then loaded with
``llamafactory.data.get_dataset`` on the real Qwen3 tokenizer and the project's ``qwen3_think``
template, and the trained tokens (labels) must be exactly the converter's targets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from workloads_data import make_runs, search_trace, write_jsonl, write_parquet

from converters.presample import cli as presample
from converters.search_traces import cli as search_traces
from converters.tool_traces import cli as tool_traces

IGNORE = -100


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    make_runs(root, [f"task{i}" for i in range(5)], rollouts=2)
    assert tool_traces.main(["--in", str(root / "runs"), "--root", str(root), "--val", "0.2"]) == 0
    traces = write_jsonl(root / "traces.jsonl", [search_trace(i, n_results=1 + i % 3) for i in range(30)])
    assert search_traces.main(["--in", str(traces), "--root", str(root)]) == 0
    steps = (root / "data" / "search_steps" / "steps.jsonl").read_text().splitlines()
    summarized = [json.loads(line) | {"summary": f"Question: topic {k}.\n\nKey facts: \"{k}\""}
                  for k, line in enumerate(steps)]
    summarized_path = write_jsonl(root / "summarized.jsonl", summarized)
    assert search_traces.main(["--in", str(summarized_path), "--root", str(root)]) == 0
    src = write_parquet(root / "public.parquet", 400, row_group=64)
    assert presample.main(["--in", str(src), "--n", "40", "--lang", "en", "--root", str(root),
                           "--name", "public_40"]) == 0
    return root


@pytest.fixture(scope="module")
def lf(root: Path) -> dict[str, Any]:
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    from converters.sft.checks import qwen3_tokenizer_dir
    from recipes.template import register

    register()
    tokenizer = AutoTokenizer.from_pretrained(qwen3_tokenizer_dir())
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template="qwen3_think"))
    return {"tokenizer": tokenizer, "template": template}


def load(lf: dict[str, Any], root: Path, name: str, *, mask_history: bool = False) -> Any:
    from llamafactory.data import get_dataset
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    data_args = DataArguments(dataset=name, dataset_dir=str(root), template="qwen3_think", cutoff_len=8192,
                              mask_history=mask_history, overwrite_cache=True)
    model_args = ModelArguments(model_name_or_path=str(root))
    training_args = Seq2SeqTrainingArguments(output_dir=str(root / "out"), report_to=[])
    module = get_dataset(lf["template"], model_args, data_args, training_args, stage="sft",
                         tokenizer=lf["tokenizer"])
    return module["train_dataset"]


def labels_text(lf: dict[str, Any], example: dict[str, Any]) -> str:
    return lf["tokenizer"].decode([t for t in example["labels"] if t != IGNORE])


def registered(root: Path) -> dict[str, Any]:
    return json.loads((root / "dataset_info.json").read_text())


def test_every_workload_dataset_is_registered(root: Path) -> None:
    names = set(registered(root))
    for base in ("tool_calls", "search_multiturn", "search_steps", "search_summary_prefix", "search_summary_only"):
        assert {f"{base}_train", f"{base}_val"} <= names
    assert "public_40_train" in names


def test_tool_calls_train_only_the_target_call_with_mask_history(lf: dict[str, Any], root: Path) -> None:
    rows = [json.loads(line) for split in ("train", "val")
            for line in (root / "data" / "tool_calls" / f"{split}.jsonl").read_text().splitlines()]
    ds = load(lf, root, "tool_calls_train,tool_calls_val", mask_history=True)
    assert len(ds) == len(rows)
    for example, row in zip(ds, rows, strict=True):
        assert labels_text(lf, example) == row["messages"][-1]["content"] + "<|im_end|>\n"
    text = lf["tokenizer"].decode(ds[2]["input_ids"])
    assert text.startswith("<|im_start|>system\nYou are a code-fixing agent.")
    assert "[tool_result] " in text


ALPACA = ("search_steps", "search_summary_prefix", "search_summary_only", "public_40")


def test_search_and_presampled_sets_train_exactly_their_targets(lf: dict[str, Any], root: Path) -> None:
    """One LLaMA-Factory load of every split (concatenated in order): trained tokens = targets."""
    names, expected = [], []
    for base in (*ALPACA, "search_multiturn"):
        for split in ("train", "val"):
            path = root / "data" / base / f"{split}.parquet"
            if not path.exists():
                continue
            names.append(f"{base}_{split}")
            frame = pd.read_parquet(path)
            if base == "search_multiturn":  # every assistant turn carries loss
                expected += ["".join(m["content"] + "<|im_end|>\n" for m in messages if m["role"] == "assistant")
                             for messages in frame["messages"]]
            else:
                expected += [output + "<|im_end|>\n" for output in frame["output"]]
    assert len(names) == 9  # public_40 has no val split
    ds = load(lf, root, ",".join(names))
    assert len(ds) == len(expected)
    assert [labels_text(lf, example) for example in ds] == expected
