"""`logits_on_labels_only`: the LM head only at labelled positions gives the same loss and gradients.

Batches come from LLaMA-Factory's own pipeline and training collator (the fixtures of test_packing:
multi-turn conversations of OR-Debug-Bench's legacy samples, `qwen3_think`), plain and neat-packed, on the
tiny Qwen3 model; full fine-tuning and LoRA (PEFT), with and without `num_items_in_batch` (what the
Trainer passes under gradient accumulation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recipes.labelled_logits import installed, labelled_positions, refusal, wrap_forward
from tests.test_packing import collate, conversations, lf, packed, tiny, unpacked  # noqa: F401 (fixtures)


def fresh_model(tiny: Path, lora: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    return model.train()


def loss_and_grads(model: Any, batch: dict[str, Any], **extra: Any) -> tuple[float, dict[str, Any]]:
    model.zero_grad()
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "position_ids", "labels")}
    loss = model(**inputs, **extra).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("rows", ["unpacked", "packed"])
@pytest.mark.parametrize("normalised", [False, True], ids=["mean", "num_items_in_batch"])
def test_same_loss_and_gradients_as_every_position(tiny, lf, rows, lora, normalised, request):
    import torch

    data = request.getfixturevalue(rows)[:4]
    plain_model = fresh_model(tiny, lora)
    batch = collate(lf, plain_model, data, block_diag=rows == "packed")
    extra = {"num_items_in_batch": (batch["labels"] != -100).sum()} if normalised else {}
    plain_loss, plain_grads = loss_and_grads(plain_model, batch, **extra)
    keep, _ = labelled_positions(batch["labels"])
    assert 0 < len(keep) < batch["labels"].shape[1] // 2  # most positions are prompt: the head skips them

    fast_model = wrap_forward(fresh_model(tiny, lora))
    fast_loss, fast_grads = loss_and_grads(fast_model, batch, **extra)
    assert fast_loss == pytest.approx(plain_loss, rel=1e-5)
    assert fast_grads.keys() == plain_grads.keys() and plain_grads
    for name, grad in plain_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_positions_are_the_union_of_the_rows_labels_shifted_by_one():
    import torch

    labels = torch.tensor([[-100, -100, 5, 6, -100], [-100, 7, -100, -100, -100]])
    keep, shifted = labelled_positions(labels)
    assert keep.tolist() == [0, 1, 2]  # position p predicts token p+1
    assert shifted.tolist() == [[-100, 5, 6], [7, -100, -100]]


def test_evaluation_and_generation_keep_every_logit(tiny, lf, unpacked):
    import torch

    model = wrap_forward(fresh_model(tiny, lora=False))
    batch = collate(lf, model, unpacked[:2], block_diag=False)
    model.eval()
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    assert out.logits.shape[:2] == batch["input_ids"].shape  # eval loss and metrics see every position


def test_installed_wraps_the_model_llamafactory_sft_loads_then_restores_it(tiny):
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer
    from llamafactory.train.sft import workflow

    original = workflow.load_model
    with installed():
        model_args, _, training_args, finetuning_args, _ = get_train_args(
            {"model_name_or_path": str(tiny), "stage": "sft", "do_train": True, "finetuning_type": "full",
             "template": "qwen3_think", "dataset": "x", "output_dir": "unused", "use_cpu": True, "report_to": "none"})
        tokenizer = load_tokenizer(model_args)["tokenizer"]
        model = workflow.load_model(tokenizer, model_args, finetuning_args, training_args.do_train)
        assert model.forward.__code__.co_name == "forward_on_labels"  # (functools.wraps copies __name__)
        assert getattr(workflow.load_model, "__wrapped__", None) is original
    assert workflow.load_model is original  # a later recipe in this process loads models unwrapped


@pytest.mark.parametrize(
    ("args", "named"),
    [({"stage": "dpo"}, "stage: dpo"), ({"enable_liger_kernel": True}, "enable_liger_kernel"),
     ({"use_asft_loss": True}, "use_asft_loss")],
)
def test_refused_where_something_reads_the_logits(args, named):
    assert named in (refusal({"stage": "sft", **args}) or "")
    assert refusal({"stage": "sft"}) is None
