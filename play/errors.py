"""Exceptions of the play layer (one module, one-line docstrings)."""

from __future__ import annotations

from ordebug.errors import OrDebugError


class PolicyError(OrDebugError):
    """A policy could not answer (an LLM call failed for good): the episode ends as a recorded error."""


class Stop(Exception):
    """Raised by a policy to leave its episode unwritten and stop taking new ones (budget spent)."""


class Abort(Stop):
    """A Stop that fails the whole run (the endpoint refuses the key, model or URL)."""


class FeasibleAtReset(Exception):
    """The problem's model solves to OPTIMAL before any action: not a debugging problem."""


#: Why a problem is skipped: its model is already OPTIMAL at reset, so there is nothing to debug.
FEASIBLE_AT_RESET = "feasible_at_reset"


def describe(exc: BaseException) -> str:
    """The error text an episode records: a PolicyError's own message, else ``Type: message``."""
    return str(exc) if isinstance(exc, PolicyError) else f"{type(exc).__name__}: {exc}"
