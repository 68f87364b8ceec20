"""Does an answer's action name a constraint or variable the model has?

``DROP_CONSTRAINT(no_such_constraint_xyz)`` parses, but teaches the student to invent names.
The names are checked against what the sample's prompt lists, else against the model file:

- constraint actions (DROP/RELAX_CONSTRAINT, CHECK_SLACK, UPDATE_RHS): the prompt's
  ``Constraint Names: [...]`` is the current model's when it is complete (as many names as
  ``Constraints: N``; the rich layout caps long lists). Otherwise the model file decides.
- variable actions (UPDATE_BOUNDS): no layout lists every variable, so a name shown in the
  prompt is known; any other is looked up in the model file.

Without a complete list or a readable model file the question is undecidable and the sample is
kept (the card counts only what was shown to be unknown).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

from ordebug.actions import ActionName, parse_action
from ordebug.answer import ACTION_PREFIX
from ordebug.errors import ActionParseError, OrDebugError

CONSTRAINT_ACTIONS = frozenset(
    {ActionName.DROP_CONSTRAINT, ActionName.RELAX_CONSTRAINT, ActionName.CHECK_SLACK, ActionName.UPDATE_RHS}
)
VARIABLE_ACTIONS = frozenset({ActionName.UPDATE_BOUNDS})



@lru_cache(maxsize=100_000)
def _target(action_line: str) -> tuple[str, str] | None:
    """("constraint" | "variable", name) of an ``Action: ...`` line, None when it names nothing."""
    try:
        action = parse_action(action_line.removeprefix(ACTION_PREFIX).strip(), lenient=True)
    except ActionParseError:
        return None
    if action.target is None:
        return None
    return ("constraint" if action.name in CONSTRAINT_ACTIONS else "variable"), action.target


@lru_cache(maxsize=20_000)
def _name_list(text: str) -> frozenset[str] | None:
    try:
        names = ast.literal_eval(text)  # a Python list repr: parsed as a literal, never evaluated
    except (ValueError, SyntaxError):
        return None
    return frozenset(n for n in names if isinstance(n, str)) if isinstance(names, list) else None


def listed_constraints(prompt: str) -> frozenset[str] | None:
    """Every constraint name of the model as the prompt lists them; None when the list is partial."""
    names, count = _line_after(prompt, "\nConstraint Names: "), _line_after(prompt, "\nConstraints: ")
    if names is None or count is None or not count.isdigit():
        return None
    listed = _name_list(names)  # None for a capped list ("[...] … and 12 more")
    return listed if listed is not None and len(listed) == int(count) else None


def _line_after(text: str, label: str) -> str | None:
    # str.find, not a regex: this runs once per sample of conversions with millions of them
    i = text.find(label)
    if i < 0:
        return None
    i += len(label)
    j = text.find("\n", i)
    return text[i:] if j < 0 else text[i:j]


def _shown(name: str, prompt: str) -> bool:
    # as a whole token: in a list repr ('x1'), in algebra (2 x1 +) or as a bound line (x1: [0, 5])
    return re.search(rf"(?<![\w.\[\]]){re.escape(name)}(?![\w.\[\]])", prompt) is not None


@lru_cache(maxsize=4096)
def model_names(path: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(constraint names, variable names) of a model file; None when it cannot be read."""
    if not Path(path).is_file():
        return None
    from ordebug.solver import read_model

    try:
        model = read_model(path)
    except OrDebugError:
        return None
    try:
        constraints = frozenset(c.ConstrName for c in model.getConstrs())
        return constraints, frozenset(v.VarName for v in model.getVars())
    finally:
        model.dispose()


def unknown_target(output: str, prompt: str, model_file: str | None) -> str | None:
    """Why the answer's action names an element the model does not have (None: known or undecidable).

    ``model_file``: the problem's model (a trajectory's model_path, a legacy file's models/<id>.mps),
    read only when the prompt cannot decide.
    """
    target = _target(output.rstrip().rpartition("\n")[2])
    if target is None:
        return None
    kind, name = target
    if kind == "constraint":
        listed = listed_constraints(prompt)
        if listed is not None:
            return None if name in listed else f"constraint {name!r} is not among the prompt's names"
    elif _shown(name, prompt):
        return None
    names = model_names(model_file) if model_file else None
    if names is None:
        return None
    known = names[0] if kind == "constraint" else names[1]
    return None if name in known else f"{kind} {name!r} is not in the model {model_file}"

