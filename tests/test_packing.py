"""Neat packing (the fast recipe's `neat_packing: true`) is exact, on the tiny model and the real pipeline.

The batches come from LLaMA-Factory's own code: `get_dataset` with the `qwen3_think` template (its packed
processor and greedy knapsack), and the `SFTDataCollatorWith4DAttentionMask` that training uses (the
block-diagonal 4-D mask). The data are multi-turn conversations built from OR-Debug-Bench's legacy chat samples,
so the loss mask has several assistant turns per sample. Checked for SDPA (what the recipes run) and eager:

- every sample's loss, computed inside a packed row, equals its loss in an ordinary padded batch;
- labels survive packing token for token, and still cover exactly each assistant turn, `<think>` included;
- no sample attends to another: changing one packed sample's tokens leaves the others' outputs unchanged;
- and, as a control that the comparison can fail, plain `packing: true` (no block mask) changes the losses.

Seconds: the model is 2 layers of width 64; losses are read at label positions only (no full-vocabulary
logits over every token).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

IGNORE = -100
CUTOFF = 1024
#: assistant turns per conversation: multi-turn rows pack beside single-turn ones
TURNS = (1, 2, 3, 1, 2, 1, 1, 2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from recipes.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen3")


@pytest.fixture(scope="module")
def conversations(shared_data) -> list[list[dict[str, str]]]:
    """Multi-turn conversations: the system prompt, then user/assistant pairs of successive legacy samples."""
    rows = [json.loads(line)["messages"] for line in
            (shared_data / "legacy_sft" / "sft_qwen_chat.val.jsonl").read_text().splitlines()[: sum(TURNS)]]
    out, k = [], 0
    for turns in TURNS:
        messages = [rows[k][0]]
        for row in rows[k: k + turns]:
            messages += [m for m in row if m["role"] in ("user", "assistant")]
        out.append(messages)
        k += turns
    return out


@pytest.fixture(scope="module")
def lf(conversations, tmp_path_factory) -> dict[str, Any]:
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    from recipes.paths import qwen3_tokenizer_dir
    from recipes.template import register

    root = tmp_path_factory.mktemp("packing")
    (root / "conversations.json").write_text(json.dumps([{"messages": m} for m in conversations]))
    (root / "dataset_info.json").write_text(json.dumps({"conversations": {
        "file_name": "conversations.json", "formatting": "sharegpt", "columns": {"messages": "messages"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"}}}))
    register()
    tokenizer = AutoTokenizer.from_pretrained(qwen3_tokenizer_dir())
    template = get_template_and_fix_tokenizer(tokenizer, DataArguments(template="qwen3_think"))
    return {"root": root, "tokenizer": tokenizer, "template": template}


def load(lf: dict[str, Any], **packing: bool) -> Any:
    """The training set exactly as LLaMA-Factory's SFT stage builds it (cutoff 1024, packing options)."""
    from llamafactory.data import get_dataset
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    root = lf["root"]
    data_args = DataArguments(dataset="conversations", dataset_dir=str(root), template="qwen3_think",
                              cutoff_len=CUTOFF, overwrite_cache=True, **packing)
    module = get_dataset(lf["template"], ModelArguments(model_name_or_path=str(root)), data_args,
                         Seq2SeqTrainingArguments(output_dir=str(root / "out"), report_to=[]), stage="sft",
                         tokenizer=lf["tokenizer"])
    return module["train_dataset"]


@pytest.fixture(scope="module")
def unpacked(lf) -> list[dict[str, Any]]:
    return [dict(row) for row in load(lf)]


@pytest.fixture(scope="module")
def packed(lf) -> list[dict[str, Any]]:
    return [dict(row) for row in load(lf, neat_packing=True)]


@pytest.fixture(scope="module")
def plain(lf) -> list[dict[str, Any]]:
    return [dict(row) for row in load(lf, packing=True)]


def collate(lf: dict[str, Any], model: Any, rows: list[dict[str, Any]], *, block_diag: bool) -> dict[str, Any]:
    """LLaMA-Factory's training collator, configured as its SFT workflow configures it."""
    import torch
    from llamafactory.data.collator import SFTDataCollatorWith4DAttentionMask

    collator = SFTDataCollatorWith4DAttentionMask(
        template=lf["template"], tokenizer=lf["tokenizer"], model=model, pad_to_multiple_of=8,
        label_pad_token_id=IGNORE, block_diag_attn=block_diag, neat_packing=block_diag,
        attn_implementation=model.config._attn_implementation, compute_dtype=torch.float32)
    return collator([dict(r) for r in rows])


def segments(row: dict[str, Any]) -> list[tuple[int, int]]:
    """[start, end) of each sample in a packed row (its attention_mask numbers the samples 1, 2, ...)."""
    bounds = row["packing_params"]["sequence_boundaries"]
    spans = list(itertools.pairwise(bounds))
    return [(s, e) for s, e in spans if row["attention_mask"][s] != 0]  # the last span may be padding


def hidden(model: Any, batch: dict[str, Any]) -> Any:
    """Final hidden states (the LM head is per position, so equal states mean equal logits)."""
    import torch

    with torch.no_grad():
        out = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                          position_ids=batch.get("position_ids"))
    return out.last_hidden_state


def sample_loss(model: Any, states: Any, labels: Any, start: int, end: int) -> float:
    """Mean next-token cross-entropy over the label tokens of positions [start, end) of one row."""
    import torch

    targets = labels[start + 1: end]
    keep = targets != IGNORE
    with torch.no_grad():
        logits = model.lm_head(states[start: end - 1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep]).item()


@pytest.fixture(scope="module", params=["sdpa", "eager"])
def model(request, tiny):
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(tiny, attn_implementation=request.param, dtype=torch.float32).eval()


def unpacked_losses(lf, model, unpacked) -> dict[tuple[int, ...], float]:
    batch = collate(lf, model, unpacked, block_diag=False)
    states = hidden(model, batch)
    return {tuple(row["input_ids"]): sample_loss(model, states[i], batch["labels"][i], 0, len(row["input_ids"]))
            for i, row in enumerate(unpacked)}


def test_packing_puts_several_samples_in_a_row_and_keeps_every_sample(packed, unpacked):
    assert len(packed) < len(unpacked) and max(len(segments(r)) for r in packed) >= 2
    found = sorted(tuple(r["input_ids"][s:e]) for r in packed for s, e in segments(r))
    assert found == sorted(tuple(r["input_ids"]) for r in unpacked), "every sample once, none cut or merged"
    for row in packed:
        assert len(row["input_ids"]) == CUTOFF
        for k, (s, e) in enumerate(segments(row), start=1):
            assert row["attention_mask"][s:e] == [k] * (e - s)
            assert row["position_ids"][s:e] == list(range(e - s)), "positions restart for every sample"


def test_loss_mask_survives_packing_token_for_token(packed, unpacked, conversations, lf):
    tokenizer = lf["tokenizer"]
    labels_of = {tuple(r["input_ids"]): r["labels"] for r in unpacked}
    answers = {tokenizer.decode([t for t in labels if t != IGNORE]): c for labels, c in
               ((r["labels"], c) for r, c in zip(unpacked, conversations, strict=True))}
    assert len(answers) == len(conversations)
    for row in packed:
        spans = segments(row)
        for s, e in spans:
            labels = row["labels"][s:e]
            assert labels == labels_of[tuple(row["input_ids"][s:e])]
            # each assistant turn, <think> first, is trained on, with its <|im_end|>\n; nothing else
            trained = [t for t in labels if t != IGNORE]
            turns = [m["content"] for m in answers[tokenizer.decode(trained)] if m["role"] == "assistant"]
            assert tokenizer.decode(trained) == "".join(t + "<|im_end|>\n" for t in turns)
            assert all(t.startswith("<think>\n") for t in turns)
            assert sum(1 for a, b in itertools.pairwise([IGNORE, *labels])
                       if a == IGNORE and b != IGNORE) == len(turns)
        assert all(t == IGNORE for t in row["labels"][spans[-1][1]:]), "padding is never trained on"


def test_per_sample_loss_packed_equals_unpacked(lf, model, packed, unpacked):
    import torch

    reference = unpacked_losses(lf, model, unpacked)
    batch = collate(lf, model, packed, block_diag=True)
    assert batch["attention_mask"].dim() == 4  # the block-diagonal mask, not a plain causal one
    states = hidden(model, batch)
    got = {tuple(row["input_ids"][s:e]): sample_loss(model, states[i], batch["labels"][i], s, e)
           for i, row in enumerate(packed) for s, e in segments(row)}
    assert got.keys() == reference.keys()
    torch.testing.assert_close(torch.tensor([got[k] for k in reference]), torch.tensor(list(reference.values())),
                               rtol=1e-5, atol=1e-5)


def test_plain_packing_without_the_block_mask_changes_the_losses(lf, model, plain, unpacked):
    """Control: `packing: true` alone lets later samples attend to earlier ones, so this comparison can fail."""
    rows = plain
    reference = unpacked_losses(lf, model, unpacked)
    batch = collate(lf, model, rows, block_diag=False)
    states = hidden(model, batch)
    pad = lf["tokenizer"].pad_token_id
    moved = []
    for i, row in enumerate(rows):
        # plain packing has no sample numbers in its mask: a sample starts where positions restart
        starts = [k for k, p in enumerate(row["position_ids"]) if p == 0 and row["input_ids"][k] != pad]
        padded = [k for k, p in enumerate(row["position_ids"]) if p == 0 and row["input_ids"][k] == pad]
        for s, e in zip(starts, [*starts[1:], padded[0] if padded else CUTOFF], strict=True):
            key = tuple(row["input_ids"][s:e])
            if s > 0 and key in reference:  # a sample after another one in its row
                moved.append(abs(sample_loss(model, states[i], batch["labels"][i], s, e) - reference[key]))
    assert moved and max(moved) > 1e-3


def test_no_sample_attends_to_another(lf, model, packed):
    import torch

    row = max(packed, key=lambda r: len(segments(r)))
    spans = segments(row)
    batch = collate(lf, model, [row], block_diag=True)
    before = hidden(model, batch)[0]
    s0, e0 = spans[0]
    changed = dict(batch)
    changed["input_ids"] = batch["input_ids"].clone()
    changed["input_ids"][0, s0:e0] = torch.randint(1000, 100000, (e0 - s0,), generator=torch.Generator().manual_seed(0))
    after = hidden(model, changed)[0]
    assert not torch.allclose(before[s0:e0], after[s0:e0]), "the perturbed sample itself changes"
    for s, e in spans[1:]:
        torch.testing.assert_close(after[s:e], before[s:e], rtol=0, atol=1e-6)
