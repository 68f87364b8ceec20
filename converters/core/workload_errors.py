"""Errors of the workload converters (tool traces, search traces, pre-sampling).

Each is one readable line naming the file, line or key and the fix; the CLIs print it and exit 2.
"""

from __future__ import annotations

from converters.core.errors import ConvertError


class WorkloadError(ConvertError):
    """Base of the workload converters' errors."""


class ToolSchemaError(WorkloadError):
    """A tool schema file cannot be read or declares an invalid tool."""


class TraceInputError(WorkloadError):
    """Trace logs or search traces cannot be used (missing, empty, nothing convertible)."""


class PresampleError(WorkloadError):
    """Parquet inputs, column mapping or sampling options cannot be used."""
