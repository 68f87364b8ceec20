"""Errors of the RL hand-off (one line each, naming where and the fix)."""

from __future__ import annotations

from foundation.errors import ToolkitError


class RLError(ToolkitError):
    """Bad input to an RL command: a missing dataset card, a bad row, a bad YAML key."""
