"""Domain exceptions of the benchmark world, flat in one module.

Every message is one line: what is wrong, where (file, line, key or action text) and
what to do. The project's one base, ``foundation.errors.ToolkitError``, carries ``where`` and
``fix``; every CLI's ``main`` (``foundation.cli.run_main``) prints it and exits with code 2.
"""

from __future__ import annotations

from foundation.errors import ToolkitError


class OrDebugError(ToolkitError):
    """Base of every ordebug error; ``str()`` is one readable line naming where and the fix."""


class ProblemLoadError(OrDebugError):
    """A problem, model file or dataset.json could not be loaded."""


class LicenseLimitError(ProblemLoadError):
    """A model exceeds the size-limited pip licence of gurobipy (2000 variables / 2000 constraints)."""


class ActionParseError(OrDebugError, ValueError):
    """Text is not an action of the grammar; ``.reason`` says why, ``.text`` is the offending text."""

    def __init__(self, reason: str, text: str | None = None) -> None:
        self.reason = " ".join(reason.split())
        self.text = text
        super().__init__(self.reason)


class AnswerFormatError(OrDebugError, ValueError):
    """An answer cannot be formatted, e.g. reasoning that itself contains <think> tags."""


class InvalidActionError(OrDebugError, ValueError):
    """A well-formed action that does not apply to this model (unknown name, wrong kind of element)."""


class EpisodeError(OrDebugError):
    """An episode was used wrongly, e.g. step() before reset() or after it ended."""
