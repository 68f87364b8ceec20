"""The action grammar: one strict text form per action, parsed without ever evaluating text.

Grammar (strict)::

    action   := NAME "(" [arg ("," arg)*] ")"        one line, NAME upper case, exact arity
    arg      := name | number
    name     := unquoted | "'" chars "'" | '"' chars '"'
    unquoted := [letters digits _ . [ ] : - + # $ @ / { } ~ ! ? | & ^ % < >]+
                (commas inside [...] belong to the name, so Gurobi's x[1,2] works)
    number   := [+-]? digits [. digits] [e[+-]digits]   finite; "inf"/"-inf" only as UPDATE_BOUNDS bounds

Lenient mode (for legacy data and free-form model output) also accepts: any case in the action
name, a leading "Action:" and surrounding backticks/asterisks, a trailing "." or ";", keyword
arguments (``amount=1.5``), quoted numbers, surplus *numeric* arguments of actions that take no
number (legacy ``DROP_CONSTRAINT(c, 0.0)`` -> ``DROP_CONSTRAINT(c)``), and
``UPDATE_BOUNDS(var, lb)`` (legacy: new lower bound, upper bound unchanged).

Canonical text (``str(action)``): ``NAME(arg, arg)`` with ", " separators, names unquoted when the
grammar allows, else quoted; numbers as Python's shortest ``repr`` of the float (``1.0``, ``5e-07``,
``1e+16``, ``inf``); ``-0.0`` is stored as ``0.0``. ``parse_action(str(a)) == a`` for every action
except the lenient-only one-bound ``UPDATE_BOUNDS`` (which round-trips with ``lenient=True``).
"""

from __future__ import annotations

import functools
import math
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ordebug.errors import ActionParseError


class ActionName(StrEnum):
    """Every action the episode knows."""

    GET_IIS = "GET_IIS"
    DROP_CONSTRAINT = "DROP_CONSTRAINT"
    RELAX_CONSTRAINT = "RELAX_CONSTRAINT"
    SUBMIT = "SUBMIT"
    CHECK_SLACK = "CHECK_SLACK"
    UPDATE_RHS = "UPDATE_RHS"
    UPDATE_BOUNDS = "UPDATE_BOUNDS"
    RESET = "RESET"
    WHATIF_RELAX = "WHATIF_RELAX"
    WHATIF_DROP = "WHATIF_DROP"
    WHATIF_IIS = "WHATIF_IIS"


#: The actions of the legacy system prompt (and of the legacy SFT data, apart from a few UPDATE_*).
CORE_ACTIONS: tuple[ActionName, ...] = (
    ActionName.GET_IIS,
    ActionName.DROP_CONSTRAINT,
    ActionName.RELAX_CONSTRAINT,
    ActionName.SUBMIT,
)
#: The further actions of OR-Debug-Bench.
EXTENDED_ACTIONS: tuple[ActionName, ...] = (
    ActionName.CHECK_SLACK,
    ActionName.UPDATE_RHS,
    ActionName.UPDATE_BOUNDS,
    ActionName.RESET,
)
#: The what-if extension (not part of OR-Debug-Bench): questions to the solver about a candidate
#: repair, answered in the next observation without changing the model. An episode offers them
#: only when configured with ``whatif=True`` (see ordebug.whatif and docs/actions.md):
#:
#: * ``WHATIF_RELAX(name)``: for a constraint, the least ``RELAX_CONSTRAINT(name, a)`` that alone
#:   makes the model OPTIMAL (a rounded up to 6 significant digits, verified) and its objective,
#:   and the amount from which relaxing further no longer improves the objective; for a variable,
#:   the same for the least ``UPDATE_BOUNDS`` move of its bounds.
#: * ``WHATIF_DROP(name)``: status and objective of the model without constraint ``name``.
#: * ``WHATIF_IIS()``: ``WHATIF_RELAX`` of each member of the current IIS (the first 20), and,
#:   when none suffices alone, the least combined repair (ordebug.oracle.minimal_repair).
WHATIF_ACTIONS: tuple[ActionName, ...] = (
    ActionName.WHATIF_RELAX,
    ActionName.WHATIF_DROP,
    ActionName.WHATIF_IIS,
)
#: Actions that change the model (what Outcome.changes records).
MODEL_CHANGING_ACTIONS: frozenset[ActionName] = frozenset(
    {
        ActionName.DROP_CONSTRAINT,
        ActionName.RELAX_CONSTRAINT,
        ActionName.UPDATE_RHS,
        ActionName.UPDATE_BOUNDS,
        ActionName.RESET,
    }
)

ArgKind = Literal["name", "amount", "bound"]
#: Parameters of each action: (parameter name, kind). The first parameter, if any, is the target name.
PARAMS: dict[ActionName, tuple[tuple[str, ArgKind], ...]] = {
    ActionName.GET_IIS: (),
    ActionName.DROP_CONSTRAINT: (("name", "name"),),
    ActionName.RELAX_CONSTRAINT: (("name", "name"), ("amount", "amount")),
    ActionName.SUBMIT: (),
    ActionName.CHECK_SLACK: (("name", "name"),),
    ActionName.UPDATE_RHS: (("name", "name"), ("value", "amount")),
    ActionName.UPDATE_BOUNDS: (("var", "name"), ("lb", "bound"), ("ub", "bound")),
    ActionName.RESET: (),
    ActionName.WHATIF_RELAX: (("name", "name"),),
    ActionName.WHATIF_DROP: (("name", "name"),),
    ActionName.WHATIF_IIS: (),
}
#: Human signature of each action, e.g. "RELAX_CONSTRAINT(name, amount)" (for prompts and docs).
SIGNATURES: dict[ActionName, str] = {a: f"{a}({', '.join(p for p, _ in ps)})" for a, ps in PARAMS.items()}

MAX_NAME_LEN = 255  # Gurobi's limit on constraint/variable names
_UNQUOTED_CHARS = r"\w.\[\]:\-+#$@/{}~!?|&^%<>"
# commas are allowed too, but only inside [...]: a top-level comma separates arguments
_UNQUOTED = re.compile(rf"[{_UNQUOTED_CHARS},]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INF = re.compile(r"[+-]?inf(?:inity)?", re.IGNORECASE)
_NAN = re.compile(r"[+-]?nan", re.IGNORECASE)
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)")
_KEYWORD = re.compile(r"([A-Za-z_]\w*)\s*=\s*(.*)", re.DOTALL)


def _arity_text(name: ActionName) -> str:
    params = PARAMS[name]
    if not params:
        return f"{name} takes no arguments"
    word = "argument" if len(params) == 1 else "arguments"
    return f"{name} takes {len(params)} {word} ({', '.join(p for p, _ in params)})"


def _check_name(name: str, what: str) -> None:
    if not name:
        raise ActionParseError(f"{what} is empty")
    if len(name) > MAX_NAME_LEN:
        raise ActionParseError(
            f"{what} is {len(name)} characters long; Gurobi names have at most {MAX_NAME_LEN}"
        )
    if not name.isprintable():
        raise ActionParseError(f"{what} {name!r} contains a control character or line break")
    if "'" in name and '"' in name:
        raise ActionParseError(f"{what} {name!r} contains both quote characters and cannot be written")


def _check_values(name: ActionName, values: tuple[float, ...], lenient: bool = True) -> None:
    params = PARAMS[name][1:]
    n_ok = len(params) == len(values) or (lenient and name is ActionName.UPDATE_BOUNDS and len(values) == 1)
    if not n_ok:
        raise ActionParseError(f"{_arity_text(name)}, got {len(values) + (1 if PARAMS[name] else 0)}")
    for (param, kind), v in zip(params, values, strict=False):
        if math.isnan(v) or (kind == "amount" and math.isinf(v)):
            raise ActionParseError(f"{param} {_fmt(v)!r} is not a finite number")
    if name is ActionName.RELAX_CONSTRAINT and values[0] <= 0:
        raise ActionParseError(
            f"amount {_fmt(values[0])} must be positive (RELAX_CONSTRAINT loosens by the amount); "
            "use UPDATE_RHS to set a right-hand side"
        )
    if name is ActionName.UPDATE_BOUNDS:
        lb = values[0]
        ub = values[1] if len(values) > 1 else math.inf
        if lb == math.inf:
            raise ActionParseError("lb 'inf' is not a lower bound; use -inf for no lower bound")
        if ub == -math.inf:
            raise ActionParseError("ub '-inf' is not an upper bound; use inf for no upper bound")
        if lb > ub:
            raise ActionParseError(f"lb {_fmt(lb)} is greater than ub {_fmt(ub)}")


def _fmt(v: float) -> str:
    """Shortest repr of a float: 1.0, 0.5, 1e+16, inf, -inf."""
    return repr(float(v))


@functools.lru_cache(maxsize=4096)  # why: the canonical text of an action is built several times per step
def _needs_quotes(name: str) -> bool:
    # the name must stay one argument even with another argument after it (x[1,2 would swallow it)
    return not _UNQUOTED.fullmatch(name) or _split_args(f"{name}, 0", name) != [name, "0"]


def _quote(name: str) -> str:
    if not _needs_quotes(name):
        return name
    q = "'" if "'" not in name else '"'
    return f"{q}{name}{q}"


class Action(BaseModel):
    """One parsed action: ``name``, the ``target`` constraint/variable name (or None) and numeric ``values``.

    ``values`` holds the numbers after the target: (amount,) for RELAX_CONSTRAINT, (value,) for
    UPDATE_RHS, (lb, ub) for UPDATE_BOUNDS, or (lb,) for the legacy one-bound form (ub unchanged).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ActionName
    target: str | None = None
    values: tuple[float, ...] = ()

    @field_validator("values")
    @classmethod
    def _no_negative_zero(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(v + 0.0 for v in values)  # -0.0 + 0.0 == 0.0: one canonical zero

    @model_validator(mode="after")
    def _check(self) -> Action:
        if PARAMS[self.name]:
            if self.target is None:
                raise ActionParseError(f"{_arity_text(self.name)}, got none")
            _check_name(self.target, PARAMS[self.name][0][0])
            _check_values(self.name, self.values)
        elif self.target is not None or self.values:
            raise ActionParseError(f"{_arity_text(self.name)}, got {len(self.values) + 1}")
        return self

    def __str__(self) -> str:
        args = ([] if self.target is None else [_quote(self.target)]) + [_fmt(v) for v in self.values]
        return f"{self.name}({', '.join(args)})"

    @property
    def changes_model(self) -> bool:
        """Whether applying this action modifies the model."""
        return self.name in MODEL_CHANGING_ACTIONS

    @property
    def is_whatif(self) -> bool:
        """Whether this is a what-if question (no change; offered only with ``whatif=True``)."""
        return self.name in WHATIF_ACTIONS

    @property
    def amount(self) -> float | None:
        """RELAX_CONSTRAINT's amount (None for other actions)."""
        return self.values[0] if self.name is ActionName.RELAX_CONSTRAINT else None

    @property
    def value(self) -> float | None:
        """UPDATE_RHS's new right-hand side (None for other actions)."""
        return self.values[0] if self.name is ActionName.UPDATE_RHS else None

    @property
    def lb(self) -> float | None:
        """UPDATE_BOUNDS's new lower bound (None for other actions)."""
        return self.values[0] if self.name is ActionName.UPDATE_BOUNDS else None

    @property
    def ub(self) -> float | None:
        """UPDATE_BOUNDS's new upper bound; None for other actions and for the one-bound form (keep ub)."""
        if self.name is ActionName.UPDATE_BOUNDS and len(self.values) == 2:
            return self.values[1]
        return None


def _outside_quotes(body: str) -> tuple[list[bool], str | None]:
    """For each character, whether it is syntax (outside quotes, not a quote mark); and the quote left open."""
    syntax: list[bool] = []
    quote: str | None = None
    for ch in body:
        if quote:
            quote = None if ch == quote else quote
            syntax.append(False)
        elif ch in "'\"":
            quote = ch
            syntax.append(False)
        else:
            syntax.append(True)
    return syntax, quote


def _split_args(body: str, text: str) -> list[str]:
    """Split on commas outside quotes and outside [...] (Gurobi names like x[1,2])."""
    args: list[str] = []
    current: list[str] = []
    depth = 0
    syntax, open_quote = _outside_quotes(body)
    if open_quote:
        raise ActionParseError(f"unterminated {open_quote} quote in {text!r}", text)
    for ch, is_syntax in zip(body, syntax, strict=True):
        if is_syntax and ch == "[":
            depth += 1
        elif is_syntax and ch == "]":
            depth = max(0, depth - 1)
        elif is_syntax and ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    args.append("".join(current).strip())
    return [] if args == [""] else args


def _closes_early(body: str) -> bool:
    """Whether an unquoted ')' closes the call before its end, as in 'GET_IIS() SUBMIT()'."""
    depth = 0
    for ch, is_syntax in zip(body, _outside_quotes(body)[0], strict=True):
        if is_syntax and ch in "()":
            depth += 1 if ch == "(" else -1
            if depth < 0:
                return True
    return False


def _unquote(arg: str) -> tuple[str, bool]:
    if len(arg) >= 2 and arg[0] in "'\"" and arg[-1] == arg[0] and arg[0] not in arg[1:-1]:
        return arg[1:-1], True
    return arg, False


def _parse_name(arg: str, param: str, text: str) -> str:
    inner, quoted = _unquote(arg)
    if not quoted and not _UNQUOTED.fullmatch(arg):
        raise ActionParseError(
            f"invalid {param} {arg!r}: unquoted names may contain only letters, digits and "
            f"{' '.join(_UNQUOTED_CHARS.replace(chr(92), '').replace('w', ''))} (commas inside [...]); "
            "quote other names with ' or \"",
            text,
        )
    _check_name(inner, param)
    return inner


def _parse_number(arg: str, param: str, kind: ArgKind, lenient: bool, text: str) -> float:
    token = _unquote(arg)[0] if lenient else arg
    if _NAN.fullmatch(token):
        raise ActionParseError(f"{param} {arg!r} is not a finite number", text)
    if _INF.fullmatch(token):
        if kind != "bound":
            raise ActionParseError(f"{param} {arg!r} is not a finite number", text)
        return -math.inf if token.startswith("-") else math.inf
    if not _NUMBER.fullmatch(token):
        raise ActionParseError(f"{param} {arg!r} is not a number", text)
    value = float(token)
    if math.isinf(value) and kind != "bound":
        raise ActionParseError(f"{param} {arg!r} is not a finite number", text)
    return value


def _is_number(arg: str) -> bool:
    token = _unquote(arg)[0]
    return bool(_NUMBER.fullmatch(token) or _INF.fullmatch(token) or _NAN.fullmatch(token))


def _lenient_clean(text: str) -> str:
    s = text.strip().strip("`*").strip()
    s = re.sub(r"^\**action\**\s*:\s*\**", "", s, flags=re.IGNORECASE).strip().strip("`*").strip()
    return s.rstrip(".;").strip().strip("`*").strip()


def parse_action(text: str, *, lenient: bool = False) -> Action:
    """Parse one action; raise ActionParseError saying exactly why ``text`` is not one.

    Strict: the canonical grammar (see module docstring). Lenient: also what legacy data and
    free-form model output contain. Text is only ever matched, never evaluated.
    """
    if not isinstance(text, str):
        raise ActionParseError(f"expected action text, got {type(text).__name__}")
    s = _lenient_clean(text) if lenient else text.strip()
    if not s:
        raise ActionParseError("empty action text", text)
    if "\n" in s or "\r" in s:
        raise ActionParseError(f"an action is one line; got a line break in {text!r}", text)
    m = _CALL.fullmatch(s)
    if not m:
        raise ActionParseError(
            f"{s!r} is not of the form NAME(arguments), e.g. DROP_CONSTRAINT(c3) or GET_IIS()", text
        )
    raw_name, body = m.group(1), m.group(2)
    key = raw_name.upper() if lenient else raw_name
    if key not in ActionName.__members__:
        hint = " (action names are upper case)" if raw_name.upper() in ActionName.__members__ else ""
        raise ActionParseError(f"unknown action {raw_name!r}{hint}; known: {', '.join(ActionName)}", text)
    name = ActionName(key)
    params = PARAMS[name]
    if _closes_early(body):
        raise ActionParseError(
            f"{s!r} has text after the action's closing parenthesis; write one action", text
        )
    args = _split_args(body, text)

    if lenient:
        args = _lenient_args(name, args, text)
    n_ok = len(args) == len(params) or (lenient and name is ActionName.UPDATE_BOUNDS and len(args) == 2)
    if not n_ok:
        raise ActionParseError(f"{_arity_text(name)}, got {len(args)}", text)
    for i, arg in enumerate(args):
        if arg == "":
            raise ActionParseError(f"argument {i + 1} ({params[i][0]}) of {name} is empty", text)
    if not params:
        return Action(name=name)
    target = _parse_name(args[0], params[0][0], text)
    values = tuple(
        _parse_number(arg, param, kind, lenient, text)
        for arg, (param, kind) in zip(args[1:], params[1:], strict=False)
    )
    try:
        _check_values(name, values, lenient=lenient)
    except ActionParseError as err:
        raise ActionParseError(err.reason, text) from None
    return Action(name=name, target=target, values=values)


def _lenient_args(name: ActionName, args: list[str], text: str) -> list[str]:
    """Keyword arguments to positions; surplus numbers after a number-free action's name dropped."""
    params = PARAMS[name]
    names = [p for p, _ in params]
    keywords = [_KEYWORD.fullmatch(a) for a in args]
    if any(kw and kw.group(1).lower() in names for kw in keywords):
        placed: dict[int, str] = {}
        for i, (arg, kw) in enumerate(zip(args, keywords, strict=True)):
            if kw and kw.group(1).lower() in names:
                placed[names.index(kw.group(1).lower())] = kw.group(2).strip()
            else:
                placed[i] = arg
        if sorted(placed) != list(range(len(placed))):
            raise ActionParseError(f"{_arity_text(name)}; keyword arguments leave a gap in {text!r}", text)
        args = [placed[i] for i in range(len(placed))]
    takes_numbers = any(kind != "name" for _, kind in params)
    if not takes_numbers and len(args) > len(params) and all(_is_number(a) for a in args[len(params) :]):
        args = args[: len(params)]
    return args
