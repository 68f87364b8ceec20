"""Every error the studies package raises; the CLI prints them and exits with code 2."""

from __future__ import annotations

from foundation.errors import ToolkitError
from recipes.errors import Problem


class StudyError(ToolkitError):
    """Base class: a study file or a study run cannot go on; the message says the fix."""

    ONE_LINE = False  # a validation error lists every problem, one per line


class StudyNotFoundError(StudyError):
    """No study file of that name or path (the message lists close names)."""


class StudyValidationError(StudyError):
    """A study has problems (its file or any cell's recipe); all are listed at once, one per line."""

    def __init__(self, study: str, problems: list[Problem]) -> None:
        self.study = study
        self.problems = problems
        lines = [(f"study {study} has {len(problems)} problem{'s' if len(problems) != 1 else ''} "
                 "(nothing was trained):")]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))
