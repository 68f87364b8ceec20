"""The one error base of the project: a message, where it happened and the fix.

Every package's errors derive from :class:`ToolkitError` (``ordebug.errors.OrDebugError``,
``converters.errors.ConvertError``, ``eval.errors.EvalError``, ``recipes.errors.RecipeError``), so
one CLI wrapper (:func:`foundation.cli.run_main`) turns any of them into one readable line and exit 2.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base of every project error; ``str()`` is ``where: message; fix`` on one line.

    ``ONE_LINE = False`` lets a subclass keep a message of several lines (a list of every problem
    found at once, e.g. recipe validation).
    """

    ONE_LINE = True

    def __init__(self, message: str = "", *, where: str | None = None, fix: str | None = None) -> None:
        self.where = where
        self.fix = fix
        text = " ".join(message.split()) if self.ONE_LINE else message  # whatever was interpolated
        if where:
            text = f"{where}: {text}"
        if fix:
            text = f"{text}; {fix}"
        super().__init__(text)


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> str:
    """``unknown <kind> 'x'; did you mean 'y'? known <kind>s: a, b, c`` (the hint only when one is close)."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {name!r}; {hint}known {kind}s: {', '.join(known)}"
