"""Errors of the evaluation harness (one line each: what, where, the fix).

They subclass ``ordebug.errors.OrDebugError`` so every CLI handles them the same way:
print ``str(err)`` and exit with code 2.
"""

from __future__ import annotations

from ordebug.errors import OrDebugError
from play.errors import PolicyError as PlayPolicyError


class EvalError(OrDebugError):
    """Base of every eval error."""


class EvalConfigError(EvalError):
    """Conflicting or missing CLI options, or an unusable run directory / dataset card."""


class PredictionsFormatError(EvalError):
    """A predictions or tool-call file line is not what the scorer reads (names file and line)."""


class PolicyError(EvalError, PlayPolicyError):
    """A policy could not be built or failed to answer (e.g. endpoint unreachable)."""
