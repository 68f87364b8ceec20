"""Value ranges LLaMA-Factory and transformers do not check before training starts.

`learning_rate: -1` or `num_train_epochs: .nan` pass their parsers and fail (or silently train
nothing) minutes later. Each rule names the key, what it must be and an example fix; every
broken value is reported with the other validation problems.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from recipes.errors import Problem
from recipes.recipe import PhasePlan, Recipe
from recipes.schema import key_label


@dataclass(frozen=True)
class Rule:
    must_be: str
    ok: Callable[[float], bool]
    fix: str


def _positive(x: float) -> bool:
    return x > 0


def _at_least_one(x: float) -> bool:
    return x >= 1


POSITIVE = "a positive number"
POSITIVE_INT = "a positive integer"
RULES: dict[str, Rule] = {
    "learning_rate": Rule(POSITIVE, _positive, "learning_rate: 1.0e-4"),
    "num_train_epochs": Rule(POSITIVE, _positive, "num_train_epochs: 3.0"),
    # -1 is transformers' "not set: train num_train_epochs"
    "max_steps": Rule("a positive integer, or -1 to train num_train_epochs", lambda x: x >= 1 or x == -1,
                      "max_steps: 100 (or -1)"),
    # a float below 1 is a share of the total steps (transformers)
    "save_steps": Rule(POSITIVE, _positive, "save_steps: 500"),
    "logging_steps": Rule(POSITIVE, _positive, "logging_steps: 10"),
    "eval_steps": Rule(POSITIVE, _positive, "eval_steps: 500"),
    "warmup_steps": Rule("zero or more", lambda x: x >= 0, "warmup_steps: 0"),
    "warmup_ratio": Rule("between 0 and 1", lambda x: 0 <= x <= 1, "warmup_ratio: 0.1"),
    "gradient_accumulation_steps": Rule(POSITIVE_INT, _at_least_one, "gradient_accumulation_steps: 1"),
    "per_device_train_batch_size": Rule(POSITIVE_INT, _at_least_one, "per_device_train_batch_size: 1"),
    "per_device_eval_batch_size": Rule(POSITIVE_INT, _at_least_one, "per_device_eval_batch_size: 1"),
    "cutoff_len": Rule(POSITIVE_INT, _at_least_one, "cutoff_len: 2048"),
    "lora_rank": Rule(POSITIVE_INT, _at_least_one, "lora_rank: 16"),
    "lora_dropout": Rule("at least 0 and below 1", lambda x: 0 <= x < 1, "lora_dropout: 0.05"),
    "module_dropout": Rule("at least 0 and below 1", lambda x: 0 <= x < 1, "module_dropout: 0.0"),
}


def check_ranges(recipe: Recipe, plan: PhasePlan, bad_keys: set[str]) -> list[Problem]:
    """Numbers outside their range, and NaN or infinity anywhere; keys already reported are skipped."""
    problems: list[Problem] = []
    for key, value in plan.args.items():
        if key in bad_keys or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        rule = RULES.get(key)
        label, path = key_label(plan, key)
        if not math.isfinite(value):
            must_be = rule.must_be if rule else "a finite number"
            problems.append(Problem(label, f"must be {must_be}, not NaN or infinity",
                                    rule.fix if rule else f"remove {key} or set a number", value, recipe.where(*path)))
        elif rule is not None and not rule.ok(value):
            problems.append(Problem(label, f"must be {rule.must_be}", rule.fix, value, recipe.where(*path)))
    return problems

