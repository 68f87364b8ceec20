"""Errors of the evaluation harness (one line each: what, where, the fix).

They subclass the project's one base, ``foundation.errors.ToolkitError``, so every CLI handles
them the same way (``foundation.cli.run_main``): print ``str(err)`` and exit with code 2.
"""

from __future__ import annotations

from foundation.errors import ToolkitError
from play.errors import PolicyError as PlayPolicyError


class EvalError(ToolkitError):
    """Base of every eval error."""


class EvalConfigError(EvalError):
    """Conflicting or missing CLI options, or an unusable run directory / dataset card."""


class PredictionsFormatError(EvalError):
    """A predictions or tool-call file line is not what the scorer reads (names file and line)."""


class PolicyError(EvalError, PlayPolicyError):
    """A policy could not be built or failed to answer (e.g. endpoint unreachable)."""
