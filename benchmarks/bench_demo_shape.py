"""Where the tiny models' CPU time goes: training and decoding cost of each shape against the tests'
2-layer tiny model, measured in the same run (the choice of the demo's shape, docs/demo.md).

    .venv/bin/python benchmarks/bench_demo_shape.py [--tokens 750] [--answer 60] [--reps 3]

For each shape: CPU seconds (``time.process_time``, one thread, so sharing the machine inflates them
less than wall time) of one training step on one sample of ``--tokens`` tokens whose last
``--answer`` carry the loss (forward, backward, AdamW), once with the LM head at every position
(LLaMA-Factory's default) and once at the labelled positions only (the recipe key
``logits_on_labels_only``, recipes/labelled_logits.py), and CPU milliseconds per greedily decoded
token after a 300-token prompt. Prints each against the tiny shape (ratio 1.00), and the speed-up
of labels-only training per shape. Defaults: the demo's median sample (735 tokens, answer 37-202).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from recipes.labelled_logits import wrap_forward
from recipes.tiny_model import DEMO_CONFIG, TINY_CONFIG

SHAPES: dict[str, dict[str, object]] = {
    "tiny (2 layers, width 64)": TINY_CONFIG,
    "demo (4 layers, width 64)": DEMO_CONFIG,
    "wide (4 layers, width 128)": {**DEMO_CONFIG, "hidden_size": 128, "intermediate_size": 384, "head_dim": 32},
}


def measure(
    config: dict[str, object], tokens: int, answer: int, reps: int, labels_only: bool
) -> tuple[float, float, int]:
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(**config))
    if labels_only:
        wrap_forward(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, 150000, (1, tokens))
    labels = ids.clone()
    labels[:, : tokens - answer] = -100  # the prompt carries no loss (by default its logits are still computed)
    for i in range(reps + 1):  # the first step warms up
        if i == 1:
            start = time.process_time()
        model(input_ids=ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    train = (time.process_time() - start) / reps
    model.eval()
    new = 48
    with torch.no_grad():
        prompt = torch.randint(0, 150000, (1, 300))
        start = time.process_time()
        model.generate(prompt, max_new_tokens=new, min_new_tokens=new, do_sample=False)
    decode = (time.process_time() - start) / new * 1000
    return train, decode, sum(p.numel() for p in model.parameters())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=750, help="tokens per training sample")
    p.add_argument("--answer", type=int, default=60, help="tokens of it that carry the loss")
    p.add_argument("--reps", type=int, default=3, help="timed training steps per shape")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.2f} (CPU times are per process; sharing still inflates them)")
    print(f"{'shape':28} {'params':>7} {'train cpu-s':>11} {'ratio':>6} {'labels-only cpu-s':>17} {'ratio':>6} "
          f"{'speed-up':>8} {'decode cpu-ms/tok':>17} {'ratio':>6}")
    base: tuple[float, float, float] | None = None
    for name, config in SHAPES.items():
        train, decode, params = measure(config, args.tokens, args.answer, args.reps, labels_only=False)
        fast, _, _ = measure(config, args.tokens, args.answer, args.reps, labels_only=True)
        base = base or (train, fast, decode)
        print(f"{name:28} {params / 1e6:6.1f}M {train:11.2f} {train / base[0]:6.2f} {fast:17.2f} "
              f"{fast / base[1]:6.2f} {train / fast:7.1f}x {decode:17.1f} {decode / base[2]:6.2f}")


if __name__ == "__main__":
    main()
