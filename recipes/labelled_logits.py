"""The LM head only where a label is: the same loss and gradients for a fraction of the work.

A causal LM's training loss reads the logits only at positions whose *next* token carries a label.
In SFT the prompt, most of every sample, carries none, yet the model computes the vocabulary-wide
LM head (151,936 columns for Qwen3) at every position. On a CPU that head is almost all of a small
model's time: 1.61 s per step of 2 x 800 tokens for the demo's 4-layer model, 0.24 s without the
prompt positions (`benchmarks/bench_demo_shape.py` prints both per model shape).

transformers' causal LMs take the positions to compute as ``logits_to_keep`` (a tensor of indices)
and the matching targets as ``shift_labels``; this module wraps a model's ``forward`` so that every
training call with ``labels`` passes both: the union over the batch of the positions followed by a
label. Positions some row does not label get ``-100`` there, as before, so the loss, its
normalisation (``num_items_in_batch``) and every gradient are unchanged (``tests/test_labelled_logits.py``
compares them with the plain forward). Calls without labels (generation, LLaMA-Factory's custom
losses, which pop the labels first) and evaluation calls pass through untouched.

Turned on per recipe with the wrapper key ``logits_on_labels_only: true`` (SFT only; not with Liger
kernels, whose fused loss already skips the logits, nor with ``use_asft_loss``, which reads them).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

IGNORE_INDEX = -100


def labelled_positions(labels: Any) -> tuple[Any, Any]:
    """(positions to compute logits at, their targets) for a batch of ``labels`` [batch, length].

    Position p predicts token p+1, so it is needed when ``labels[:, p+1]`` holds a label in any row.
    """
    import torch

    shifted = torch.nn.functional.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]
    keep = (shifted != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)
    if keep.numel() == 0:  # nothing labelled: one position keeps the shapes valid (its target is ignored)
        keep = torch.zeros(1, dtype=torch.long, device=labels.device)
    return keep, shifted[:, keep].contiguous()


def wrap_forward(model: Any) -> Any:
    """Make ``model`` (a transformers causal LM, or a PEFT/DDP wrapper around one) compute the LM head
    only at labelled positions while training. Returns the model."""
    forward = model.forward

    @functools.wraps(forward)  # keeps the signature: the Trainer inspects it for **kwargs
    def forward_on_labels(*args: Any, **kwargs: Any) -> Any:
        labels = kwargs.get("labels")
        if labels is not None and model.training and "logits_to_keep" not in kwargs and "shift_labels" not in kwargs:
            kwargs["logits_to_keep"], kwargs["shift_labels"] = labelled_positions(labels)
        return forward(*args, **kwargs)

    model.forward = forward_on_labels
    return model


def refusal(args: dict[str, Any]) -> str | None:
    """Why ``logits_on_labels_only`` cannot apply to a phase with these LLaMA-Factory arguments, or None."""
    if args.get("stage", "sft") != "sft":
        return f"stage: {args.get('stage')} computes from the logits themselves; it works with stage: sft only"
    if args.get("enable_liger_kernel"):
        return "enable_liger_kernel: Liger's fused loss already skips the logits; drop one of the two"
    if args.get("use_asft_loss"):
        return "use_asft_loss: that loss reads the logits of every position"
    return None


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """While inside, every model LLaMA-Factory's SFT workflow loads is wrapped; afterwards the workflow
    is as it was, so a later recipe in the same process (an in-process launch) decides for itself."""
    from llamafactory.train.sft import workflow

    load_model = workflow.load_model

    @functools.wraps(load_model)
    def load_and_wrap(*args: Any, **kwargs: Any) -> Any:
        return wrap_forward(load_model(*args, **kwargs))

    workflow.load_model = load_and_wrap
    try:
        yield
    finally:
        workflow.load_model = load_model
