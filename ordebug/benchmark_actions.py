"""Does a sample's answer parse as the benchmark's RL stage parses it?

The OR-Debug-Bench RL stage (TRL GRPO, single step) reads a completion with the regular expression
``Action:\\s*(\\w+)\\s*(?:\\(([^)]*)\\))?`` (case-insensitive, the FIRST match anywhere, the
``<think>`` included) and knows eight actions; any other name is a syntax error (reward -50).
This module applies exactly that rule to every SFT answer, so a dataset can promise that its
labels are actions the next stage accepts (docs/actions.md, "Benchmark compatibility").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The RL stage's action regex, verbatim.
RL_ACTION = re.compile(r"Action:\s*(\w+)\s*(?:\(([^)]*)\))?", re.IGNORECASE)
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)

#: The benchmark's eight actions: name -> argument kinds ("name" or "number"), in order.
BENCHMARK_ACTIONS: dict[str, tuple[str, ...]] = {
    "GET_IIS": (),
    "CHECK_SLACK": ("name",),
    "RELAX_CONSTRAINT": ("name", "number"),
    "DROP_CONSTRAINT": ("name",),
    "UPDATE_RHS": ("name", "number"),
    "UPDATE_BOUNDS": ("name", "number", "number"),
    "RESET": (),
    "SUBMIT": (),
}


@dataclass(frozen=True)
class Compatibility:
    """The verdict on one answer: ``reason`` is None when the RL stage accepts it."""

    action: str | None
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def check_benchmark_action(answer: str) -> Compatibility:
    """Parse ``answer`` as the RL stage does; reasons: ``action_in_reasoning`` (an ``Action:``
    phrase inside ``<think>``, which the first-match rule would read), ``no_action``,
    ``unknown_action``, ``wrong_arity``, ``not_a_number``."""
    for think in _THINK.findall(answer):
        inside = RL_ACTION.search(think)
        if inside:
            return Compatibility(None, "action_in_reasoning", f"<think> contains {inside.group(0)!r}")
    match = RL_ACTION.search(answer)
    if match is None:
        return Compatibility(None, "no_action", "no 'Action: NAME(...)' in the answer")
    name = match.group(1).upper()
    kinds = BENCHMARK_ACTIONS.get(name)
    if kinds is None:
        return Compatibility(name, "unknown_action", f"{match.group(1)} is not one of the benchmark's eight actions")
    body = (match.group(2) or "").strip()
    args = [a.strip().strip("'\"") for a in body.split(",")] if body else []
    # UPDATE_BOUNDS needs exactly its three values (the stage sets both bounds); the others read
    # the arguments they need and ignore extra ones
    if len(args) < len(kinds) or (name == "UPDATE_BOUNDS" and len(args) != len(kinds)):
        return Compatibility(name, "wrong_arity", f"{name} takes {len(kinds)} value(s), got {len(args)}: {body!r}")
    for arg, kind in zip(args, kinds, strict=False):  # extra arguments: ignored, as the stage does
        if kind == "number":
            try:
                float(arg)
            except ValueError:
                return Compatibility(name, "not_a_number", f"{name}: {arg!r} is not a number")
    return Compatibility(name)
