"""Stop training on time: the recipe key `max_train_seconds: S` (a wrapper key, recipes/recipe.py).

transformers' Trainer has no wall-clock limit (`max_steps` counts steps, and `max_time` does not
exist in 4.x/5.x `TrainingArguments`); LLaMA-Factory 0.9.5 adds none. Its `run_exp(args, callbacks)`
takes extra `TrainerCallback`s, so `recipes._entry` adds :class:`TimeBudget` when the launcher sets
``ORDEBUG_MAX_TRAIN_SECONDS``. The callback starts its clock at ``on_train_begin`` (after the model
is loaded and the data tokenised, so start-up does not eat the budget) and, at the end of the first
optimizer step that finishes past the budget, sets ``control.should_training_stop``: the Trainer
then leaves its loop as it does at ``max_steps``, and LLaMA-Factory saves the model, the state and
the metrics as usual. A run may thus overrun by one step.

The learning-rate schedule is built for ``max_steps`` before training starts, so a recipe with a
time budget wants a schedule that is not cut off half-way: ``constant_with_warmup`` (what
``learning_proof`` uses), or a ``max_steps`` measured from a short run. Each rank stops on its own
clock; in a multi-GPU run the ranks can disagree by a step, so a budget is for one process.

What happened is written to ``<output_dir>/time_budget.json``: the budget, seconds trained, the
steps done, whether the budget stopped the run, and the tokens seen (with
``include_num_input_tokens_seen``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

REPORT = "time_budget.json"


class TimeBudget(TrainerCallback):
    """Stop after the first optimizer step that ends ``seconds`` or more after training began."""

    def __init__(self, seconds: float, clock: Any = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.start: float | None = None
        self.stopped = False

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self.start = self.clock()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.start is not None and self.clock() - self.start >= self.seconds:
            control.should_training_stop = True
            self.stopped = True

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if not state.is_world_process_zero or self.start is None:
            return
        report = {"max_train_seconds": self.seconds, "trained_seconds": round(self.clock() - self.start, 1),
                  "steps": state.global_step, "max_steps": state.max_steps, "stopped_by_budget": self.stopped,
                  "tokens_seen": state.num_input_tokens_seen}  # 0 unless include_num_input_tokens_seen
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def budget_callbacks(seconds: str | None) -> list[TrainerCallback]:
    """The callbacks a budget asks for: ``seconds`` as the launcher passes it (the entry module reads
    ORDEBUG_MAX_TRAIN_SECONDS), none when unset."""
    return [TimeBudget(float(seconds))] if seconds else []
