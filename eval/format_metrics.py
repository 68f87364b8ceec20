"""Per-step format compliance of a model answer.

The answer format is ``ordebug.answer``'s: ``<think>\\n…\\n</think>\\n\\nAction: NAME(args)``.
Here we only *measure* it, one boolean per property, so a report can say which part of the
format a model gets wrong. Parsing is ``ordebug.answer.parse_answer`` (strict and lenient);
nothing in the answer is ever executed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from eval.metric_registry import STEP_RATES
from eval.schema import StepFormat
from ordebug.actions import PARAMS, Action, ActionName
from ordebug.answer import THINK_CLOSE as CLOSE
from ordebug.answer import THINK_OPEN as OPEN
from ordebug.answer import parse_answer

#: Actions whose target is a variable (everything else with a target names a constraint).
VARIABLE_ACTIONS = frozenset({ActionName.UPDATE_BOUNDS})


@dataclass(frozen=True)
class Names:
    """The names an action may refer to; None means "cannot be checked"."""

    constraints: frozenset[str] | None = None
    variables: frozenset[str] | None = None

    @classmethod
    def of(cls, constraints: Collection[str] | None, variables: Collection[str] | None) -> Names:
        return cls(
            frozenset(constraints) if constraints is not None else None,
            frozenset(variables) if variables is not None else None,
        )


def think_checks(text: str) -> tuple[bool, bool, bool]:
    """(present, balanced, non-empty) for the <think> block of ``text``."""
    n_open, n_close = text.count(OPEN), text.count(CLOSE)
    present = n_open > 0
    balanced = n_open == 1 and n_close == 1 and text.index(OPEN) < text.index(CLOSE)
    nonempty = balanced and bool(text[text.index(OPEN) + len(OPEN) : text.index(CLOSE)].strip())
    return present, balanced, nonempty


def args_valid(action: Action, names: Names) -> tuple[bool | None, str | None]:
    """Whether the action's target exists in the model; amounts are finite by the grammar.

    Returns (None, None) when the target's kind of names is unknown (cannot be checked).
    """
    if not PARAMS[action.name]:
        return True, None  # GET_IIS(), SUBMIT(), RESET(): nothing to check
    pool, kind = (
        (names.variables, "variable")
        if action.name in VARIABLE_ACTIONS
        else (names.constraints, "constraint")
    )
    if pool is None:
        return None, None
    if action.target not in pool:
        return False, f"{kind} {action.target!r} does not exist in the model"
    return True, None


@dataclass(frozen=True)
class ScoredAnswer:
    """The format facts of one answer and the actions it names under each parse mode."""

    format: StepFormat
    strict: Action | None
    lenient: Action | None
    strict_error: str | None
    lenient_error: str | None

    def action(self, mode: str) -> tuple[Action | None, str | None]:
        """(action, why none) under parse mode ``mode`` ("lenient" or "strict")."""
        if mode == "strict":
            return self.strict, self.strict_error
        return self.lenient, self.lenient_error


def score_answer(text: str, names: Names | None = None) -> ScoredAnswer:
    """Score one answer (never raises on bad model output)."""
    names = names or Names()
    present, balanced, nonempty = think_checks(text)
    strict = parse_answer(text, lenient=False)
    lenient = parse_answer(text, lenient=True)
    valid, arg_error = (None, None) if lenient.action is None else args_valid(lenient.action, names)
    # ordebug's think_ok also refuses text before <think>; present/balanced/non-empty say which part failed
    think_ok = present and balanced and nonempty and strict.think_ok
    action_strict = strict.action is not None
    format_ok = think_ok and action_strict and valid is not False
    error = None
    if not present:
        error = "no <think> block"
    elif not balanced:
        error = f"unbalanced think tags ({text.count(OPEN)} {OPEN}, {text.count(CLOSE)} {CLOSE})"
    elif not nonempty:
        error = "empty <think> block"
    elif not think_ok:
        error = strict.think_error
    elif not action_strict:
        error = strict.action_error or strict.think_error or "no strict action"
    elif valid is False:
        error = arg_error
    fmt = StepFormat(
        think_present=present,
        think_balanced=balanced,
        think_nonempty=nonempty,
        think_ok=think_ok,
        n_actions=lenient.n_actions,
        action_strict=action_strict,
        action_lenient=lenient.action is not None,
        one_action=lenient.n_actions == 1,
        args_valid=valid,
        format_ok=format_ok,
        error=error,
    )
    return ScoredAnswer(fmt, strict.action, lenient.action, strict.action_error, lenient.action_error)


def step_rates(formats: list[StepFormat]) -> dict[str, float | None]:
    """Micro-averaged rates over steps (args_valid over steps where it could be checked)."""
    out: dict[str, float | None] = {}
    for key in STEP_RATES:  # each is a StepFormat field (eval.metric_registry)
        values = [getattr(f, key) for f in formats]
        values = [v for v in values if v is not None]
        out[key] = sum(bool(v) for v in values) / len(values) if values else None
    return out
