"""Every error the recipes package raises; the CLIs turn them into readable lines and exit code 2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from foundation.errors import ToolkitError


class RecipeError(ToolkitError):
    """Base class: a recipe, run directory or launch problem, with a message that says the fix."""

    ONE_LINE = False  # validation lists every problem, one per line


class RecipeNotFoundError(RecipeError):
    """No recipe of that name or path (the message lists close names)."""


class RecipeFormatError(RecipeError):
    """A recipe file cannot be read: YAML syntax, a bad wrapper key, an inheritance cycle, a bad override."""


class RunDirError(RecipeError):
    """The run directory holds something the requested action would destroy or cannot continue."""


class LaunchError(RecipeError):
    """Training could not start or did not finish (the run's manifest records which)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe: where (key path and file:line), what it got, and the fix."""

    key: str
    message: str
    fix: str = ""
    value: Any = None
    where: str = ""
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        got = f" (got {self.value!r})" if self.value is not None else ""
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{where}{self.key}: {self.message}{got}{fix}"


class RecipeValidationError(RecipeError):
    """A recipe has problems; all of them are listed at once, one per line."""

    def __init__(self, recipe: str, problems: list[Problem]) -> None:
        self.recipe = recipe
        self.problems = problems
        lines = [f"recipe {recipe} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))
