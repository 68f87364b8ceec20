"""LLaMA-Factory's argument schema, read from its own dataclasses: known keys, types, did-you-mean.

Every key a recipe sets is checked against the dataclasses LLaMA-Factory's training parser uses
(`llamafactory.hparams.parser._TRAIN_ARGS`), with pydantic validating each value against the
field's annotation, so unknown keys and wrong types are all reported at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from enum import Enum
from functools import cache
from typing import Any, Literal

from pydantic import ValidationError

from recipes.errors import Problem
from recipes.recipe import PhasePlan, Recipe

#: Common names people type for LLaMA-Factory keys.
ALIASES = {
    "lr": "learning_rate", "epochs": "num_train_epochs", "num_epochs": "num_train_epochs",
    "batch_size": "per_device_train_batch_size", "train_batch_size": "per_device_train_batch_size",
    "grad_accum": "gradient_accumulation_steps", "gradient_accumulation": "gradient_accumulation_steps",
    "lora_r": "lora_rank", "r": "lora_rank", "max_length": "cutoff_len", "max_seq_length": "cutoff_len",
    "max_seq_len": "cutoff_len", "model": "model_name_or_path", "model_path": "model_name_or_path",
    "evaluation_strategy": "eval_strategy", "target_modules": "lora_target",
    "lora_target_modules": "lora_target", "datasets": "dataset", "warmup": "warmup_ratio",
}


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    name: str
    hint: Any
    default: Any


@cache
def lf_fields() -> dict[str, FieldSpec]:
    """Every key LLaMA-Factory's training parser accepts, with its type and default.

    From the saved snapshot when it matches the installed versions, so a recipe with a wrong key or
    type is rejected before torch, transformers or LLaMA-Factory are imported (recipes/schema_snapshot.py).
    """
    from recipes import schema_snapshot

    found = schema_snapshot.load() or schema_snapshot.live_fields()
    return {name: FieldSpec(name, hint, default) for name, (hint, default) in found.items()}


@cache
def _adapter(hint: Any) -> Any:
    from pydantic import ConfigDict, PydanticSchemaGenerationError, PydanticUserError, TypeAdapter

    try:
        return TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError):  # leave it to LLaMA-Factory's parser
        return None


def describe_type(hint: Any) -> str:
    """A type as a person reads it: 'an integer', 'one of cosine, linear', 'a number or null'."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if hint is dict or origin is dict:
        return "a mapping"
    if hint is list or origin is list:
        return "a list"
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "one of " + ", ".join(str(m.value) for m in hint)
    if args:  # a union
        parts = [describe_type(a) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        return text + " or null" if type(None) in args else text
    return getattr(hint, "__name__", str(hint))


def _example(spec: FieldSpec) -> str:
    default = spec.default
    if isinstance(default, Enum):
        default = default.value
    if default is None or default == "":
        return f"{spec.name}: <{describe_type(spec.hint)}>"
    return f"{spec.name}: {json.dumps(default) if isinstance(default, str) else default} ({describe_type(spec.hint)})"


def suggest(key: str, known: list[str]) -> list[str]:
    if key in ALIASES:
        return [ALIASES[key]]
    # close matches first; looser ones only when nothing is close (fewer red herrings)
    return difflib.get_close_matches(key, known, n=3, cutoff=0.8) or difflib.get_close_matches(key, known, n=3,
                                                                                             cutoff=0.6)


def key_label(plan: PhasePlan, key: str) -> tuple[str, tuple[Any, ...]]:
    """Key path for messages: `lora_rank`, or `phases.NAME.lora_rank` for a phase's own key."""
    if plan.prefix and key in plan.own_keys:
        return f"phases.{plan.name}.{key}", (*plan.prefix, key)
    return key, (key,)


def check_keys_and_types(recipe: Recipe, plan: PhasePlan) -> list[Problem]:
    """Unknown keys and wrong types; coerces string numbers (`'5e-5'`) in plan.args in place."""
    fields = lf_fields()
    problems: list[Problem] = []
    for key in list(plan.args):
        value = plan.args[key]
        label, path = key_label(plan, key)
        where = recipe.where(*path)
        spec = fields.get(key)
        if key.endswith("_token") and value:
            problems.append(Problem(label, "credentials are never written into recipes or run directories",
                                    "remove it and set HF_TOKEN in the environment instead", "***", where))
            continue
        if spec is None:
            close = suggest(key, list(fields))
            fix = f"did you mean {' or '.join(close)}?" if close else "remove it (LLaMA-Factory has no such key)"
            problems.append(Problem(label, "unknown key", fix, value, where))
            continue
        adapter = _adapter(spec.hint)
        if adapter is None:
            continue
        try:
            checked = adapter.validate_python(value)
        except ValidationError:
            fix = _example(spec)
            if isinstance(value, list) and all(isinstance(v, str) for v in value) and "str" in str(spec.hint):
                fix = f"{key}: {','.join(value)} (comma-separated)"
            problems.append(Problem(label, f"expected {describe_type(spec.hint)}", fix, value, where))
            continue
        if isinstance(value, str) and isinstance(checked, bool | int | float):
            plan.args[key] = checked  # "5e-5" → 5e-05: LLaMA-Factory would pass the string on
    return problems
