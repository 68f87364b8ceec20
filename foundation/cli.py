"""One wrapper for every CLI's ``main``: a project error becomes one line on stderr and exit code 2.

    @cli_main
    def main(argv=None) -> int: ...

Raise a :class:`~foundation.errors.ToolkitError` subclass anywhere below ``main``; the wrapper
prints ``error: <where>: <what>; <fix>`` and returns 2 (argparse's code for a usage error: bad
input is for the person running the command to fix). Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec

from foundation.errors import ToolkitError
from foundation.redact import redact

EXIT_ERROR = 2

P = ParamSpec("P")


def report(err: ToolkitError, prog: str | None = None) -> int:
    """Print ``err`` as the CLIs do and return the exit code."""
    text = redact(str(err))  # an endpoint's error may quote the key or a URL with credentials
    print(f"{prog}: error: {text}" if prog else f"error: {text}", file=sys.stderr)
    return EXIT_ERROR


def cli_main(fn: Callable[P, int]) -> Callable[P, int]:
    """Decorate a CLI's ``main``: ToolkitError → one line on stderr, exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return fn(*args, **kwargs)
        except ToolkitError as err:
            return report(err)

    return wrapper
