"""Errors of the converters: one readable line naming the file, line or key and the fix."""

from __future__ import annotations

from foundation.errors import ToolkitError


class ConvertError(ToolkitError):
    """Input data cannot be converted (malformed line, missing field, unknown schema, nothing left)."""


class RegistryError(ConvertError):
    """dataset_info.json cannot be read, or an entry for it is not a valid LLaMA-Factory entry."""
